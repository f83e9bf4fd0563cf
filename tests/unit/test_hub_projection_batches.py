"""Batch-wise projections give the rows record-by-record projection gives, on both engines.

Two hubs take the same batches: one as the receiver applies them (each kind's records at
once, hub/projections/batchwise.py), one with the appliers' batch forms removed, so that each
record is projected alone as before. Every view table must then hold the same rows, apart
from ``updated_at``/``at`` (the moment of writing) and ``hub_cases.id`` (PostgreSQL draws an
id for each per-record upsert, used or not; ``hub_case_depts`` and ``hub_case_staff`` are
compared by case number). The departments whose lists show a case are also those its lead and
shares name, and the staff found on a case those its events' actors name.

The batches carry what makes batch-wise application hard: several events of one case and
several states of one rating in one batch, events after a case concluded mid-batch, a
backlog arriving after later records (its cases are refolded), every kind the hub projects,
and records the hub refuses to project (the batch then runs record by record, careful).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.projections import VIEW_TABLES
from standard.records import LOCAL_TZ
from tests.conftest import fresh_database
from tests.hubkit import Clock, open_dashboard, write_hub_folder

NOON = dt.datetime(2026, 11, 16, 12, 0, tzinfo=LOCAL_TZ)
IGNORED = {"updated_at", "id", "at"}


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00").replace(tzinfo=LOCAL_TZ)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _unusual(box: SimBox) -> list[tuple]:
    """One batch of what the simulated history lacks: every other kind, repeated states."""
    item = box.items[0]
    case = {"case_no": "MID-BATCH-1", "item": item}
    records = [box._event(case, stage, _at("08-03", 9 + n))
               for n, stage in enumerate(("申请", "受理", "承办", "审核", "批准", "办结"))]
    # concluded, then events after 办结 (anomalies) in the same batch
    records.append(box._event(case, "办结", _at("08-04")))
    records.append(box._event(case, "收费", _at("08-04", 11), fee_amount=12.5))
    rating = {"id": 90_001, "channel": "评价器", "level": 2, "case_no": "MID-BATCH-1",
              "window_no": 3, "dept_code": item["dept_code"], "counted": True,
              "rated_at": _stamp(_at("11-09", 16))}
    records.append(box.record("rating", rating, _at("11-09", 16)))
    records.append(box.record("rating", {**rating, "level": 1, "invalid_reason": "误评",
                                         "rated_at": _stamp(_at("11-10", 9))}, _at("11-10")))
    records.append(box.record("rating", {**rating, "level": 5, "invalid_reason": None},
                              _at("11-11")))
    records.append(box.record("review_followup", {"followup": {
        "rating_id": 90_001, "state": "return_call", "opened_on": "2026-11-09",
        "return_call_due": "2026-11-10", "rectify_due": "2026-11-30",
        "updated_at": _stamp(_at("11-09", 17))}}, _at("11-09", 17)))
    for absence in (1, 2):
        records.append(box.record("presence", {
            "type": "absence_started", "absence_id": absence, "window_no": absence,
            "camera_id": "cam-a", "alert_id": 70 + absence,
            "started_at": _stamp(_at("11-10", 9 + absence)), "taken_at": None}, _at("11-10")))
    records.append(box.record("presence", {
        "type": "absence_ended", "absence_id": 1, "window_no": 1, "camera_id": "cam-a",
        "alert_id": 71, "ended_at": _stamp(_at("11-10", 13))}, _at("11-10", 13)))
    records.append(box.record("presence", {"type": "interval", "window_no": 1}, _at("11-10")))
    for ok in (False, True):
        records.append(box.record("camera_health", {
            "camera_id": "cam-a", "ok": ok, "detail": "frozen" if not ok else "receiving",
            "last_frame_at": _stamp(_at("11-10"))}, _at("11-10", 14 + ok)))
    records.append(box.record("selftest", {"ok": False, "started_at": _stamp(_at("11-10")),
                                           "checks": [{"status": "fail", "title": "相机",
                                                       "detail": "no frames"}],
                                           "counts": {"fail": 1}}, _at("11-10")))
    records.append(box.record("reconciliation", {
        "version": 1, "date": "2026-11-09", "origin": "中间库",
        "items": [{"item_code": item["item_code"], "platform": 9, "box": 8}]}, _at("11-10", 2)))
    records.append(box.record("reconciliation", {
        "version": 1, "date": "2026-11-09", "origin": "中间库",
        "items": [{"item_code": item["item_code"], "platform": 8, "box": 8}]}, _at("11-11", 2)))
    return records


def _refused(box: SimBox) -> list[tuple]:
    """A batch whose records include one the hub refuses to project (another district's)."""
    foreign = {"case_no": "FOREIGN-1", "item": {"item_code": "440606-SCJ-001",
                                                 "dept_code": "440606SCJ"}}
    event = box._event(foreign, "受理", _at("11-12"))
    event[0]["body"]["district_code"] = "440606"  # claims a district the box is not enrolled for
    box.seq -= 1
    event = box.record("case_event", event[0]["body"], _at("11-12"))
    return [event, box.record("rating", {"id": 90_002, "channel": "评价器", "level": 4,
                                         "dept_code": box.items[0]["dept_code"], "counted": True,
                                         "rated_at": _stamp(_at("11-12"))}, _at("11-12"))]


def _batches() -> list[tuple[SimBox, list[tuple]]]:
    """The batches both hubs take, in order."""
    batches = []
    for n, code in enumerate(("440605", "440606")):
        box = SimBox(f"{code}-0{n}", code, seed=n)
        history = list(box.history(dt.date(2026, 9, 21), 50, 3, today=NOON.date()))
        # live records first, then the backlog behind them: those cases are refolded
        ahead, behind = history[1::2], history[::2]
        batches += [(box, ahead[i:i + 300]) for i in range(0, len(ahead), 300)]
        batches += [(box, behind[i:i + 300]) for i in range(0, len(behind), 300)]
        batches.append((box, _unusual(box)))
        if code == "440605":
            batches.append((box, _refused(box)))
    return batches


# hub_case_depts by case number: its case ids differ between the hubs on PostgreSQL.
_DEPTS = ("select d.dept_suffix, d.district_code, c.case_no, d.is_open from hub_case_depts d"
          " join hub_cases c on c.id = d.case_id")
# What hub_case_depts must hold: each case's lead department and those in its shares.
_DEPTS_DERIVED = ("select dept_suffix, district_code, case_no, is_open from hub_cases union"
                  " select s.dept_suffix, c.district_code, c.case_no, c.is_open from"
                  " hub_case_shares s join hub_cases c on c.district_code = s.district_code"
                  " and c.case_no = s.case_no")

# hub_case_staff by case number too; and what it must hold: each event's actor id (lower
# case) and name, per case.
_STAFF = ("select s.who, s.district_code, c.case_no from hub_case_staff s"
          " join hub_cases c on c.id = s.case_id")
_BY_CASE = {"hub_case_depts": _DEPTS, "hub_case_staff": _STAFF}


def _staff_derived(store) -> list[tuple]:
    rows = set()
    for row in store.query("select e.district_code, e.case_no, r.body from hub_case_events e"
                           " join records r on r.box_id = e.box_id and r.seq = e.seq"):
        actor = json.loads(row["body"])["body"]["actor"]
        for who in (actor["id"].lower(), actor["name"]):
            rows.add((("case_no", row["case_no"]), ("district_code", row["district_code"]),
                      ("who", who)))
    return sorted(rows, key=repr)


def _views(store) -> dict[str, list[tuple]]:
    views = {}
    for table in VIEW_TABLES:
        rows = store.query(_BY_CASE.get(table, f"select * from {table}"))
        views[table] = sorted((tuple((name, row[name]) for name in sorted(row)
                                     if name not in IGNORED) for row in rows), key=repr)
    return views


def _hub(folder: Path, database: str | None):
    write_hub_folder(folder, database)
    return open_dashboard(folder, Clock(NOON)).data.store


def _record_by_record(store) -> None:
    """The store's appliers without their batch forms: each record is projected alone."""
    for kind, appliers in store.appliers.items():
        store.appliers[kind] = [_alone(apply) for apply in appliers]


def _alone(apply):
    def one(conn, box_id, record):
        apply(conn, box_id, record)

    one.careful = apply.careful
    return one


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_batch_wise_and_record_wise_projections_give_the_same_rows(tmp_path, engine, request):
    if engine == "postgresql":
        server = request.getfixturevalue("pg_server")
        with fresh_database(server) as one, fresh_database(server) as other:
            _compare(tmp_path, one, other)
    else:
        _compare(tmp_path, None, None)


def _compare(tmp_path: Path, one: str | None, other: str | None) -> None:
    batch_wise = _hub(tmp_path / "batch", one)
    record_wise = _hub(tmp_path / "record", other)
    _record_by_record(record_wise)
    assert all(hasattr(apply, "many") for appliers in batch_wise.appliers.values()
               for apply in appliers)
    try:
        for box, records in _batches():
            for store in (batch_wise, record_wise):
                feed(store, box, records, batch=len(records))
        expected, got = _views(record_wise), _views(batch_wise)
        assert len(expected["hub_cases"]) > 100 and expected["hub_case_daily"]
        assert [row for row in expected["hub_projection_errors"]], "the refused record is noted"
        assert {table: len(rows) for table, rows in got.items()} == \
            {table: len(rows) for table, rows in expected.items()}
        for table in VIEW_TABLES:
            assert got[table] == expected[table], table
        derived = _views(batch_wise)["hub_case_depts"]
        rows = batch_wise.query(_DEPTS_DERIVED)
        assert sorted((tuple((name, row[name]) for name in sorted(row)) for row in rows),
                      key=repr) == derived
        assert len(derived) > len(got["hub_cases"]), "joint cases add their departments"
        staff = got["hub_case_staff"]
        assert staff == _staff_derived(batch_wise)
        assert len(staff) > 2 * len(got["hub_cases"]), "cases pass through several hands"
    finally:
        batch_wise.close()
        record_wise.close()
