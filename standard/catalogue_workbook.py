"""A province-style Excel catalogue (事项目录) as catalogue JSON, row by row.

Provinces publish the item list as a workbook whose columns carry Chinese headers:
事项编码, 事项名称, 实施部门 and its code, 法定办结时限, 承诺办结时限, 收费标准, 办件类型,
申请材料, 设定依据, or one of their common variants. :func:`read_workbook` finds the header row
(a title row above it is normal), reads every row into a :class:`CatalogueItem` and collects
each row's problems by row number and column; duplicates and impossible limits are problems
too. A :class:`WorkbookMapping` (``--mapping`` TOML) names the columns of a workbook whose
headers are not recognised. :func:`import_workbook` writes the catalogue JSON and reports
what changed against the catalogue in force (``standard/catalogue_changes.py``). Both the box
(``hallwatch edge catalogue import``) and the hub (``hallwatch hub catalogue import``) call
these.

Example::

    result = read_workbook(Path("省级事项目录.xlsx"))
    if result.problems:
        print("\\n".join(p.text() for p in result.problems))
    lines = import_workbook(Path("省级事项目录.xlsx"), Path("catalogue.json"))
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from standard.catalogue_changes import catalogue_changes
from standard.configfile import ConfigError, Section, load_toml
from standard.problems import field_problems
from standard.records import CaseType, Catalogue, CatalogueItem

# Standard field → the headers province workbooks use for it (compared without spaces, "*"
# and anything in brackets: "法定办结时限（工作日）" is 法定办结时限).
HEADERS: dict[str, tuple[str, ...]] = {
    "item_code": ("事项编码", "事项代码", "实施编码", "事项实施编码", "实施清单编码", "业务办理项编码",
                  "基本编码", "编码"),
    "name": ("事项名称", "实施事项名称", "事项实施名称", "业务办理项名称", "名称"),
    "dept_name": ("实施部门", "实施主体", "实施主体名称", "实施机构", "办理部门", "部门名称", "部门"),
    "dept_code": ("实施部门编码", "实施部门代码", "实施主体编码", "实施主体代码", "实施机构编码",
                  "部门编码", "部门代码"),
    "legal_days": ("法定办结时限", "法定时限", "法定期限", "法定办理时限", "法定办结期限"),
    "promised_days": ("承诺办结时限", "承诺时限", "承诺期限", "承诺办理时限", "承诺办结期限"),
    "fee_yuan": ("收费标准", "收费金额", "是否收费及收费标准", "收费情况", "收费"),
    "case_type": ("办件类型", "办理类型", "件类型"),
    "materials": ("申请材料", "申请材料目录", "申请材料清单", "材料清单", "所需材料"),
    "legal_basis": ("设定依据", "法律依据", "实施依据", "设定和实施依据", "依据"),
}
COLUMN_NAMES = {"item_code": "事项编码", "name": "事项名称", "dept_name": "实施部门",
                "dept_code": "实施部门编码", "legal_days": "法定办结时限",
                "promised_days": "承诺办结时限", "fee_yuan": "收费标准", "case_type": "办件类型",
                "materials": "申请材料", "legal_basis": "设定依据"}
REQUIRED_COLUMNS = ("item_code", "name", "dept_name", "dept_code", "legal_days",
                    "promised_days", "legal_basis")
HEADER_SCAN_ROWS = 10
IMMEDIATE = ("即办", "即时办结", "当场办结", "即来即办", "立即办结", "当场")
FREE = ("", "0", "不收费", "免费", "无", "否", "不收取", "免收")
CASE_TYPES = {c.value: c.value for c in CaseType} | {c.value[:-1]: c.value for c in CaseType}
_BRACKETS = re.compile(r"[（(【\[].*?[)）】\]]")
_DAYS = re.compile(r"^(\d{1,3})\s*(?:个)?\s*(?:工作日|日|天)?$")
_YUAN = re.compile(r"^(\d{1,9}(?:\.\d{1,2})?)\s*元?$")
_NUMBERING = re.compile(r"^\s*(?:\d+[.、．)]|[（(]\d+[)）])\s*")


class WorkbookError(Exception):
    """The workbook cannot be read at all (not XLSX, no header row, a missing sheet)."""


class CatalogueColumns(Section):
    """Catalogue field = the workbook's header for it (for headers not recognised)."""

    item_code: str | None = None
    name: str | None = None
    dept_name: str | None = None
    dept_code: str | None = None
    legal_days: str | None = None
    promised_days: str | None = None
    fee_yuan: str | None = None
    case_type: str | None = None
    materials: str | None = None
    legal_basis: str | None = None


class WorkbookMapping(Section):
    """``--mapping`` for a catalogue workbook: sheet, header row, columns, defaults."""

    version: Literal[1] = 1
    sheet: str | None = None
    header_row: int | None = Field(default=None, ge=1, le=1000)
    columns: CatalogueColumns = CatalogueColumns()
    defaults: dict[Literal["case_type", "fee_yuan", "legal_basis", "dept_name",
                           "dept_code"], str] = Field(default_factory=dict)


def load_workbook_mapping(path: Path) -> WorkbookMapping:
    """The mapping TOML; ConfigError names the key and the fix."""
    return load_toml(path, WorkbookMapping)


@dataclass
class RowProblem:
    row: int  # as Excel numbers it
    column: str
    message: str

    def text(self) -> str:
        return f"第 {self.row} 行 {self.column}：{self.message}"


@dataclass
class WorkbookImport:
    items: list[CatalogueItem] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field → header found
    notes: list[str] = field(default_factory=list)

    def by_code(self) -> dict[str, CatalogueItem]:
        return {item.item_code: item for item in self.items}

    def document(self) -> dict[str, Any]:
        """The catalogue JSON document (``{"version": 1, "items": [...]}``)."""
        return {"version": 1, "items": [item.model_dump(mode="json", exclude_defaults=True)
                                        for item in self.items]}


def normalise_header(text: Any) -> str:
    value = "" if text is None else str(text)
    return _BRACKETS.sub("", value).replace("*", "").replace(" ", "").replace("\u3000", "") \
        .replace("\n", "").strip()


def recognise(headers: list[Any], mapping: WorkbookMapping | None = None, *,
              strict: bool = True) -> dict[str, int]:
    """Field → column index for a header row, by the mapping first, then the usual names.

    ``strict``: a header the mapping names but the row lacks is an error (else skipped).
    """
    normal = [normalise_header(h) for h in headers]
    found: dict[str, int] = {}
    chosen = mapping.columns.model_dump() if mapping else {}
    for name, header in chosen.items():
        if header:
            target = normalise_header(header)
            if target not in normal:
                if not strict:
                    continue
                raise WorkbookError(f"--mapping columns.{name} = \"{header}\": 工作簿表头中没有这一列 "
                                    f"(no such header; the headers are: {'、'.join(filter(None, normal))})")
            found[name] = normal.index(target)
    for name, names in HEADERS.items():
        if name in found:
            continue
        for variant in names:  # most specific first: "实施部门编码" before "实施部门"
            if variant in normal and normal.index(variant) not in found.values():
                found[name] = normal.index(variant)
                break
    return found


def read_workbook(path: Path, mapping: WorkbookMapping | None = None,
                  current: dict[str, CatalogueItem] | None = None) -> WorkbookImport:
    """Every row of the workbook as a catalogue item, or the problems that stop it.

    ``current``: the catalogue in force; per-stage limits and 联办 departments (which province
    workbooks do not carry) are kept from it for items still present.
    """
    rows = _sheet_rows(path, mapping)
    header_at, columns = _header(rows, mapping)
    missing = [COLUMN_NAMES[n] for n in REQUIRED_COLUMNS
               if n not in columns and n not in (mapping.defaults if mapping else {})]
    if missing:
        raise WorkbookError(f"第 {header_at} 行是表头，但缺少这些列：{'、'.join(missing)}（可用 "
                            f"--mapping 指定列名） (columns missing: use --mapping)")
    result = WorkbookImport(columns={n: str(rows[header_at - 1][i]) for n, i in columns.items()})
    if "case_type" not in columns and not (mapping and "case_type" in mapping.defaults):
        result.notes.append("工作簿没有办件类型列：时限为 0 的事项按即办件，其余按承诺件")
    seen: dict[str, int] = {}
    for number, values in enumerate(rows[header_at:], start=header_at + 1):
        if not any(_text(v) for v in values):
            continue
        item = _row_item(number, values, columns, mapping, current or {}, result)
        if item is None:
            continue
        if item.item_code in seen:
            result.problems.append(RowProblem(number, _header_of(result, "item_code"),
                                              f"事项编码 {item.item_code} 与第 {seen[item.item_code]} "
                                              "行重复 (duplicate item code)"))
            continue
        seen[item.item_code] = number
        result.items.append(item)
    if not result.items and not result.problems:
        raise WorkbookError(f"表头（第 {header_at} 行）下没有事项 (no items below the header)")
    return result


def _sheet_rows(path: Path, mapping: WorkbookMapping | None) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML, anything: not a workbook we can read
        raise WorkbookError(f"{path}: 不是可读的 XLSX 工作簿 (not a readable .xlsx: {exc})") from None
    try:
        sheet = mapping.sheet if mapping else None
        if sheet is not None and sheet not in book.sheetnames:
            raise WorkbookError(f"--mapping sheet = \"{sheet}\": 没有这个工作表 (sheets: "
                                f"{'、'.join(book.sheetnames)})")
        ws = book[sheet] if sheet else book.worksheets[0]
        return [tuple(row) for row in ws.iter_rows(values_only=True)]
    finally:
        book.close()


def _header(rows: list[tuple[Any, ...]], mapping: WorkbookMapping | None
            ) -> tuple[int, dict[str, int]]:
    if mapping and mapping.header_row:
        if mapping.header_row > len(rows):
            raise WorkbookError(f"--mapping header_row = {mapping.header_row}: 工作表只有 "
                                f"{len(rows)} 行")
        return mapping.header_row, recognise(list(rows[mapping.header_row - 1]), mapping)
    best: tuple[int, dict[str, int]] = (0, {})
    for number, values in enumerate(rows[:HEADER_SCAN_ROWS], start=1):
        found = recognise(list(values), mapping, strict=False)
        if len(found) > len(best[1]):
            best = (number, found)
    if best[0] and mapping is not None:  # the mapping's columns must all be in that row
        best = (best[0], recognise(list(rows[best[0] - 1]), mapping))
    if "item_code" not in best[1] or "name" not in best[1]:
        raise WorkbookError("前 10 行中找不到表头（需要“事项编码”“事项名称”等列；表头不同时用 "
                            "--mapping 指定） (no header row found: use --mapping)")
    return best


def _header_of(result: WorkbookImport, name: str) -> str:
    return result.columns.get(name) or COLUMN_NAMES[name]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _row_item(number: int, values: tuple[Any, ...], columns: dict[str, int],
              mapping: WorkbookMapping | None, current: dict[str, CatalogueItem],
              result: WorkbookImport) -> CatalogueItem | None:
    raw = {name: _text(values[i]) if i < len(values) else "" for name, i in columns.items()}
    for name, value in (mapping.defaults.items() if mapping else ()):
        if not raw.get(name):
            raw[name] = value
    data: dict[str, Any] = {k: raw.get(k, "") for k in ("item_code", "name", "dept_name",
                                                         "dept_code", "legal_basis")}
    problems = []
    for name in ("legal_days", "promised_days"):
        try:
            data[name] = _days(raw.get(name, ""))
        except ValueError as exc:
            problems.append(RowProblem(number, _header_of(result, name), str(exc)))
    try:
        data["fee_yuan"] = _fee(raw.get("fee_yuan", ""))
    except ValueError as exc:
        problems.append(RowProblem(number, _header_of(result, "fee_yuan"), str(exc)))
    kind = raw.get("case_type", "")
    if kind:
        data["case_type"] = CASE_TYPES.get(kind, kind)
    else:
        data["case_type"] = "即办件" if data.get("promised_days") == 0 else "承诺件"
    data["materials"] = _materials(raw.get("materials", ""))
    known = current.get(data["item_code"])
    if known is not None:
        data["stage_days"] = dict(known.stage_days)
        if known.joint_depts and data["case_type"] == CaseType.JOINT.value:
            data["joint_depts"] = [d.model_dump() for d in known.joint_depts]
    if problems:
        result.problems.extend(problems)
        return None
    try:
        return CatalogueItem.model_validate_json(json.dumps(data, ensure_ascii=False))
    except ValidationError as exc:
        for problem in field_problems(exc):
            name = problem["field"].split(".")[0]
            column = _header_of(result, name) if name in COLUMN_NAMES else problem["field"]
            result.problems.append(RowProblem(number, column, problem["message"]))
        return None


def _days(text: str) -> int:
    if text in IMMEDIATE:
        return 0
    match = _DAYS.match(text)
    if not match:
        shown = f"“{text}”" if text else "为空"
        raise ValueError(f"{shown}，不是工作日数：写数字（如 20 或“20个工作日”），即办写 0 "
                         "(not a number of working days)")
    return int(match[1])


def _fee(text: str) -> str:
    if text in FREE:
        return "0.00"
    match = _YUAN.match(text.replace(",", ""))
    if not match:
        raise ValueError(f"“{text[:40]}”不是金额：写元数（如 20 或 20.00），不收费写 0 "
                         "(not an amount in yuan)")
    try:
        return f"{Decimal(match[1]):.2f}"
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ValueError(f"“{text}”不是金额") from None


def _materials(text: str) -> list[str]:
    parts = re.split(r"[\n;；]+", text)
    return [cleaned for part in parts if (cleaned := _NUMBERING.sub("", part).strip())]


def import_workbook(path: Path, out: Path, *, mapping: Path | None = None,
                    current: Path | None = None) -> list[str]:
    """Read the workbook, write the catalogue JSON to ``out``, return the report lines.

    The catalogue in force is ``current``, or ``out`` when it exists. Raises WorkbookError
    (nothing written) when the workbook cannot be read or any row is refused; the message
    lists every refused row.
    """
    from standard.catalogue import load_catalogue

    rules = load_workbook_mapping(mapping) if mapping else None
    in_force_path = current or (out if out.exists() else None)
    in_force = load_catalogue(in_force_path) if in_force_path else {}
    result = read_workbook(path, rules, in_force)
    if result.problems:
        shown = "\n  ".join(p.text() for p in result.problems[:200])
        more = len(result.problems) - 200
        raise WorkbookError(f"{path}: {len(result.problems)} 行有问题，未写出目录 (nothing written):"
                            f"\n  {shown}" + (f"\n  …另有 {more} 条" if more > 0 else ""))
    document = result.document()
    Catalogue.model_validate_json(json.dumps(document, ensure_ascii=False))  # as the box reads it
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    lines = [f"已从 {path.name} 读取 {len(result.items)} 个事项，写入 {out}"]
    lines += [f"注意：{note}" for note in result.notes]
    if in_force_path:
        lines.append(f"与现行目录 {in_force_path} 相比：")
        lines += catalogue_changes(in_force, result.by_code()).lines(result.by_code(), in_force)
    return lines


__all__ = ["ConfigError", "RowProblem", "WorkbookError", "WorkbookImport", "WorkbookMapping",
           "import_workbook", "load_workbook_mapping", "read_workbook"]
