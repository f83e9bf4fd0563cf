"""The hub's query layer: every function takes a :class:`Scope` and filters in SQL.

Scoping follows the seed's 两横两纵 (DESIGN.md):

- ``city`` 市监察局, no scope: every district, every department, boxes, publication;
- ``district`` 区监察室, scope a district code (440605): that district only, all its
  departments and boxes;
- ``department`` 市直部门, scope department suffixes (``SCJ`` or ``SCJ,WJJ``): those
  departments' cases, cards and ratings in every district; no boxes;
- ``department`` with full department codes of one unit (``440605SCJ``, 区审批部门): that
  department in that district only (the district and the suffix together); no boxes.

A department suffix is the department code without its district prefix (hub/units.py): the
department ``440605SCJ`` is ``SCJ`` in 南海区, and a city department user with scope ``SCJ``
sees ``440604SCJ`` … ``440608SCJ``. Pages never filter rows themselves: a row outside the scope
is never read, and a case outside it is "not found" (404), not "forbidden".

Example::

    scope = Scope.district("440605")
    where, params = scope.sql()
    store.query(f"select count(*) from hub_cases where {where}", params)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hub.units import department_names, dept_code_names
from standard.calendar import WorkCalendar
from standard.deadlines import LightSettings
from standard.districts import (
    DISTRICTS,
    UnknownDepartment,
    check_dept_scope,
    known_units,
    split_dept_code,
)
from standard.records import LOCAL_TZ, CatalogueItem

HUB_ROLES: dict[str, str] = {"city": "市监察局", "district": "区监察室", "department": "市直部门"}
_SUFFIX = re.compile(r"^[0-9A-Za-z._\-]{1,32}$")


class ScopeError(ValueError):
    """A user's role and scope do not fit together (e.g. a district user without a district)."""


class NotFound(LookupError):
    """The thing does not exist, or is outside the asker's scope (the same answer for both)."""


@dataclass(frozen=True)
class Scope:
    """Which districts and departments a user may see; empty tuples mean "all"."""

    role: str
    districts: tuple[str, ...] = ()
    depts: tuple[str, ...] = ()

    @classmethod
    def city(cls) -> Scope:
        return cls("city")

    @classmethod
    def district(cls, code: str) -> Scope:
        return cls("district", districts=(code,))

    @classmethod
    def department(cls, *suffixes: str) -> Scope:
        return cls("department", depts=tuple(suffixes))

    @classmethod
    def for_user(cls, role: str, scope_text: str | None) -> Scope:
        """The scope of a user from its role and stored scope text; raises ScopeError."""
        text = (scope_text or "").strip()
        if role == "city":
            if text:
                raise ScopeError("市监察局用户不设范围 (a city user has no --scope)")
            return cls.city()
        if role == "district":
            if text not in DISTRICTS:
                known = "、".join(f"{code} {name}" for code, name in DISTRICTS.items())
                raise ScopeError(f"区监察室用户须指定所属区的代码（--scope），可选：{known} "
                                 f"(district users need --scope with a district code)")
            return cls.district(text)
        if role == "department":
            return cls._department(text)
        raise ScopeError(f"角色 {role!r} 无效，可选：{'、'.join(HUB_ROLES)}")

    @classmethod
    def _department(cls, text: str) -> Scope:
        """``SCJ,WJJ`` (in every unit) or ``440605SCJ`` (that department of one unit)."""
        parts = tuple(dict.fromkeys(p.strip().upper() for p in text.split(",") if p.strip()))
        if not parts or not all(_SUFFIX.match(p) for p in parts):
            raise ScopeError("部门用户须指定部门代码（--scope），如 SCJ 或 SCJ,WJJ（各区的该部门），"
                             "或 440605SCJ（南海区的该部门）(department users need --scope with "
                             "department codes)")
        units = {split_dept_code(part)[0] for part in parts}
        if units == {""}:
            return cls.department(*parts)
        if len(units) > 1 or "" in units:
            raise ScopeError(f"部门范围 {text} 须全部是同一个区的部门代码（如 440605SCJ,440605WJJ），"
                             "或全部是不带区代码的部门代码（如 SCJ,WJJ）(a department scope names "
                             "departments of one district, or suffixes only)")
        (unit,) = units
        if unit not in DISTRICTS:
            raise ScopeError(f"区代码 {unit} 不存在（可选：{known_units()}）(unknown district "
                             f"{unit} in {text})")
        return cls("department", districts=(unit,),
                   depts=tuple(split_dept_code(part)[1] for part in parts))

    def check_known(self, known_depts: Iterable[str]) -> None:
        """ScopeError naming the department (or its district) that no catalogue knows."""
        known = set(known_depts)
        suffixes = {split_dept_code(code)[1] for code in known}
        for dept in self.depts:
            if self.districts:
                try:
                    check_dept_scope(self.districts[0] + dept, known)
                except UnknownDepartment as exc:
                    raise ScopeError(str(exc)) from None
            elif dept not in suffixes:
                raise ScopeError(f"部门 {dept} 不在任何区的事项目录中 (no catalogue has a "
                                 f"department {dept})")

    @property
    def text(self) -> str:
        if self.districts and self.depts:  # one department of one unit: 440605SCJ
            return ",".join(self.districts[0] + dept for dept in self.depts)
        return ",".join(self.districts or self.depts)

    @property
    def is_city(self) -> bool:
        return self.role == "city"

    @property
    def sees_boxes(self) -> bool:
        """Boxes and windows belong to a district, not to a department."""
        return not self.depts

    def sql(self, district_col: str = "district_code",
            dept_col: str | None = "dept_suffix") -> tuple[str, list[str]]:
        """A WHERE fragment and its parameters; ``dept_col=None`` for tables without one."""
        clauses: list[str] = []
        params: list[str] = []
        if self.districts:
            clauses.append(f"{district_col} in ({', '.join('?' * len(self.districts))})")
            params += self.districts
        if self.depts:
            if dept_col is None:
                return "1 = 0", []
            clauses.append(f"{dept_col} in ({', '.join('?' * len(self.depts))})")
            params += self.depts
        return (" and ".join(clauses) or "1 = 1"), params

    def allows(self, district: str | None, dept: str | None = None) -> bool:
        """The same rule as :meth:`sql`, for one row already in hand."""
        if self.districts and district not in self.districts:
            return False
        return not self.depts or dept in self.depts

    def visible_districts(self) -> dict[str, str]:
        return {code: name for code, name in DISTRICTS.items()
                if not self.districts or code in self.districts}

    def describe(self) -> str:
        if self.districts and self.depts:
            return f"{DISTRICTS.get(self.districts[0], self.districts[0])} {'、'.join(self.depts)}"
        if self.districts:
            return "、".join(DISTRICTS.get(code, code) for code in self.districts)
        if self.depts:
            return "各区 " + "、".join(self.depts)
        return "全市"


@dataclass
class HubData:
    """What the query functions read: the store, the catalogue, the calendar, the clock."""

    store: object  # hub.store.HubStore
    catalogue: dict[str, CatalogueItem]
    calendar: WorkCalendar
    clock: Callable[[], dt.datetime]
    settings: LightSettings = field(default_factory=LightSettings)
    online_seconds: float = 10.0
    city_name: str = "佛山市"

    def query(self, sql: str, params: tuple | list = ()) -> list[dict]:
        return self.store.query(sql, tuple(params))

    @property
    def dialect(self):
        """SQL fragments that differ between the engines (hub/storage/dialect.py)."""
        return self.store.dialect

    def today(self) -> dt.date:
        return self.clock().astimezone(LOCAL_TZ).date()

    def month(self) -> str:
        today = self.today()
        return f"{today.year}-{today.month:02d}"

    def dept_names(self) -> dict[str, str]:
        """Department suffix → name."""
        return department_names(self.catalogue)

    def dept_code_names(self) -> dict[str, str]:
        return dept_code_names(self.catalogue)

    def item_name(self, item_code: str) -> str:
        item = self.catalogue.get(item_code)
        return item.name if item else item_code
