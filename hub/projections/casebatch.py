"""``case_event`` records projected a batch at a time (hub/projections/cases.py, set-based).

A batch's events are grouped by case; the cases' rows and the events already folded are read
in one query each; each case is folded in memory from its row's facts through all its new
events and judged once; then the batch writes each table at once: the events (``COPY`` on
PostgreSQL, hub/storage/engines.py), then one executemany each for the cases, their shares,
the departments whose lists show them (hub/projections/casedepts.py), the staff who handled
them (casestaff.py), and ``hub_case_daily``
with the deltas summed per key, held until the end of the transaction and written in key
order there (hub/storage/lastwrites.py: other boxes' batches add to the same rows); the
ratings that arrived before a new case get its item (ratingitems.py). The rows are those
that applying the events one by one gives (tests/unit/test_hub_projection_batches.py), except ``updated_at`` and, on PostgreSQL, the
ids a per-record upsert would have drawn and not used.

A case whose row has folded a later event than the batch's first for it (live records ran
ahead of a resent backlog) is refolded from all its events, record by record, as before: rare,
and the refold reads the events back.

Example::

    apply_case_events(ctx, conn, "440605-01", records)   # inside apply_batch's transaction
"""

from __future__ import annotations

from typing import Any

from hub.projections.batchwise import Deltas, chunks, marks, run
from hub.projections.casedepts import dept_rows, depts_changed, write_depts
from hub.projections.casestaff import staff_rows, write_staff
from hub.projections.ratingitems import place_ratings
from hub.projections.cases import (_COLUMNS, BUMP_DAILY, UPSERT_CASE, HubEvent, _joint,
                                   apply_case_event, case_params, case_values, daily_delta,
                                   shares_written)
from hub.projections.shares import COLUMNS as SHARE_COLUMNS
from hub.storage.engines import insert_new
from hub.storage.lastwrites import write_last
from hub.units import dept_suffix
from standard.deadlines import CaseFacts, apply_event

_EVENT_COLUMNS = ("district_code", "case_no", "box_id", "seq", "event_type", "occurred_at")
_DELETE_SHARES = "delete from hub_case_shares where district_code = ? and case_no = ?"
_INSERT_SHARE = (f"insert into hub_case_shares (district_code, case_no, dept_suffix,"
                 f" {', '.join(SHARE_COLUMNS)}) values (?, ?, ?, {marks(SHARE_COLUMNS)})")


def apply_case_events(ctx, conn, box_id: str, records: list[dict[str, Any]]) -> None:
    """Project a batch's ``case_event`` records (one box's, ascending seq, one district)."""
    if not records:
        return
    events = [(record["seq"], HubEvent(record["body"])) for record in records]
    bodies = {record["seq"]: record["body"] for record in records}
    district = events[0][1].district_code
    held, old = _read(conn, box_id, district, events)
    by_case: dict[str, list[tuple[int, HubEvent]]] = {}
    for seq, event in events:
        if (event.case_no, seq) not in held:  # else folded already (a rebuild's replay)
            by_case.setdefault(event.case_no, []).append((seq, event))
    refold = {case_no for case_no, new in by_case.items()
              if case_no in old and new[0][0] < old[case_no]["last_seq"]}
    for case_no in refold:
        del by_case[case_no]
    new_events, cases, share_cases, share_rows, daily = [], [], [], [], Deltas(7)
    dept_cases, depts, staff, new_cases = [], [], [], {}
    for case_no, new in by_case.items():
        before = old.get(case_no)
        facts = CaseFacts.from_json(before["facts"]) if before else None
        _add(daily, daily_delta(before, -1))
        # The states in between need no daily row: once concluded, a case's day, department
        # and item never change (standard/facts.py), so they count where the last state does.
        for seq, event in new:
            new_events.append((district, case_no, box_id, seq, event.event_type,
                               event.occurred_at))
            facts = apply_event(facts, event, _joint(ctx, event.item_code))
            staff += staff_rows(district, case_no, bodies[seq].get("actor"))
        values, shares = case_values(ctx, box_id, facts, new[-1][0])
        cases.append(case_params(values))
        rewritten = shares_written(facts, shares, before)
        if rewritten:
            share_cases.append((facts.district_code, case_no))
            share_rows += [(facts.district_code, case_no,
                            dept_suffix(row[0], facts.district_code), *row) for row in shares]
        if before is None:
            new_cases[case_no] = facts.item_code
        if depts_changed(values, before, rewritten):
            dept_cases.append((facts.district_code, case_no))
            depts += dept_rows(facts.district_code, case_no, values["dept_suffix"], shares)
        _add(daily, daily_delta(values, +1))
    # The box's lock is held and its events held already were skipped: none can conflict.
    insert_new(conn, "hub_case_events", _EVENT_COLUMNS, new_events)
    run(conn, [(UPSERT_CASE, row) for row in cases])
    run(conn, [(_DELETE_SHARES, row) for row in share_cases])
    run(conn, [(_INSERT_SHARE, row) for row in share_rows])
    write_depts(conn, dept_cases, depts)
    write_staff(conn, staff)
    # Last in the transaction and sorted: other boxes' batches add to the same rows.
    write_last(conn, BUMP_DAILY, daily.rows(), key_width=4, extra_width=1)
    place_ratings(conn, district, new_cases)
    for record, (_, event) in zip(records, events):
        if event.case_no in refold:
            apply_case_event(ctx, conn, box_id, record)


def _read(conn, box_id: str, district: str, events: list[tuple[int, HubEvent]]
          ) -> tuple[set[tuple[str, int]], dict[str, dict[str, Any]]]:
    """The batch's (case_no, seq) already in ``hub_case_events``, and its cases' rows."""
    case_nos = list(dict.fromkeys(event.case_no for _, event in events))
    low, high = events[0][0], events[-1][0]
    held: set[tuple[str, int]] = set()
    old: dict[str, dict[str, Any]] = {}
    for chunk in chunks(case_nos):
        held.update((row[0], row[1]) for row in conn.execute(
            "select case_no, seq from hub_case_events where district_code = ?"
            f" and case_no in ({marks(chunk)}) and box_id = ? and seq between ? and ?",
            (district, *chunk, box_id, low, high)))
        for row in conn.execute(f"select {', '.join(_COLUMNS)} from hub_cases"
                                f" where district_code = ? and case_no in ({marks(chunk)})",
                                (district, *chunk)):
            found = dict(zip(_COLUMNS, row))
            old[found["case_no"]] = found
    return held, old


def _add(daily: Deltas, delta) -> None:
    if delta is not None:
        daily.add(*delta)
