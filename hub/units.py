"""Who a record belongs to at the hub: district, department, department across districts; months.

Department codes in the city catalogue are the district code followed by the department's
short code (``440605SCJ`` is 南海区市场监督管理局). The *department suffix* (``SCJ``) is what
the same department shares across the five districts: vertical supervision (两纵) by a city
department is a filter on the suffix.

Example::

    >>> dept_suffix("440605SCJ", "440605")
    'SCJ'
    >>> dept_suffix("NHSCJ", "440605")   # a code without the district prefix is its own suffix
    'NHSCJ'
    >>> month_bounds("2026-10")
    (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
"""

from __future__ import annotations

import datetime as dt
import re

from standard.catalogue import departments
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ, CatalogueItem

MONTH_PATTERN = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


class BadMonth(ValueError):
    """A month that is not written YYYY-MM."""


def dept_suffix(dept_code: str | None, district_code: str | None) -> str:
    """The department's code without its district prefix (the cross-district key)."""
    code = dept_code or ""
    if district_code and code.startswith(district_code) and len(code) > len(district_code):
        return code[len(district_code):]
    return code


def local_date_of(moment: str | None) -> str | None:
    """The local (+08:00) ISO date of an ISO timestamp; None for None or garbage."""
    if not moment:
        return None
    try:
        value = dt.datetime.fromisoformat(moment)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(LOCAL_TZ).date().isoformat()


def parse_month(text: str) -> str:
    """Check ``YYYY-MM``; the error names the expected form."""
    if not isinstance(text, str) or not MONTH_PATTERN.match(text.strip()):
        raise BadMonth(f"月份格式应为 YYYY-MM，例如 2026-10 (month {text!r} is not YYYY-MM)")
    return text.strip()


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a ``YYYY-MM`` month."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    first = dt.date(year, number, 1)
    following = dt.date(year + (number == 12), number % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def months_of(year: int, period: str) -> list[str]:
    """The months of a period: ``Q1``..``Q4``, ``H1``, ``H2`` or ``Y``."""
    spans = {"Q1": (1, 3), "Q2": (4, 6), "Q3": (7, 9), "Q4": (10, 12), "H1": (1, 6),
             "H2": (7, 12), "Y": (1, 12)}
    if period not in spans:
        raise BadMonth(f"未知期间 {period} (period must be one of {', '.join(spans)})")
    first, last = spans[period]
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def unit_registry() -> dict[str, str]:
    """The city's units (各区, and 市本级 once registered): code → name.

    Scores, rankings and the portal list units from here, so a unit added to the registry
    appears everywhere without further changes.
    """
    return dict(DISTRICTS)


def unit_of_dept(dept_code: str | None) -> str:
    """The unit (district) code a full department code starts with; "" when it has none.

    >>> unit_of_dept("440605SCJ"), unit_of_dept("SCJ")
    ('440605', '')
    """
    code = dept_code or ""
    return code[:6] if len(code) > 6 and code[:6].isdigit() else ""


def month_is_over(month: str, today: dt.date) -> bool:
    """True once the month's last (local) day has passed."""
    return today > month_bounds(month)[1]


def previous_month(today: dt.date) -> str:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


def department_names(catalogue: dict[str, CatalogueItem]) -> dict[str, str]:
    """Department suffix → name (市场监督管理局), from the catalogue."""
    names: dict[str, str] = {}
    for code, name in departments(catalogue).items():
        district = code[:6] if code[:6].isdigit() else ""
        names.setdefault(dept_suffix(code, district), name)
    return names


def dept_code_names(catalogue: dict[str, CatalogueItem]) -> dict[str, str]:
    """Full department code → name (a participating department of a joint item counts too)."""
    return departments(catalogue)
