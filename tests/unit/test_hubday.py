"""A simulated hall's day (hallwatch/hubday.py), what the province benchmark relays: the same
records every time for a box, chained as a box's outbox is, in time order, in a busy hall's
proportions, and a hub on either engine takes them: every case of the day on the cases list
with its stage, the day's ratings, warnings and notices on their pages."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter

import orjson

from hallwatch.hubday import day_texts
from hub.store import Batch
from standard.envelope import GENESIS
from tests.hubkit import dashboard_on

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 18, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_a_day_is_the_same_for_a_box_and_chained_in_time_order():
    texts, hashes = day_texts("440605-001", "440605", DAY, 5000)
    assert (texts, hashes) == day_texts("440605-001", "440605", DAY, 5000)
    other = [orjson.loads(text) for text in day_texts("440605-002", "440605", DAY, 5000)[0]]
    head = GENESIS
    for text, digest in zip(texts, hashes):
        head = hashlib.sha256(head + text).digest()
        assert digest == head
    records = [orjson.loads(text) for text in texts]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)
    assert 4900 <= len(records) <= 5100  # whole cases: about the target
    kinds = Counter(r["kind"] for r in records)
    assert 0.8 < kinds["case_event"] / len(records) < 0.9
    assert kinds["rating"] > kinds["alert"] > kinds["notice"] > 0
    assert kinds["alert_event"] > 0
    # a case's events keep their stage order within the day
    stages = {}
    for r in records:
        if r["kind"] == "case_event":
            stages.setdefault(r["body"]["case_no"], []).append(r["body"]["event_type"])
    assert all(events[:2] == ["申请", "受理"] and events[-1] == "办结"
               for events in stages.values())
    # another box of the district: cases of its own (a hub keys cases by district and number)
    assert not stages.keys() & {r["body"]["case_no"] for r in other if r["kind"] == "case_event"}


def test_a_hub_takes_a_day_on_either_engine(tmp_path, hub_database):
    dashboard = dashboard_on(tmp_path / "hub", hub_database, NOW)
    store = dashboard.data.store
    texts, hashes = day_texts("440605-001", "440605", DAY, 3000)
    records = [(orjson.loads(text), text.decode(), digest)
               for text, digest in zip(texts, hashes)]
    new = sum(outcome.new for outcome in store.apply_batches(
        [Batch("440605-001", "440605", records[i:i + 1000], i + 1, 0)
         for i in range(0, len(records), 1000)]))
    assert new == len(records)
    parsed = [record for record, _, _ in records]
    cases = {r["body"]["case_no"] for r in parsed if r["kind"] == "case_event"}
    rows = store.query("select case_no, stage, is_open, finished_on from hub_cases"
                       " where district_code = ?", ("440605",))
    assert {row["case_no"] for row in rows} == cases
    assert all(row["stage"] == "办结" and not row["is_open"] and row["finished_on"] == "2026-11-20"
               for row in rows)
    counts = {table: store.query(f"select count(*) as n from {table}")[0]["n"]
              for table in ("hub_ratings", "hub_notices", "hub_alert_events")}
    assert counts == {"hub_ratings": sum(r["kind"] == "rating" for r in parsed),
                      "hub_notices": sum(r["kind"] == "notice" for r in parsed),
                      "hub_alert_events": sum(r["kind"] == "alert_event" for r in parsed)}
    assert store.query("select count(*) as n from hub_projection_errors")[0]["n"] == 0
    store.close()
