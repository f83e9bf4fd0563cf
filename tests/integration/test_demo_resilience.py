"""The demo's simulated platform keeps going when one district's box stops.

A real box process is stopped in the middle of the feed: the demo marks it offline and keeps
that district's events, and once the box runs again everything that waited arrives, once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from hallwatch.demo import DemoBox, post_events
from tests.boxes import start_box, write_box_folder


def stored_events(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("select count(*) from case_events").fetchone()[0]


def test_a_stopped_box_is_offline_and_its_events_wait_for_it(tmp_path):
    write_box_folder(tmp_path)
    box = DemoBox("440605", "南海", tmp_path, 0)
    running = start_box(tmp_path)
    now = dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.timezone.utc)
    try:
        box.url = running.url
        first = list(box.platform.backlog(now - dt.timedelta(days=3), 3, 4))
        post_events(box, first)
        assert box.online and box.pending == [] and box.accepted == len(first)
        running.stop()

        later = box.platform.new_case(now)
        post_events(box, later)  # returns instead of raising: the demo carries on
        assert not box.online
        assert box.pending == later

        running = start_box(tmp_path)  # the box comes back (on a new port)
        box.url = running.url
        post_events(box, [])
        assert box.online and box.pending == []
        assert box.accepted == len(first) + len(later)
    finally:
        running.stop()
    assert stored_events(running.db) == len(first) + len(later)
