"""The demo's simulated platform keeps going when one district's box stops.

A real box process is stopped in the middle of the feed: the demo marks it offline and keeps
that district's events, and once the box runs again everything that waited arrives, once.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

from hallwatch.demo import BATCH, DemoBox, by_case, post_events
from tests.boxes import start_box, write_box_folder
from tests.integration.relay_harness import wait_for


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


def test_the_history_load_raises_no_card_on_a_case_finished_in_time(tmp_path):
    """Six weeks of history into a real box: no 超期 alert (and so no yellow card) on a case
    the platform finished by its promised date. Sent in time order, slices of it showed such
    cases as open and overdue for a moment, and the box carded them (hundreds a hall)."""
    write_box_folder(tmp_path)
    box = DemoBox("440605", "南海", tmp_path, 0)
    running = start_box(tmp_path)
    now = dt.datetime.now(dt.timezone.utc)
    try:
        box.url = running.url
        history = box.platform.history(now - dt.timedelta(days=42), now, 12)
        post_events(box, by_case(history))
        assert box.online and box.accepted == len(history) > 2 * BATCH
        wait_for(lambda: not _query(running.db, "select 1 from cases_to_judge limit 1"),
                 120, what="the box judging every case")
        false_cards = _query(
            running.db,
            "select a.case_no, a.detail from alerts a join cases c on c.case_no = a.case_no"
            " where a.rule = '超期' and json_extract(c.facts, '$.finished_on') is not null"
            " and json_extract(c.facts, '$.finished_on') <= substr(a.detail,"
            " instr(a.detail, '承诺办结日期') + 6, 10)")
    finally:
        running.stop()
    assert false_cards == []


def _query(db, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql).fetchall()
