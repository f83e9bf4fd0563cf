"""Cases at the hub: ``case_event`` records folded with the box's own deadline engine.

Each event is folded into the case's facts with :func:`standard.deadlines.apply_event` and the
case is judged with :func:`standard.deadlines.evaluate` (the same code as the box, so box, hub
and portal agree on deadlines and lights). A finished case's outcome (提前/按时/超期办结) and
handling time go into ``hub_case_daily``; a change of a case's contribution is applied as a
delta (old out, new in), so a replayed or reordered case never counts twice.

If an event arrives with a lower ``seq`` than one already folded (live records ran ahead of a
resent backlog), the case is refolded from all its events in ``seq`` order.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from hub.projections.casedepts import dept_rows, depts_changed, write_depts
from hub.projections.casestaff import staff_rows, write_staff
from hub.projections.ratingitems import place_ratings
from hub.projections.shares import share_rows, write_shares
from hub.units import dept_suffix
from standard.calendar import CalendarUnknownYear
from standard.deadlines import CaseFacts, CaseStatus, apply_event, evaluate
from standard.records import LOCAL_TZ, STAGE_RANK
from standard.shares import participants

# Terminal events that are a decision on the case (counted in 办结 rates); 不予受理 and 退回 are not.
CONCLUDED = frozenset({"办结", "不予许可"})
_fromiso = dt.datetime.fromisoformat


@dataclass(frozen=True, slots=True)
class _Actor:
    id: str


class HubEvent:
    """A ``case_event`` body as ``apply_event`` reads it (validated by the box already).

    Building the pydantic model again for millions of records is the hub's main cost; the
    fold only reads these attributes.
    """

    __slots__ = ("event_id", "case_no", "item_code", "dept_code", "district_code", "event_type",
                 "procedure_kind", "extension_days", "occurred_at", "actor", "window_no",
                 "reason", "fee_amount", "case_type", "to_dept_code", "local_date")

    def __init__(self, body: dict[str, Any]):
        self.event_id = body["event_id"]
        self.case_no = body["case_no"]
        self.item_code = body["item_code"]
        self.dept_code = body["dept_code"]
        self.district_code = body["district_code"]
        self.event_type = body["event_type"]
        self.procedure_kind = body.get("procedure_kind")
        self.extension_days = body.get("extension_days")
        self.occurred_at = body["occurred_at"]
        self.actor = _Actor(str((body.get("actor") or {}).get("id", "")))
        self.window_no = body.get("window_no")
        self.reason = body.get("reason")
        self.fee_amount = body.get("fee_amount")
        self.case_type = body.get("case_type")
        self.to_dept_code = body.get("to_dept_code")
        self.local_date = _fromiso(self.occurred_at).astimezone(LOCAL_TZ).date()


_COLUMNS = ("id", "district_code", "case_no", "box_id", "item_code", "dept_code", "dept_suffix",
            "case_type", "stage", "is_open", "accepted_on", "finished_on", "terminal", "light",
            "deadline", "remaining", "outcome", "handling_days", "stages_mask", "anomalies",
            "reasons", "last_seq", "facts")


def _row(conn: sqlite3.Connection, district: str, case_no: str) -> dict[str, Any] | None:
    found = conn.execute(f"select {', '.join(_COLUMNS)} from hub_cases"
                         " where district_code = ? and case_no = ?", (district, case_no)).fetchone()
    return dict(zip(_COLUMNS, found)) if found else None


def stages_mask(facts: CaseFacts) -> int:
    """Bit ``rank - 1`` set for each main stage the platform reported (申请=bit 0 … 办结=bit 5)."""
    mask = 0
    for name in facts.stage_started:
        mask |= 1 << (STAGE_RANK[name] - 1)
    return mask


def judged(ctx, facts: CaseFacts) -> dict[str, Any]:
    """The columns that depend on the judgement of the case now, and its ``shares`` rows."""
    item = ctx.catalogue.get(facts.item_code)
    status: CaseStatus = evaluate(facts, item, ctx.calendar, ctx.clock(), ctx.settings)
    handling = None
    if facts.accepted_on is not None and facts.finished_on is not None:
        try:
            handling = ctx.calendar.count_workdays(facts.accepted_on, facts.finished_on)
        except CalendarUnknownYear:
            handling = None
    return {
        "light": status.light,
        "deadline": status.deadline.isoformat() if status.deadline else None,
        "remaining": status.remaining_working_days,
        "outcome": status.outcome,
        "reasons": json.dumps(status.reasons, ensure_ascii=False),
        "handling_days": handling,
        "shares": share_rows(status),
    }


def apply_case_event(ctx, conn: sqlite3.Connection, box_id: str, record: dict[str, Any]) -> None:
    body = record["body"]
    event = HubEvent(body)
    district, case_no, seq = event.district_code, event.case_no, record["seq"]
    fresh = conn.execute(
        "insert into hub_case_events (district_code, case_no, box_id, seq,"
        " event_type, occurred_at) values (?, ?, ?, ?, ?, ?) on conflict do nothing",
        (district, case_no, box_id, seq, event.event_type, event.occurred_at)).rowcount
    if not fresh:
        return  # already folded (a replay while the views were being rebuilt)
    old = _row(conn, district, case_no)
    if old is not None and seq < old["last_seq"]:
        facts = refold(conn, district, case_no, ctx)
        last_seq = old["last_seq"]
    else:
        previous = CaseFacts.from_json(old["facts"]) if old else None
        facts = apply_event(previous, event, _joint(ctx, event.item_code))
        last_seq = seq
    save_case(ctx, conn, box_id, facts, last_seq, old)
    write_staff(conn, staff_rows(district, case_no, body.get("actor")))


def _joint(ctx, item_code: str) -> frozenset[str]:
    """The item's participating departments: their events fold into their own shares."""
    return participants(ctx.catalogue.get(item_code))


def refold(conn: sqlite3.Connection, district: str, case_no: str, ctx=None) -> CaseFacts:
    """The case's facts from all its events, in the order the box numbered them."""
    facts = None
    for box_id, seq in conn.execute(
            "select box_id, seq from hub_case_events where district_code = ? and case_no = ?"
            " order by box_id, seq", (district, case_no)).fetchall():
        text = conn.execute("select body from records where box_id = ? and seq = ?",
                            (box_id, seq)).fetchone()
        if text is not None:
            event = HubEvent(json.loads(text[0])["body"])
            facts = apply_event(facts, event, _joint(ctx, event.item_code) if ctx else ())
    assert facts is not None, f"case {case_no} has no events"
    return facts


_CASE_NAMES = [name for name in _COLUMNS if name != "id"] + ["updated_at"]
UPSERT_CASE = (
    f"insert into hub_cases ({', '.join(_CASE_NAMES)}) values ({', '.join('?' * len(_CASE_NAMES))})"
    " on conflict(district_code, case_no) do update set "
    + ", ".join(f"{name} = excluded.{name}" for name in _CASE_NAMES[2:]))
BUMP_DAILY = (
    "insert into hub_case_daily as d (day, district_code, dept_code, item_code, dept_suffix,"
    " finished, with_deadline, early, on_time, late, handling_days, handling_n)"
    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " on conflict (day, district_code, dept_code, item_code) do update set"
    " finished = d.finished + excluded.finished,"
    " with_deadline = d.with_deadline + excluded.with_deadline,"
    " early = d.early + excluded.early, on_time = d.on_time + excluded.on_time,"
    " late = d.late + excluded.late, handling_days = d.handling_days + excluded.handling_days,"
    " handling_n = d.handling_n + excluded.handling_n")


def case_values(ctx, box_id: str, facts: CaseFacts, last_seq: int
                ) -> tuple[dict[str, Any], list[tuple]]:
    """The case's ``hub_cases`` columns as judged now, and its ``shares`` rows."""
    values = judged(ctx, facts)
    shares = values.pop("shares")
    values.update(
        district_code=facts.district_code, case_no=facts.case_no, box_id=box_id,
        item_code=facts.item_code, dept_code=facts.dept_code,
        dept_suffix=dept_suffix(facts.dept_code, facts.district_code),
        case_type=facts.case_type or _catalogue_type(ctx, facts), stage=facts.stage,
        is_open=0 if facts.terminal else 1,
        accepted_on=facts.accepted_on.isoformat() if facts.accepted_on else None,
        finished_on=facts.finished_on.isoformat() if facts.finished_on else None,
        terminal=facts.terminal, stages_mask=stages_mask(facts),
        anomalies=sum(1 for reason in facts.anomalies if reason.startswith("程序异常")),
        last_seq=last_seq, facts=facts.to_json(),
        updated_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return values, shares


def case_params(values: dict[str, Any]) -> list[Any]:
    """``UPSERT_CASE``'s parameters for ``case_values``."""
    return [values[name] for name in _CASE_NAMES]


def shares_written(facts: CaseFacts, shares: list[tuple], old: dict[str, Any] | None) -> bool:
    """Whether the case's share rows are rewritten (a joint case, now or before)."""
    return bool(shares or facts.shares or (old is not None and '"shares"' in old["facts"]))


def save_case(ctx, conn: sqlite3.Connection, box_id: str, facts: CaseFacts, last_seq: int,
              old: dict[str, Any] | None) -> None:
    values, shares = case_values(ctx, box_id, facts, last_seq)
    conn.execute(UPSERT_CASE, case_params(values))
    rewritten = shares_written(facts, shares, old)
    if rewritten:
        write_shares(conn, facts.district_code, facts.case_no, shares)
    if depts_changed(values, old, rewritten):
        key = (facts.district_code, facts.case_no)
        write_depts(conn, [key], dept_rows(*key, values["dept_suffix"], shares))
    bump_daily(conn, old, -1)
    bump_daily(conn, values, +1)
    if old is None:  # a new case: the ratings that arrived before it get its item
        place_ratings(conn, facts.district_code, {facts.case_no: facts.item_code})


def _catalogue_type(ctx, facts: CaseFacts) -> str | None:
    item = ctx.catalogue.get(facts.item_code)
    return str(item.case_type) if item is not None else None


def bump_daily(conn: sqlite3.Connection, case: dict[str, Any] | None, sign: int) -> None:
    """Add (sign=+1) or remove (sign=-1) a concluded case's share of ``hub_case_daily``."""
    delta = daily_delta(case, sign)
    if delta is not None:
        key, extra, vector = delta
        conn.execute(BUMP_DAILY, (*key, *extra, *vector))


def daily_delta(case: dict[str, Any] | None, sign: int) -> tuple[tuple, tuple, tuple] | None:
    """A concluded case's share of ``hub_case_daily`` × ``sign``: (key, (dept_suffix,), counts);
    None for a case that is not concluded (no share)."""
    key = daily_key(case)
    if key is None:
        return None
    outcome = case.get("outcome")
    handling = case.get("handling_days")
    return key, (case["dept_suffix"],), (
        sign, sign * (outcome is not None), sign * (outcome == "early"),
        sign * (outcome == "on_time"), sign * (outcome == "late"), sign * (handling or 0),
        sign * (handling is not None))


def daily_key(case: dict[str, Any] | None) -> tuple | None:
    """The ``hub_case_daily`` key a case counts under: (day, district, dept, item), or None."""
    if case is None or case.get("terminal") not in CONCLUDED or not case.get("finished_on"):
        return None
    return case["finished_on"], case["district_code"], case["dept_code"], case["item_code"]
