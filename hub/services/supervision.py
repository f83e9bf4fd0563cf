"""Cards, escalations and 上报件 across districts, in scope.

- Cards: the boxes' yellow and red cards still active, the overdue ones first.
- Escalated alerts (上报): a district's supervisors referred them to the city.
- 上报件 (forwarded cases): the district part (its lower-level time limit, its light) from the
  box's records, and the city part from the hub's own 督办 on the case.

Example::

    cards(data, Scope.district("440605"))
"""

from __future__ import annotations

import json
from typing import Any

from hub.services import HubData, Scope
from hub.services.cases import OUTCOMES
from hub.services.overview import _ACTIVE
from standard.districts import DISTRICTS


def _named(rows: list[dict[str, Any]], data: HubData) -> list[dict[str, Any]]:
    names = data.dept_code_names()
    for row in rows:
        row["district_name"] = DISTRICTS.get(row["district_code"], row["district_code"])
        row["dept_name"] = names.get(row.get("dept_code") or "", row.get("dept_code") or "")
    return rows


def cards(data: HubData, scope: Scope, *, limit: int = 500) -> list[dict[str, Any]]:
    """Active carded alerts in scope, overdue first, then red before yellow."""
    where, params = scope.sql()
    today = data.today().isoformat()
    numbers = data.dialect.group_concat("number", "'，'")
    rows = data.query(
        f"select a.*, a.card_due < ? as overdue, (select {numbers} from"
        " hub_notices n where n.box_id = a.box_id and n.alert_id = a.alert_id) as notices"
        f" from hub_alerts a where card is not null and state in {_ACTIVE} and {where}"
        " order by overdue desc, card = 'red' desc, card_due limit ?",
        [today, *params, limit])
    return _named(rows, data)


def escalated(data: HubData, scope: Scope, *, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts a district referred to the city (state 已上报), oldest first."""
    where, params = scope.sql()
    return _named(data.query(f"select * from hub_alerts where state = 'escalated' and {where}"
                             " order by updated_at limit ?", [*params, limit]), data)


def forwarded_cases(data: HubData, scope: Scope, *, limit: int = 300) -> list[dict[str, Any]]:
    """上报件 in scope: the district part's state and light, and the city's 督办 on it."""
    # The unary + keeps the planner on the case-type index: 上报件 are few, a district or a
    # department has many cases of other types.
    dialect = data.dialect
    where, params = scope.sql(dialect.no_index("c.district_code"),
                              dialect.no_index("c.dept_suffix"))
    dubans = dialect.group_concat("d.number || '|' || d.state", "';'")
    rows = data.query(
        "select c.district_code, c.case_no, c.item_code, c.dept_code, c.stage, c.is_open,"
        " c.accepted_on, c.finished_on, c.light, c.deadline, c.remaining, c.outcome, c.reasons,"
        f" (select {dubans} from dubans d"
        "  where d.case_no = c.case_no and d.district_code = c.district_code) as dubans"
        f" from hub_cases c where c.case_type = '上报件' and {where}"
        " order by c.is_open desc, c.light = 'red' desc, c.accepted_on desc limit ?",
        [*params, limit])
    for row in rows:
        row["reasons"] = json.loads(row["reasons"] or "[]")
        row["item_name"] = data.item_name(row["item_code"])
        row["outcome_name"] = OUTCOMES.get(row["outcome"] or "", "")
        row["city_part"] = [dict(zip(("number", "state"), part.split("|", 1)))
                            for part in (row.pop("dubans") or "").split(";") if part]
    return _named(rows, data)
