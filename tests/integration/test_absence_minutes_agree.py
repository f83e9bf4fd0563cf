"""离岗 minutes: the hub shows the figure the box shows, for absences that run over lunch too.

The box counts an absence's minutes in office time only (edge/presence/service.py), and its
tracker lets an absence run over the lunch break. The hub gets the same absences through the
box's outbox (the receiver's ``parse_records`` and ``HubStore.apply_batch``) and must not count
the lunch break either: before, a 11:50-14:20 absence was 30 minutes on the box and 150 at
the hub.
"""

from __future__ import annotations

import datetime as dt

from edge.presence import OfficeSchedule, SnapshotStore, parse_office_hours
from edge.presence.service import PresenceService
from edge.presence.store import PRESENCE_SCHEMA
from edge.store import Store
from hub.batch_open import parse_records
from hub.services import Scope
from hub.services.halls import hall_views
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

JPEG = b"\xff\xd8\xff\xe0 not really a picture \xff\xd9"
BOX, DISTRICT = "440605-01", "440605"


def local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 20, hour, minute, tzinfo=LOCAL_TZ)  # a Friday


def test_the_hub_counts_an_absence_over_lunch_as_the_box_does(tmp_path):
    now = local(14, 10)
    store = Store(tmp_path / "box.db", box_id=BOX, clock=Clock(now))
    store.extra_schema.append(PRESENCE_SCHEMA)
    store.open()
    schedule = OfficeSchedule(parse_office_hours("08:30-12:00,14:00-17:30"), lambda day: True)
    service = PresenceService(store, SnapshotStore(tmp_path / "snaps", 10**7), schedule,
                              clock=Clock(now))
    try:
        sink = service.sink("cam-a", {1: f"{DISTRICT}SCJ", 2: f"{DISTRICT}WJJ"})
        over_lunch = sink.absence_alert(1, local(11, 50), JPEG, JPEG, local(11, 55))
        sink.absence_ended(1, over_lunch, local(14, 5))            # 10 + 5 office minutes
        sink.absence_alert(2, local(11, 45), JPEG, JPEG, local(11, 50))  # 15 + 10, still away
        box_minutes = service.absence_minutes(now.date())
        note = store.query("select end_note from absences where window_no = 1")[0]["end_note"]
        outbox = [(row["body"], row["hash"]) for row in store.query(
            "select body, hash from outbox_records order by seq")]
    finally:
        store.close()
    assert {n: round(m, 6) for n, m in box_minutes.items() if m} == {1: 15.0, 2: 25.0}
    assert "共约15分钟" in note  # the alert's own note says the same

    write_hub_folder(tmp_path / "hub")
    dashboard = open_dashboard(tmp_path / "hub", clock=Clock(now))
    try:
        parsed = parse_records(outbox, 1, len(outbox))
        dashboard.data.store.apply_batch(BOX, DISTRICT, parsed, from_seq=1, backlog=0)
        (hall,) = [h for h in hall_views(dashboard.data, Scope.city()) if h.code == DISTRICT]
        hub_minutes = {w.window_no: round(w.minutes, 6) for w in hall.windows}
    finally:
        dashboard.data.store.close()
    assert hub_minutes == {1: 15.0, 2: 25.0}
    assert round(hall.absence_minutes) == round(sum(box_minutes.values())) == 40
