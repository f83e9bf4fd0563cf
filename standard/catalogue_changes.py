"""What changed between two catalogues, item by item: added, removed, limits, other fields.

``import_workbook`` (``standard/catalogue_workbook.py``) reports it after writing the catalogue
read from a workbook: ``hallwatch edge catalogue import`` and ``hallwatch hub catalogue import``.

Example::

    old = load_catalogue(Path("catalogue.json"))
    changes = catalogue_changes(old, result.by_code())
    print("\\n".join(changes.lines(result.by_code(), old)))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from standard.records import CatalogueItem

LIMIT_FIELDS = {"legal_days": "法定时限", "promised_days": "承诺时限"}
OTHER_FIELDS = {"name": "名称", "dept_code": "部门", "fee_yuan": "收费标准", "case_type": "办件类型",
                "materials": "申请材料", "legal_basis": "设定依据"}


@dataclass
class CatalogueChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    limits: list[tuple[str, str, int, int]] = field(default_factory=list)  # code, field, old, new
    changed: list[tuple[str, list[str]]] = field(default_factory=list)  # code, other fields

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.limits or self.changed)

    def lines(self, new: dict[str, CatalogueItem], old: dict[str, CatalogueItem]) -> list[str]:
        """The change report in Chinese, one line per item."""
        out = [f"新增事项 {len(self.added)} 项，删除 {len(self.removed)} 项，时限变更 "
               f"{len({c for c, *_ in self.limits})} 项，其他内容变更 {len(self.changed)} 项"]
        out += [f"  + {code} {new[code].name}" for code in self.added]
        out += [f"  - {code} {old[code].name}" for code in self.removed]
        out += [f"  * {code} {new[code].name} {LIMIT_FIELDS[name]} {before} → {after} 个工作日"
                for code, name, before, after in self.limits]
        out += [f"  ~ {code} {new[code].name}：{'、'.join(OTHER_FIELDS[n] for n in names)}"
                for code, names in self.changed]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed,
                "limits": [{"item_code": c, "field": f, "old": a, "new": b}
                           for c, f, a, b in self.limits],
                "changed": [{"item_code": c, "fields": f} for c, f in self.changed]}


def catalogue_changes(old: dict[str, CatalogueItem], new: dict[str, CatalogueItem]
                      ) -> CatalogueChanges:
    """Items added, removed, limits changed and other fields changed, by item code."""
    changes = CatalogueChanges(added=sorted(new.keys() - old.keys()),
                               removed=sorted(old.keys() - new.keys()))
    for code in sorted(new.keys() & old.keys()):
        before, after = old[code], new[code]
        for name in LIMIT_FIELDS:
            if getattr(before, name) != getattr(after, name):
                changes.limits.append((code, name, getattr(before, name), getattr(after, name)))
        others = [n for n in OTHER_FIELDS if getattr(before, n) != getattr(after, n)]
        if others:
            changes.changed.append((code, others))
    return changes
