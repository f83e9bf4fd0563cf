"""The demo's simulated halls look like real ones: office hours only, each window's own staff
under one name, cases at their department's window, and lights in a real hall's proportions
(a few percent yellow, one or two in a hundred red), judged by the box's own rules."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

from edge.cases import CaseBoard
from edge.ingest import ingest_texts
from edge.store import Store
from hallwatch.sim import Hall, catalogue_for, in_office
from standard.calendar import WorkCalendar
from standard.catalogue import load_catalogue
from standard.deadlines import LightSettings
from standard.records import LOCAL_TZ

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=LOCAL_TZ)  # a Wednesday afternoon


def test_a_simulated_hall_looks_like_a_real_one(tmp_path):
    lights: Counter = Counter()
    for code in ("440600", "440604", "440605", "440606", "440607", "440608"):
        depts = {1: f"{code}SCJ", 2: f"{code}SCJ", 3: f"{code}MZJ", 4: f"{code}GAJ"}
        hall = Hall(code, windows=4, window_depts=depts)
        events = hall.history(NOW - dt.timedelta(days=42), NOW, 12)
        assert all(in_office(dt.datetime.fromisoformat(e["occurred_at"])) for e in events)
        names = defaultdict(set)
        for event in events:
            names[event["actor"]["id"]].add(event["actor"]["name"])
            if event.get("window_no") and event["dept_code"] in depts.values():
                assert depts[event["window_no"]] == event["dept_code"]
        assert all(len(found) == 1 for found in names.values()) and len(names) <= 4
        catalogue = tmp_path / f"{code}.json"
        catalogue.write_text(json.dumps(catalogue_for(code), ensure_ascii=False), "utf-8")
        store = Store(tmp_path / f"{code}.db", box_id=f"{code}-01").open()
        try:
            texts = [(n, json.dumps(e, ensure_ascii=False)) for n, e in enumerate(events)]
            assert ingest_texts(store, texts, source="sim").accepted == len(events)
            board = CaseBoard(store, load_catalogue(catalogue), WorkCalendar(), LightSettings())
            lights.update(row.light for row in board.cases(NOW))
        finally:
            store.close()
    total = sum(lights.values())
    assert 0.02 <= lights["yellow"] / total <= 0.07, lights  # "about 3-5 %"
    assert 0.003 <= lights["red"] / total <= 0.03, lights
    assert lights["unknown"] == 0


def test_the_simulated_platform_keeps_the_official_calendar():
    """No event on National Day, and the make-up Saturday (调休) is worked, as the boxes count."""
    hall = Hall("440605", windows=4, window_depts={1: "440605SCJ", 2: "440605SCJ",
                                                   3: "440605MZJ", 4: "440605GAJ"})
    start = dt.datetime(2026, 9, 28, 8, 0, tzinfo=LOCAL_TZ)
    events = hall.history(start, dt.datetime(2026, 10, 12, 18, 0, tzinfo=LOCAL_TZ), 40)
    days = Counter(dt.datetime.fromisoformat(e["occurred_at"]).astimezone(LOCAL_TZ).date()
                   for e in events)
    assert not any(dt.date(2026, 10, 1) <= day <= dt.date(2026, 10, 7) for day in days)
    assert days[dt.date(2026, 10, 10)] > 0  # a Saturday worked in exchange for the holiday
    assert days[dt.date(2026, 10, 9)] > 0
