"""Cards, escalations and 上报件 across districts, in scope.

- Cards: the boxes' yellow and red cards, filtered (unit within the scope, card colour,
  overdue, state) and paged, the overdue ones first; each with its notices and the
  department's latest 说明理由 and 整改报告 (relayed ``alert_event`` rows).
- Escalated alerts (上报): a district's supervisors referred them to the city.
- 上报件 (forwarded cases): the district part (its lower-level time limit, its light) from the
  box's records, and the city part from the hub's own 督办 on the case.

Example::

    page = card_page(data, Scope.district("440605"), CardFilter(card="red"), page=2)
    page.total, page.pages, page.rows[0]["explanation"]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.services import HubData, Scope
from hub.services.cases import OUTCOMES
from standard.districts import DISTRICTS
from standard.supervision import ACTIVE_STATES, CARD_NAMES, STATES

PER_PAGE = 50
# The department's answers on a card and the reviews of them, as the box's audit trail has them.
ANSWER_ACTIONS = ("explain", "report", "accept_explanation", "return_explanation",
                  "accept_report", "return_report")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


def _named(rows: list[dict[str, Any]], data: HubData) -> list[dict[str, Any]]:
    names = data.dept_code_names()
    for row in rows:
        row["district_name"] = DISTRICTS.get(row["district_code"], row["district_code"])
        row["dept_name"] = names.get(row.get("dept_code") or "", row.get("dept_code") or "")
    return rows


@dataclass(frozen=True)
class CardFilter:
    """The card list's filters. ``state``: "active" (every state before closure), "all", or
    one alert state; ``district`` outside the user's scope matches nothing."""

    district: str | None = None
    card: str | None = None  # "yellow" or "red"
    overdue: bool = False
    state: str = "active"

    @classmethod
    def parse(cls, args, scope: Scope) -> CardFilter:
        """From a query string; unknown values are ignored (a district outside the scope too)."""
        district = args.get("district")
        state = args.get("state") or "active"
        return cls(district=district if district in scope.visible_districts() else None,
                   card=args.get("card") if args.get("card") in CARD_NAMES else None,
                   overdue=args.get("overdue") == "1",
                   state=state if state in ("active", "all", *STATES) else "active")

    def sql(self, today: str) -> tuple[str, list[Any]]:
        clauses, params = ["a.card is not null"], []
        if self.state == "active":
            clauses.append(f"a.state in {_in(ACTIVE_STATES)}")
        elif self.state != "all":
            clauses.append("a.state = ?")
            params.append(self.state)
        if self.district:
            clauses.append("a.district_code = ?")
            params.append(self.district)
        if self.card:
            clauses.append("a.card = ?")
            params.append(self.card)
        if self.overdue:  # past the card's date and not closed: the department is late
            clauses.append("a.card_due < ? and a.state not in ('closed', 'withdrawn')")
            params.append(today)
        return " and ".join(clauses), params


@dataclass
class CardPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    counts: dict[str, int]  # yellow, red, overdue, void (作废) among all matching cards


def card_page(data: HubData, scope: Scope, where: CardFilter, page: int = 1,
              per_page: int = PER_PAGE) -> CardPage:
    """One page of cards in scope: overdue first, then red before yellow, then by date."""
    scope_sql, scope_params = scope.sql("a.district_code", "a.dept_suffix")
    today = data.today().isoformat()
    filter_sql, filter_params = where.sql(today)
    condition = f"{filter_sql} and {scope_sql}"
    params = [*filter_params, *scope_params]
    late = ("case when a.card_due < ? and a.state not in ('closed', 'withdrawn') then 1"
            " else 0 end")
    counts = {"yellow": 0, "red": 0, "overdue": 0, "void": 0}
    for row in data.query(f"select a.card, count(*) as n, sum({late}) as late,"
                          " sum(case when a.state = 'withdrawn' then 1 else 0 end) as void"
                          f" from hub_alerts a where {condition} group by a.card",
                          [today, *params]):
        counts[row["card"]] = row["n"]
        counts["overdue"] += row["late"] or 0
        counts["void"] += row["void"] or 0  # withdrawn alerts' cards: 作废, not counted
    total = counts["yellow"] + counts["red"]
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = data.query(
        "select a.box_id, a.alert_id, a.district_code, a.rule, a.level, a.state, a.detail,"
        " a.opened_at, a.updated_at, a.case_no, a.dept_code, a.dept_suffix, a.card,"
        f" a.card_due, a.liability, {late} as overdue from hub_alerts a where {condition}"
        " order by overdue desc, case when a.card = 'red' then 0 else 1 end, a.card_due,"
        " a.box_id, a.alert_id limit ? offset ?",
        [today, *params, per_page, (page - 1) * per_page])
    _attach_notices(data, rows)
    _attach_answers(data, rows)
    return CardPage(_named(rows, data), total, page, pages, counts)


def _keys(rows: list[dict[str, Any]]) -> tuple[str, list[Any], set[tuple[str, int]]]:
    """A WHERE fragment matching the rows' (box, alert) pairs, by both indexed columns."""
    boxes = sorted({row["box_id"] for row in rows})
    alerts = sorted({row["alert_id"] for row in rows})
    sql = (f"box_id in ({', '.join('?' * len(boxes))})"
           f" and alert_id in ({', '.join('?' * len(alerts))})")
    return sql, [*boxes, *alerts], {(row["box_id"], row["alert_id"]) for row in rows}


def _attach_notices(data: HubData, rows: list[dict[str, Any]]) -> None:
    """Each card's notices as issued by its box: ``row["notices"]`` = [{number, kind, box_id}]."""
    for row in rows:
        row["notices"] = []
    if not rows:
        return
    where, params, wanted = _keys(rows)
    by_key = {(row["box_id"], row["alert_id"]): row for row in rows}
    for notice in data.query("select box_id, alert_id, number, kind, issued_on from hub_notices"
                             f" where {where} order by issued_at", params):
        key = (notice["box_id"], notice["alert_id"])
        if key in wanted:
            by_key[key]["notices"].append(notice)


def _attach_answers(data: HubData, rows: list[dict[str, Any]]) -> None:
    """The department's latest 说明理由 and 整改报告 on each card, with who wrote them and
    when: ``row["explanation"]`` and ``row["report"]`` (None when there is none yet)."""
    for row in rows:
        row["explanation"] = row["report"] = None
    if not rows:
        return
    where, params, wanted = _keys(rows)
    by_key = {(row["box_id"], row["alert_id"]): row for row in rows}
    for event in data.query("select box_id, alert_id, at, actor, action, note"
                            f" from hub_alert_events where {where}"
                            f" and action in {_in(ANSWER_ACTIONS)} order by event_id", params):
        key = (event["box_id"], event["alert_id"])
        if key not in wanted:
            continue
        row = by_key[key]
        if event["action"] in ("explain", "report"):
            row["explanation" if event["action"] == "explain" else "report"] = {
                "at": event["at"], "actor": event["actor"], "note": event["note"],
                "review": None}
        else:  # a review applies to the latest text of its kind
            kind = "explanation" if event["action"].endswith("explanation") else "report"
            if row[kind] is not None:
                row[kind]["review"] = event["action"]


def escalated(data: HubData, scope: Scope, *, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts a district referred to the city (state 已上报), oldest first."""
    where, params = scope.sql()
    return _named(data.query(f"select * from hub_alerts where state = 'escalated' and {where}"
                             " order by updated_at limit ?", [*params, limit]), data)


def escalated_count(data: HubData, scope: Scope) -> int:
    """How many alerts in scope are referred to the city (the list shows the oldest 200)."""
    where, params = scope.sql()
    return data.query(f"select count(*) as n from hub_alerts where state = 'escalated'"
                      f" and {where}", params)[0]["n"]


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
        "  where d.case_no = c.case_no and d.district_code = c.district_code"
        "  and d.issuer = 'city') as dubans"
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
