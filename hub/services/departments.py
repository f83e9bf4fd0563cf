"""Drill-down: a district's departments, one department across districts, one item.

The cross-district view answers "is 市场监督管理局 slower in 顺德 than in 南海?": for the same
department (its suffix) and the same item (its code without the district prefix, ``SCJ-001``),
per district: cases concluded in the period, average handling time in working days, the
overdue rate (concluded late over concluded with a deadline), the early-completion rate and the
satisfaction rate (ratings counted, 满意 and 非常满意 over all counted).

Example::

    view = department_view(data, Scope.city(), "SCJ", "2026-10")
    view.items[0]["districts"]["440605"]["avg_days"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.services import HubData, NotFound, Scope
from hub.services.overview import _ACTIVE, LIGHT_KEYS
from hub.units import dept_suffix, month_bounds
from standard.districts import DISTRICTS


def item_key(item_code: str) -> str:
    """The item without its district prefix: ``440605-SCJ-001`` → ``SCJ-001``."""
    head, _, rest = item_code.partition("-")
    return rest if head.isdigit() and len(head) == 6 and rest else item_code


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    finished = row.get("finished") or 0
    with_deadline = row.get("with_deadline") or 0
    handling_n = row.get("handling_n") or 0
    counted = row.get("counted") or 0
    return {
        "finished": finished,
        "avg_days": round(row["handling_days"] / handling_n, 1) if handling_n else None,
        "overdue_rate": row["late"] / with_deadline if with_deadline else None,
        "early_rate": row["early"] / with_deadline if with_deadline else None,
        "satisfaction": row["satisfied"] / counted if counted else None,
        "counted": counted,
    }


def _lights_by(data: HubData, where: str, params: list, key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for row in data.query(f"select {key} as k, light, count(*) as n from hub_cases"
                          f" where is_open = 1 and {where} group by {key}, light", params):
        lights = out.setdefault(row["k"], dict.fromkeys(LIGHT_KEYS, 0))
        lights[row["light"] if row["light"] in LIGHT_KEYS else "unknown"] += row["n"]
    return out


def _cards_by(data: HubData, where: str, params: list, key: str) -> dict[str, dict[str, int]]:
    today = data.today().isoformat()
    out: dict[str, dict[str, int]] = {}
    for row in data.query(
            f"select {key} as k, card, count(*) as n,"
            " sum(case when card_due < ? then 1 else 0 end) as overdue"
            f" from hub_alerts where card is not null and state in {_ACTIVE} and {where}"
            f" group by {key}, card", [today, *params]):
        cards = out.setdefault(row["k"], {"yellow": 0, "red": 0, "overdue": 0})
        if row["card"] in ("yellow", "red"):
            cards[row["card"]] += row["n"]
            cards["overdue"] += row["overdue"] or 0
    return out


def _period_rates(data: HubData, where: str, params: list, key: str,
                  month: str) -> dict[str, dict[str, Any]]:
    first, last = (day.isoformat() for day in month_bounds(month))
    out: dict[str, dict[str, Any]] = {}
    for row in data.query(
            f"select {key} as k, sum(finished) as finished, sum(with_deadline) as with_deadline,"
            " sum(early) as early, sum(late) as late, sum(handling_days) as handling_days,"
            " sum(handling_n) as handling_n from hub_case_daily"
            f" where day between ? and ? and {where} group by {key}", [first, last, *params]):
        out[row["k"]] = dict(row)
    for row in data.query(
            f"select {key} as k, sum(counted) as counted, sum(satisfied) as satisfied"
            f" from hub_rating_daily where day between ? and ? and {where} group by {key}",
            [first, last, *params]):
        out.setdefault(row["k"], {}).update(row)
    empty = {"finished": 0, "with_deadline": 0, "early": 0, "late": 0, "handling_days": 0,
             "handling_n": 0, "counted": 0, "satisfied": 0}
    return {k: _rates({**empty, **v}) for k, v in out.items()}


@dataclass
class DistrictView:
    code: str
    name: str
    month: str
    departments: list[dict[str, Any]] = field(default_factory=list)


def district_view(data: HubData, scope: Scope, code: str, month: str) -> DistrictView:
    """A district's departments: open cases by light, cards, the month's rates."""
    if code not in DISTRICTS or code not in scope.visible_districts():
        raise NotFound(f"区 {code} 不存在或不在您的监察范围内")
    where, params = scope.sql()
    where, params = f"district_code = ? and {where}", [code, *params]
    lights = _lights_by(data, where, params, "dept_suffix")
    cards = _cards_by(data, where, params, "dept_suffix")
    rates = _period_rates(data, where, params, "dept_suffix", month)
    names = data.dept_names()
    suffixes = sorted(set(lights) | set(cards) | set(rates)
                      | {s for s in names if scope.allows(code, s)})
    view = DistrictView(code, DISTRICTS[code], month)
    for suffix in suffixes:
        if not suffix or not scope.allows(code, suffix):
            continue
        view.departments.append({
            "suffix": suffix, "name": names.get(suffix, suffix),
            "lights": lights.get(suffix, dict.fromkeys(LIGHT_KEYS, 0)),
            "cards": cards.get(suffix, {"yellow": 0, "red": 0, "overdue": 0}),
            "rates": rates.get(suffix, _rates({"finished": 0, "with_deadline": 0, "early": 0,
                                                "late": 0, "handling_days": 0, "handling_n": 0,
                                                "counted": 0, "satisfied": 0}))})
    return view


@dataclass
class DepartmentView:
    suffix: str
    name: str
    month: str
    districts: dict[str, str]
    per_district: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


def department_view(data: HubData, scope: Scope, suffix: str, month: str) -> DepartmentView:
    """The same department in every district the scope sees, and its items side by side."""
    names = data.dept_names()
    home = scope.districts[0] if scope.districts else None
    if not scope.allows(home, suffix) or (suffix not in names and not data.query(
            "select 1 from hub_cases where dept_suffix = ? limit 1", (suffix,))):
        raise NotFound(f"部门 {suffix} 不存在或不在您的监察范围内")
    where, params = scope.sql()
    where, params = f"dept_suffix = ? and {where}", [suffix, *params]
    districts = scope.visible_districts()
    view = DepartmentView(suffix, names.get(suffix, suffix), month, districts)
    lights = _lights_by(data, where, params, "district_code")
    cards = _cards_by(data, where, params, "district_code")
    rates = _period_rates(data, where, params, "district_code", month)
    for code in districts:
        view.per_district[code] = {
            "lights": lights.get(code, dict.fromkeys(LIGHT_KEYS, 0)),
            "cards": cards.get(code, {"yellow": 0, "red": 0, "overdue": 0}),
            "rates": rates.get(code)}
    view.items = _item_matrix(data, scope, suffix, month, districts)
    return view


def _item_matrix(data: HubData, scope: Scope, suffix: str, month: str,
                 districts: dict[str, str]) -> list[dict[str, Any]]:
    first, last = (day.isoformat() for day in month_bounds(month))
    rows: dict[str, dict[str, Any]] = {}

    def entry_for(item_code: str, district: str) -> dict[str, Any]:
        entry = rows.setdefault(item_key(item_code), {"districts": {}, "codes": {}})
        entry["codes"].setdefault(district, item_code)
        return entry

    where, params = scope.sql()
    for row in data.query(
            "select item_code, district_code, sum(finished) as finished,"
            " sum(with_deadline) as with_deadline, sum(early) as early, sum(late) as late,"
            " sum(handling_days) as handling_days, sum(handling_n) as handling_n"
            f" from hub_case_daily where day between ? and ? and dept_suffix = ? and {where}"
            " group by item_code, district_code", [first, last, suffix, *params]):
        entry_for(row["item_code"], row["district_code"])["districts"][row["district_code"]] = {
            **row, "counted": 0, "satisfied": 0}
    # Satisfaction per item: the ratings of the item's cases (hub/projections/ratingitems.py
    # keeps them per day on write; a join of the month's ratings to their cases grew with
    # the month). Rows whose ratings all moved away count none and show none.
    for row in data.query(
            "select item_code, district_code, sum(counted) as counted,"
            " sum(satisfied) as satisfied from hub_rating_item_daily"
            f" where dept_suffix = ? and day between ? and ? and {where}"
            " group by item_code, district_code having sum(total) > 0",
            [suffix, first, last, *params]):
        cell = entry_for(row["item_code"], row["district_code"])["districts"].setdefault(
            row["district_code"], {"finished": 0, "with_deadline": 0, "early": 0, "late": 0,
                                   "handling_days": 0, "handling_n": 0})
        cell.update(counted=row["counted"] or 0, satisfied=row["satisfied"] or 0)
    for code, item in data.catalogue.items():  # items without cases this month still show
        district = item.dept_code[:6]
        if district in districts and dept_suffix(item.dept_code, district) == suffix:
            entry_for(code, district)
    items = []
    for key in sorted(rows):
        entry = rows[key]
        sample = next(iter(entry["codes"].values()))
        items.append({"key": key, "name": data.item_name(sample), "codes": entry["codes"],
                      "districts": {code: _rates(cell) for code, cell
                                    in entry["districts"].items() if code in districts}})
    return items


def item_view(data: HubData, scope: Scope, item_code: str) -> dict[str, Any]:
    """An item's catalogue entry and its open cases by light, in scope."""
    item = data.catalogue.get(item_code)
    if item is not None:
        district = item.dept_code[:6]
        suffix = dept_suffix(item.dept_code, district)
    else:
        found = data.query("select district_code, dept_suffix from hub_cases"
                           " where item_code = ? limit 1", (item_code,))
        district, suffix = (found[0]["district_code"], found[0]["dept_suffix"]) if found \
            else (None, None)
    if district is None or not scope.allows(district, suffix):
        raise NotFound(f"事项 {item_code} 不存在或不在您的监察范围内")
    where, params = scope.sql()
    lights = _lights_by(data, f"item_code = ? and {where}", [item_code, *params], "item_code")
    return {"code": item_code, "item": item, "district_code": district, "dept_suffix": suffix,
            "district_name": DISTRICTS.get(district, district),
            "lights": lights.get(item_code, dict.fromkeys(LIGHT_KEYS, 0))}
