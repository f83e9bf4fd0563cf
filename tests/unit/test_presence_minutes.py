"""离岗 minutes: one definition on the box's pages and at the hub.

Only absences that lasted past the threshold (and so became 离岗 alerts) count, each from its
start to its end, office time only; an ongoing one counts until now. A short absence below the
threshold is a present/absent interval, not 离岗, and counts for nothing.
"""

from __future__ import annotations

import datetime as dt

from edge.presence import OfficeSchedule, SnapshotStore, parse_office_hours
from edge.presence.service import PresenceService
from edge.presence.store import PRESENCE_SCHEMA
from edge.store import Store
from edge.storetx import iso
from standard.records import LOCAL_TZ


def local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 2, hour, minute, tzinfo=LOCAL_TZ)  # a Monday


def test_only_absences_count_in_office_time_and_an_open_one_until_now(tmp_path):
    store = Store(tmp_path / "box.db", box_id="440605-01")
    store.extra_schema.append(PRESENCE_SCHEMA)
    store.open()
    schedule = OfficeSchedule(parse_office_hours("08:30-12:00,14:00-17:30"), lambda day: True)
    service = PresenceService(store, SnapshotStore(tmp_path / "snaps", 10_000_000), schedule,
                              clock=lambda: local(15, 10))

    def write(tx):
        rows = [(1, "absent", local(9, 0), local(9, 3)),       # 3 minutes: below the threshold
                (2, "absent", local(11, 50), local(12, 20)),   # 离岗 across the lunch break
                (2, "present", local(12, 20), local(15, 0))]
        for window_no, state, start, end in rows:
            tx.conn.execute("insert into presence_intervals (camera_id, window_no, state,"
                            " started_at, ended_at) values ('cam', ?, ?, ?, ?)",
                            (window_no, state, iso(start), iso(end)))
        for window_no, start, end in ((2, local(11, 50), local(12, 20)),
                                      (3, local(15, 0), None)):  # still away at 15:10
            tx.conn.execute("insert into absences (camera_id, window_no, started_at, taken_at,"
                            " ended_at) values ('cam', ?, ?, ?, ?)",
                            (window_no, iso(start), iso(start), end and iso(end)))

    store.write(write)
    try:
        minutes = service.absence_minutes(dt.date(2026, 11, 2))
    finally:
        store.close()
    assert minutes.get(1, 0.0) == 0.0          # a short absence is not 离岗
    assert round(minutes[2], 6) == 10.0        # 11:50-12:00; lunch is not office time
    assert round(minutes[3], 6) == 10.0        # 15:00 until now, 15:10
