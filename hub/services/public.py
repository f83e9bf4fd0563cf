"""What the public portal may read: published scores, department rates, the service guide.

Nothing here takes a user's scope: the portal shows the whole city, and only data that is
public by design (published scores, aggregate rates, the catalogue's 六公开 content).

Example::

    rates = department_rates(data, "2026-10")
    rates[0]["name"], rates[0]["city"]["satisfaction"]
"""

from __future__ import annotations

from typing import Any

from hub.services import HubData, Scope
from hub.services.departments import _period_rates
from hub.units import dept_suffix
from standard.districts import DISTRICTS


def department_rates(data: HubData, month: str) -> list[dict[str, Any]]:
    """Per department (suffix): the month's rates city-wide and per district."""
    where, params = Scope.city().sql()
    city = _period_rates(data, where, params, "dept_suffix", month)
    per_district = _period_rates(data, where, params, "dept_suffix || '|' || district_code",
                                 month)
    names = data.dept_names()
    rows = []
    for suffix in sorted(set(names) | set(city)):
        if not suffix:
            continue
        rows.append({"suffix": suffix, "name": names.get(suffix, suffix),
                     "city": city.get(suffix),
                     "districts": {code: per_district.get(f"{suffix}|{code}")
                                   for code in DISTRICTS}})
    return rows


def service_guide(data: HubData, district: str | None = None,
                  dept: str | None = None) -> list[dict[str, Any]]:
    """Catalogue items grouped by district and department, for the 办事指南 list."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for code, item in sorted(data.catalogue.items()):
        item_district = item.dept_code[:6] if item.dept_code[:6] in DISTRICTS else ""
        suffix = dept_suffix(item.dept_code, item_district)
        if (district and item_district != district) or (dept and suffix != dept):
            continue
        group = groups.setdefault((item_district, suffix), {
            "district": DISTRICTS.get(item_district, "市本级"), "dept_name": item.dept_name,
            "suffix": suffix, "items": []})
        group["items"].append(item)
    return list(groups.values())
