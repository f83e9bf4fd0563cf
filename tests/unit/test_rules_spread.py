"""The pass over open cases judged over two processes says exactly what one process says.

``SpreadJudge`` (edge/supervision/judging.py) hands ranges of open cases to a spawned worker
while the engine judges from the other end. Two boxes get the same generated six weeks of cases
and events; one judges on one core, the other hands ranges of 16 cases to the worker from the
first case on. Every day their alerts (ids included), audit entries, notices and the records
queued for the hub (but for their envelopes' wall-clock stamps) must be identical, including
days when every open case is judged again (the kept verdicts gone, as after a catalogue
change), and no worker process may be left afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing

from edge.ingest import ingest_texts
from tests.unit.test_rules import at, make_box
from tests.unit.test_rules_fastpath import FIRST, LAST, story

TABLES = {
    "alerts": "select * from alerts order by id",
    "alert_events": "select * from alert_events order by id",
    "notices": "select * from notices order by number",
    "records": "select seq, kind, body from outbox where kind not like 'case%' order by seq",
}


def snapshot(box) -> dict[str, list[tuple]]:
    """The tables' rows; an outbox record without its envelope's wall-clock stamp (``at``)."""
    shown = {name: [tuple(row.values()) for row in box.store.query(sql)]
             for name, sql in TABLES.items()}
    shown["records"] = [(seq, kind, _unstamped(json.loads(body)))
                        for seq, kind, body in shown["records"]]
    return shown


def _unstamped(body):
    if isinstance(body, dict):
        return {key: value for key, value in body.items() if key != "at"}
    return body


def test_two_processes_judge_exactly_as_one(tmp_path):
    one, two = make_box(tmp_path / "one"), make_box(tmp_path / "two")
    two.engine.spread.spread_min, two.engine.spread.range_size = 0, 16
    assert two.engine.spread.workers >= 1 or multiprocessing.cpu_count() < 2
    two.engine.spread.workers = 1  # even on a one-core machine: the code path is the point
    two.engine.spread.free_core = lambda: True  # and however busy the machine is
    events = story(5, cases=240)
    spread = 0
    day = FIRST
    while day <= LAST:
        for box in (one, two):
            texts = [(n, json.dumps(e, ensure_ascii=False))
                     for n, e in enumerate(events.get(day, []))]
            if texts:
                assert not ingest_texts(box.store, texts, source="t").rejected
        if (day - FIRST).days % 3:
            day += dt.timedelta(days=1)
            continue  # a pass every third day: each starts a worker (about a second)
        for box in (one, two):
            if day.day % 2 == 0:  # every open case judged again, as after a catalogue change
                box.store.write(lambda tx: tx.conn.execute("delete from case_verdicts"))
            box.engine.check(at(day.isoformat(), "09:00"))
        spread += two.engine.spread.last_spread
        assert snapshot(one) == snapshot(two), day
        assert multiprocessing.active_children() == []  # nothing kept while idle
        day += dt.timedelta(days=1)
    assert spread > 10, spread  # the worker really judged ranges
    shown = snapshot(two)
    assert shown["alerts"] and shown["notices"] and shown["records"]
    one.store.close()
    two.store.close()


def test_no_worker_is_started_without_a_core_to_spare(tmp_path):
    box = make_box(tmp_path)
    spread = box.engine.spread
    spread.spread_min, spread.range_size, spread.workers = 0, 2, 1
    asked = []
    spread.free_core = lambda: asked.append(True) and False
    for n in range(6):
        box.accept(f"C{n}")
    box.engine.check(at("2026-10-07"))  # judged from the backlog, no alert yet
    box.store.write(lambda tx: tx.conn.execute("delete from case_verdicts"))
    box.engine.check(at("2026-10-08"))  # every open case judged again, in ranges of 2
    assert asked and spread.last_spread == 0 and multiprocessing.active_children() == []
    assert {row["rule"] for row in box.store.query("select rule from alerts")} == {"临近时限"}
    box.store.close()


def test_a_broken_worker_costs_nothing_but_time(tmp_path):
    box = make_box(tmp_path)
    spread = box.engine.spread
    spread.spread_min, spread.range_size, spread.workers = 0, 2, 1
    spread.free_core = lambda: True
    spread.path = tmp_path / "missing.db"  # the worker cannot open it: it fails to start
    for n in range(6):
        box.accept(f"C{n}")
    box.engine.check(at("2026-10-07"))  # judged from the backlog, no alert yet
    box.store.write(lambda tx: tx.conn.execute("delete from case_verdicts"))
    box.engine.check(at("2026-10-08"))  # every open case judged again, in ranges of 2
    assert spread.last_spread == 0 and spread.workers == 0  # one core from now on
    alerts = box.store.query("select case_no, rule from alerts order by id")
    assert [(a["case_no"], a["rule"]) for a in alerts] == [(f"C{n}", "临近时限") for n in range(6)]
    box.store.close()
