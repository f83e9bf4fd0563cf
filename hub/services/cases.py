"""Cases at the hub: the filtered list (and its exports), one case in full, the public lookup.

A joint case (联办件) is in a department's scope when it leads it or takes part in it (a row in
``hub_case_shares``, hub/projections/shares.py), so a co-department sees the joint cases it
shares, with its own deadline beside the lead's. ``hub_case_depts`` (hub/projections/
casedepts.py) holds that answer per case and department, so a department's list is one walk
down its index rather than an ``OR`` with a look at the shares on every case.

Example::

    page = case_page(data, scope, CaseFilter(light="red"), page=1)
    case = case_detail(data, scope, "44060500000017")   # NotFound outside the scope
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from hub.projections.casestaff import search_keys
from hub.projections.shares import read_shares
from hub.projections.staffbackfill import pending as staff_backfill_pending
from hub.services import HubData, NotFound, Scope
from standard.districts import DISTRICTS

PER_PAGE = 50
# A list counts its cases exactly up to here, then says "more than": counting millions of
# rows for a page header cost seconds at tens of millions of records (bench_hub_bigdata), and
# nobody pages 2,000 pages deep (filters narrow the list; exports stream every row).
COUNT_LIMIT = 100_000
STAGE_NAMES = ("申请", "受理", "承办", "审核", "批准", "办结")
OUTCOMES = {"early": "提前办结", "on_time": "按时办结", "late": "超期办结"}
LIST_COLUMNS = ("district_code, case_no, item_code, dept_code, dept_suffix, case_type, stage,"
                " is_open, accepted_on, finished_on, terminal, light, deadline, remaining,"
                " outcome, handling_days, reasons")
# The same expression as the index hub_cases_urgent (hub/storage/migrations.py).
LIGHT_RANK = {"red": 0, "unknown": 1, "yellow": 2}
_LIGHT_ORDER = ("case light when 'red' then 0 when 'unknown' then 1 when 'yellow' then 2"
                " else 3 end")
# The cases a department leads or takes part in; the fragment names hub_case_depts' columns.
_IN_DEPTS = "id in (select case_id from hub_case_depts where {})"


def case_scope(scope: Scope) -> tuple[str, list[Any]]:
    """The scope's WHERE fragment for ``hub_cases``: a department also sees the joint cases it
    takes part in, whichever department leads them."""
    where, params = scope.sql()
    if not getattr(scope, "depts", ()):
        return where, params
    return _IN_DEPTS.format(where), params   # hub_case_depts has the same column names


@dataclass(frozen=True)
class CaseFilter:
    """The list's filters; None means any. ``state`` is "open", "finished" or "all"."""

    district: str | None = None
    dept: str | None = None  # department suffix (SCJ), across districts
    item: str | None = None
    light: str | None = None
    stage: str | None = None
    case_type: str | None = None
    state: str = "open"
    case_no: str | None = None
    items: tuple[str, ...] = ()  # a search that named items (by code or name): any of them
    staff: tuple[str, ...] = ()  # a search that named staff: hub_case_staff's ``who`` values
    search: str | None = None  # the search as typed (shown again in its box)

    def sql(self) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (("district_code", self.district), ("item_code", self.item),
                              ("light", self.light), ("stage", self.stage),
                              ("case_type", self.case_type)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.items:
            clauses.append(f"item_code in ({', '.join('?' * len(self.items))})")
            params.extend(self.items)
        if self.staff:  # a staff member (id or name) handled one of its events
            clauses.append(_BY_STAFF.format(', '.join('?' * len(self.staff))))
            params.extend(self.staff)
        if self.dept:  # the department leads the case or takes part in it
            clauses.append(_IN_DEPTS.format("dept_suffix = ?"))
            params.append(self.dept)
        if self.state == "open":
            clauses.append("is_open = 1")
        elif self.state == "finished":
            clauses.append("is_open = 0")
        if self.case_no:
            clauses.append("case_no like ? escape '\\'")
            params.append(self.case_no.replace("\\", "\\\\").replace("%", "\\%")
                          .replace("_", "\\_") + "%")
            if self.case_no.isdigit() and self.case_no.isascii():
                # The same prefix as a range, which an index on case_no answers (LIKE is
                # case-insensitive on SQLite and collation-bound on PostgreSQL: no index).
                clauses.append("case_no >= ?")
                params.append(self.case_no)
                upper = _next_number(self.case_no)
                if upper:
                    clauses.append("case_no < ?")
                    params.append(upper)
        return " and ".join(clauses) or "1 = 1", params


MAX_SEARCH_ITEMS = 200
# The cases a staff member handled (hub/projections/casestaff.py): a walk down its key.
_BY_STAFF = "id in (select case_id from hub_case_staff where who in ({}))"


def staff_matching(data: HubData, scope: Scope, text: str) -> tuple[str, ...]:
    """The ``who`` values a search names when it is the id or name of a staff member who
    handled a case in the scope; () when it names none (then it is an item or a case number).

    >>> staff_matching(data, nanhai, "S017")   # doctest: +SKIP
    ('s017', 'S017')
    """
    keys = search_keys(text)
    if not keys:
        return ()
    where, params = case_scope(scope)
    found = data.query(f"select 1 as n from hub_cases where {where} and"
                       f" {_BY_STAFF.format(', '.join('?' * len(keys)))} limit 1",
                       [*params, *keys])
    return keys if found else ()


def staff_index_pending(data: HubData):
    """The staff index's fill of the older cases (hub/projections/staffbackfill.py) while it
    runs: ``Progress`` (``.percent``), else None; until then older cases may not be found."""
    return staff_backfill_pending(data.store)


def items_matching(data: HubData, text: str) -> tuple[str, ...]:
    """The catalogue's items a search names: the one whose code it is, or those whose name
    holds it (at most MAX_SEARCH_ITEMS); () when it names none (then it is a case number).

    >>> items_matching(data, "婚姻登记")   # doctest: +SKIP
    ('440605-MZJ-006', '440606-MZJ-006', ...)
    """
    words = text.strip()
    if not words:
        return ()
    if words in data.catalogue:
        return (words,)
    if words.isascii():  # a name is Chinese; ASCII is a case number or a code's prefix
        return ()
    return tuple(sorted(code for code, item in data.catalogue.items()
                        if words in item.name))[:MAX_SEARCH_ITEMS]


def _next_number(digits: str) -> str | None:
    """The smallest number of the same length above ``digits`` (``0199`` → ``0200``), None
    for all nines: every string starting with ``digits`` sorts below it."""
    if set(digits) == {"9"}:
        return None
    return f"{int(digits) + 1:0{len(digits)}d}"


@dataclass
class CasePage:
    rows: list[dict[str, Any]]
    total: int  # at most COUNT_LIMIT; ``more`` says there are more
    page: int
    pages: int
    more: bool = False


def _shape(row: dict[str, Any], data: HubData) -> dict[str, Any]:
    row["reasons"] = json.loads(row.get("reasons") or "[]")
    row["district_name"] = DISTRICTS.get(row["district_code"], row["district_code"])
    row["item_name"] = data.item_name(row["item_code"])
    row["outcome_name"] = OUTCOMES.get(row.get("outcome") or "", "")
    return row


def case_page(data: HubData, scope: Scope, where: CaseFilter, page: int = 1,
              per_page: int = PER_PAGE) -> CasePage:
    """One page of cases in scope: open ones red first, then by remaining working days."""
    # Open cases: the most urgent first (a sort of the open cases only). All or finished
    # cases: newest first, by the row id, so that a deep page of a million rows is a walk
    # down an index, never a sort.
    order = (f"{_LIGHT_ORDER}, remaining is null, remaining, case_no, id"
             if where.state == "open" else "id desc")
    # The page's ids first, from an index alone where it can (a deep page skips index
    # entries, not rows), then those rows.
    walk = _dept_walk(scope, where)
    if walk is not None:
        units, depts, dept_params, rest, rest_params = walk
        unit_params = [code for codes in units for code in codes]
        join = rest != "1 = 1"   # a filter on the cases' own columns: join them by id
        counted = (f"select 1 from hub_case_depts d{_JOIN if join else ''} where"
                   f" {_in_units(units, 'd.')} and {depts} and {rest}")
        count_params = [*unit_params, *dept_params, *rest_params]
        if where.state == "open" and not join:
            # Most urgent first: the department's open rows carry the case's urgency (migration
            # 19), so a page, however deep, walks hub_case_depts_urgent (or _urgent_unit).
            ids = counted.replace("select 1", "select d.case_id", 1)
            ids_order, params = _DEPT_URGENCY, count_params
        elif where.state == "open":
            # With other filters: walk the urgency index (hub_cases_urgent, per district too)
            # and look each case's department up (one probe), rather than fetch and sort
            # every open case of the department (tens of thousands for a joint one).
            ids = (f"select id from hub_cases where is_open = 1 and {_in_units(units, '')} and"
                   f" {rest} and exists (select 1 from hub_case_depts d where"
                   f" d.case_id = hub_cases.id and {depts})")
            ids_order, params = order, [*unit_params, *rest_params, *dept_params]
            # count the open cases that pass the other filters, probing each
            counted, count_params = ids.replace("select id", "select 1", 1), params
        else:  # newest first: walk the department's rows backwards
            ids = counted.replace("select 1", "select d.case_id", 1)
            ids_order, params = "d.case_id desc", count_params
    else:
        scope_sql, scope_params = case_scope(scope)
        filter_sql, filter_params = where.sql()
        params = count_params = [*scope_params, *filter_params]
        counted = f"select 1 from hub_cases where {scope_sql} and {filter_sql}"
        ids, ids_order = counted.replace("select 1", "select id", 1), order
    total = data.query(f"select count(*) as n from ({counted} limit ?) counted",
                       [*count_params, COUNT_LIMIT + 1])[0]["n"]
    more = total > COUNT_LIMIT
    total = min(total, COUNT_LIMIT)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = data.query(f"select {LIST_COLUMNS} from hub_cases where id in ({ids} order by"
                      f" {ids_order} limit ? offset ?) order by {order}",
                      [*params, per_page, (page - 1) * per_page])
    return CasePage([_shape(row, data) for row in rows], total, page, pages, more)


_JOIN = " join hub_cases c on c.id = d.case_id"
# The urgency order on hub_case_depts' copy of it (the index hub_case_depts_urgent's expression).
_DEPT_URGENCY = ("(case d.list_light when 'red' then 0 when 'unknown' then 1 when 'yellow'"
                 " then 2 else 3 end), d.list_remaining is null, d.list_remaining,"
                 " d.list_case_no, d.case_id")


def _dept_walk(scope: Scope, where: CaseFilter
               ) -> tuple[list[tuple[str, ...]], str, list, str, list] | None:
    """A department's list from ``hub_case_depts`` (alias ``d``): the districts it is held
    to (each tuple one condition, ``_in_units``), the condition on ``d``'s department and
    state with its parameters, and the condition on the cases' own columns with its own.

    None when no single department drives the list (none, or a scope of several: a case
    could be listed once per department)."""
    depts = (where.dept,) if where.dept else tuple(getattr(scope, "depts", ()))
    if len(depts) != 1:
        return None
    units = [codes for codes in (tuple(getattr(scope, "districts", ())),
                                 (where.district,) if where.district else ()) if codes]
    clauses, params = ["d.dept_suffix = ?"], [depts[0]]
    if where.state in ("open", "finished"):
        clauses.append(f"d.is_open = {1 if where.state == 'open' else 0}")
    others = tuple(getattr(scope, "depts", ()))
    if where.dept and others and others != depts:  # and the scope's department takes part
        clauses.append("d.case_id in (select case_id from hub_case_depts where dept_suffix in"
                       f" ({', '.join('?' * len(others))}))")
        params += others
    # The filters on the cases' own columns (district, department and state are above).
    rest, rest_params = replace(where, district=None, dept=None, state="all").sql()
    return units, " and ".join(clauses), params, rest, rest_params


def _in_units(units: list[tuple[str, ...]], alias: str) -> str:
    """``district_code in (...)`` for each tuple of ``units`` (``alias``: "d." or "")."""
    return " and ".join([f"{alias}district_code in ({', '.join('?' * len(codes))})"
                         for codes in units] or ["1 = 1"])


def iter_cases(data: HubData, scope: Scope, where: CaseFilter,
               chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every matching case in scope, for exports (keyset pages, so memory stays flat)."""
    scope_sql, scope_params = case_scope(scope)
    filter_sql, filter_params = where.sql()
    after = 0
    while True:
        rows = data.query(f"select id, {LIST_COLUMNS} from hub_cases where {scope_sql} and"
                          f" {filter_sql} and id > ? order by id limit ?",
                          [*scope_params, *filter_params, after, chunk])
        if not rows:
            return
        after = rows[-1]["id"]
        for row in rows:
            yield _shape(row, data)


def find_case(data: HubData, scope: Scope, case_no: str) -> dict[str, Any]:
    """The case's row in scope; NotFound when it is missing or outside the scope."""
    where, params = case_scope(scope)
    rows = data.query(f"select id, {LIST_COLUMNS}, box_id, facts from hub_cases"
                      f" where case_no = ? and {where} order by district_code limit 1",
                      [case_no, *params])
    if not rows:
        raise NotFound(f"办件 {case_no} 不存在或不在您的监察范围内")
    return _shape(rows[0], data)


@dataclass
class CaseDetail:
    case: dict[str, Any]
    facts: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    item: Any = None
    shares: list[dict[str, Any]] = field(default_factory=list)  # a joint case's departments


def case_events(data: HubData, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's events as the platform sent them, in the box's order."""
    events = []
    for row in data.query(
            "select e.box_id, e.seq, r.body from hub_case_events e join records r"
            " on r.box_id = e.box_id and r.seq = e.seq where e.district_code = ?"
            " and e.case_no = ? order by e.box_id, e.seq",
            (case["district_code"], case["case_no"])):
        body = json.loads(row["body"])["body"]
        body["seq"] = row["seq"]
        events.append(body)
    return events


def case_detail(data: HubData, scope: Scope, case_no: str) -> CaseDetail:
    case = find_case(data, scope, case_no)
    facts = json.loads(case.pop("facts"))
    key = (case["case_no"], case["district_code"])
    alerts = data.query("select * from hub_alerts where case_no = ? and district_code = ?"
                        " order by opened_at", key)
    for alert in alerts:  # the department's answers and their review (audit trail), by hand
        alert["events"] = data.query(
            "select at, actor, action, note from hub_alert_events where box_id = ?"
            " and alert_id = ? and actor != 'system' order by event_id",
            (alert["box_id"], alert["alert_id"]))
    notices = data.query(  # void: its alert was withdrawn (later-arriving events disproved it)
        "select n.number, n.kind, n.issued_on, n.due_on, n.box_id,"
        " case when a.state = 'withdrawn' then 1 else 0 end as void from hub_notices n"
        " left join hub_alerts a on a.box_id = n.box_id and a.alert_id = n.alert_id"
        " where n.case_no = ? and n.district_code = ? order by n.issued_at", key)
    return CaseDetail(case, facts, case_events(data, case), alerts, notices,
                      data.catalogue.get(case["item_code"]),
                      read_shares(data.query, case["district_code"], case["case_no"]))


def public_case(data: HubData, case_no: str) -> dict[str, Any] | None:
    """What the portal shows anyone with the case number: stages and times, nothing personal.

    No staff names or ids, no citizen data, no reasons text (a refusal's reason may name
    people): item, department, district, type, each event's kind and time, deadline, state.
    """
    rows = data.query("select district_code, case_no, item_code, dept_code, case_type, stage,"
                      " is_open, accepted_on, finished_on, terminal, deadline, outcome"
                      " from hub_cases where case_no = ? order by district_code limit 1",
                      (case_no,))
    if not rows:
        return None
    case = rows[0]
    item = data.catalogue.get(case["item_code"])
    events = [{"event_type": row["event_type"], "occurred_at": row["occurred_at"]}
              for row in data.query("select event_type, occurred_at from hub_case_events"
                                    " where district_code = ? and case_no = ?"
                                    " order by occurred_at, seq",
                                    (case["district_code"], case["case_no"]))]
    return {
        "case_no": case["case_no"],
        "district": DISTRICTS.get(case["district_code"], case["district_code"]),
        "item_name": item.name if item else case["item_code"],
        "dept_name": item.dept_name if item else case["dept_code"],
        "case_type": case["case_type"], "stage": case["stage"],
        "state": "办理中" if case["is_open"] else (case["terminal"] or "已办结"),
        "accepted_on": case["accepted_on"], "finished_on": case["finished_on"],
        "deadline": case["deadline"], "outcome": OUTCOMES.get(case["outcome"] or "", ""),
        "promised_days": item.promised_days if item else None,
        "events": events,
    }
