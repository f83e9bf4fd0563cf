"""Evaluator keys on gpiozero mock pins: debounce, held keys, lockout, arming, LEDs, busy store."""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import random
import threading

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from edge.config import EvaluationSection
from edge.evaluations.evaluators import CitizenSimulator, Debouncer, EvaluatorService
from edge.evaluations.ratings import Ratings
from edge.evaluations.tables import SCHEMA_SCRIPT
from edge.ingest import ingest_texts
from edge.profile import parse_profile
from edge.store import Store
from standard.calendar import WorkCalendar
from standard.records import LOCAL_TZ

WAIT = 10  # seconds: generous upper bound for any event in these tests
NOW = dt.datetime(2026, 11, 2, 10, 5, tzinfo=LOCAL_TZ)  # a Monday, in office hours
PROFILE = {
    "version": 1, "pin_factory": "mock", "debounce_ms": 50, "lockout_seconds": 5,
    "windows": [
        {"window_no": 1, "dept_code": "440605SCJ", "evaluator": "five",
         "keys": {"5": 5, "4": 6, "3": 13, "2": 19, "1": 26}, "thanks_led": 12,
         "please_rate_led": 16},
        {"window_no": 2, "dept_code": "440605MZJ", "evaluator": "three",
         "keys": {"4": 22, "3": 10, "2": 9}, "thanks_led": 20, "please_rate_led": 21},
    ],
}


class FakeMonotonic:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CommitCheckingPin(MockPin):
    """A mock pin that notes, whenever it goes high, how many ratings are committed."""

    store: Store | None = None
    seen: list[tuple[int, int]] = []

    def _change_state(self, value):
        if value and self.store is not None and self.info.name in ("GPIO12", "GPIO20"):
            count = self.store.query("select count(*) as n from ratings")[0]["n"]
            CommitCheckingPin.seen.append((int(self.info.name[4:]), count))
        return super()._change_state(value)


@pytest.fixture
def rig(tmp_path):
    """A store, the recording service and a started evaluator service on mock pins."""
    store = Store(tmp_path / "box.db", box_id="t", clock=lambda: NOW)
    store.extra_schema.append(SCHEMA_SCRIPT)
    store.open()
    profile = parse_profile(PROFILE)
    factory = MockFactory(pin_class=CommitCheckingPin)
    CommitCheckingPin.store, CommitCheckingPin.seen = store, []
    ratings = Ratings(store, WorkCalendar(), EvaluationSection(),
                      {w.window_no: w.dept_code for w in profile.windows})
    mono = FakeMonotonic()
    service = EvaluatorService(profile, lambda: {"main": factory}, ratings,
                               wall_clock=lambda: NOW, monotonic=mono, thanks_seconds=3,
                               store_wait_seconds=0.2, retry_pause_seconds=0.05)
    ratings.window_listeners.append(service.request_led_sync)
    recorded: queue.Queue = queue.Queue()
    ignored: list[tuple[int, int, str]] = []
    service.listeners.append(lambda press, outcome: recorded.put((press, outcome)))
    service.ignored_listeners.append(lambda *args: ignored.append(args))
    service.start()
    rig = type("Rig", (), dict(store=store, factory=factory, ratings=ratings, mono=mono,
                               service=service, recorded=recorded, ignored=ignored))
    yield rig
    service.stop()
    CommitCheckingPin.store = None
    store.close()


def tap(rig, pin: int, hold: float = 0.1) -> None:
    rig.factory.pin(pin).drive_low()
    rig.mono.advance(hold)
    rig.factory.pin(pin).drive_high()
    rig.mono.advance(0.2)


def rows(rig) -> list[dict]:
    return rig.store.query("select * from ratings order by id")


def lit(rig, pin: int) -> bool:
    return bool(rig.factory.pin(pin).state)


def arm(rig, window_no: int, case_no: str, event_id: str, staff=("S017", "李敏")) -> None:
    event = {"event_id": event_id, "case_no": case_no, "item_code": "440605-SCJ-001",
             "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
             "occurred_at": (NOW - dt.timedelta(minutes=3)).isoformat(),
             "actor": {"id": staff[0], "name": staff[1]}, "window_no": window_no}
    result = ingest_texts(rig.store, [(0, json.dumps(event, ensure_ascii=False))],
                          source="test", hooks=[rig.ratings.arm_from_events])
    assert result.accepted == 1


def test_debouncer_leading_edge_with_quiet_period():
    debouncer = Debouncer(0.05)
    assert debouncer.edge(True, 1.000)
    assert [debouncer.edge(p, t) for p, t in ((False, 1.003), (True, 1.006), (False, 1.009),
                                              (True, 1.012))] == [False] * 4
    assert [debouncer.edge(p, t) for p, t in ((False, 1.5), (True, 1.51), (False, 1.52))] == \
        [False] * 3  # a bouncing release is no press
    assert debouncer.edge(True, 1.6)


def test_bouncing_pin_gives_one_press(rig):
    pin = rig.factory.pin(5)
    for _ in range(4):  # eight edges 2 ms apart, all inside the 50 ms window
        pin.drive_low()
        rig.mono.advance(0.002)
        pin.drive_high()
        rig.mono.advance(0.002)
    pin.drive_low()
    rig.mono.advance(0.3)
    pin.drive_high()
    assert rig.service.flush(WAIT)
    assert [r["level"] for r in rows(rig)] == [5]


def test_held_key_counts_once(rig):
    pin = rig.factory.pin(6)
    pin.drive_low()
    rig.mono.advance(30)  # held well past the lockout
    pin.drive_low()  # no edge: the pin is already low
    assert rig.service.flush(WAIT)
    pin.drive_high()
    assert rig.service.flush(WAIT)
    assert [r["level"] for r in rows(rig)] == [4]
    assert rig.ignored == []


def test_lockout_one_citizen_one_rating(rig, caplog):
    caplog.set_level(logging.INFO, logger="edge.evaluations.evaluators.keys")
    tap(rig, 5)
    tap(rig, 26)  # 0.3 s later: the same citizen presses again
    tap(rig, 19, hold=0.1)
    assert [(w, level) for w, level, _ in rig.ignored] == [(1, 1), (1, 2)]
    assert "ignored (lockout" in caplog.text
    tap(rig, 13)  # window 2 is not locked by window 1
    tap(rig, 10)
    rig.mono.advance(5)
    tap(rig, 6)  # the next citizen at window 1
    assert rig.service.flush(WAIT)
    assert [(r["window_no"], r["level"]) for r in rows(rig)] == [(1, 5), (2, 3), (1, 4)]


def test_three_key_evaluator_maps_to_4_3_2(rig):
    for pin in (22, 10, 9):
        tap(rig, pin)
        rig.mono.advance(6)
    assert rig.service.flush(WAIT)
    assert [(r["window_no"], r["level"]) for r in rows(rig)] == [(2, 4), (2, 3), (2, 2)]


def test_armed_window_links_the_case_and_leds_follow(rig):
    assert rig.service.flush(WAIT)
    assert not lit(rig, 16)
    arm(rig, 1, "NH2026000001", "E1")
    assert rig.service.flush(WAIT)
    assert lit(rig, 16) and not lit(rig, 21)  # please rate: on at window 1 only
    tap(rig, 5)
    press, outcome = rig.recorded.get(timeout=WAIT)
    assert outcome.armed and outcome.disarmed and outcome.counted
    assert (outcome.case_no, outcome.staff_id, outcome.dept_code) == \
        ("NH2026000001", "S017", "440605SCJ")
    assert not lit(rig, 16)  # disarmed: please-rate LED off
    assert lit(rig, 12)  # thank you
    # The thanks LED went high only once the row was committed.
    assert CommitCheckingPin.seen == [(12, 1)]
    rig.mono.advance(3.1)
    rig.service.request_led_sync()  # wakes the worker; the thanks LED times out
    assert rig.service.flush(WAIT)
    assert not lit(rig, 12)

    # Next citizen, no case reported: recorded against the window and the staff on duty.
    rig.mono.advance(6)
    tap(rig, 19)
    _, outcome = rig.recorded.get(timeout=WAIT)
    assert not outcome.armed and outcome.case_no is None and outcome.staff_id == "S017"
    stored = rows(rig)[-1]
    assert (stored["armed"], stored["staff_name"], stored["level"]) == (0, "李敏", 2)
    assert rig.store.query("select count(*) as n from review_followups")[0]["n"] == 1


def test_rated_case_does_not_arm_again(rig):
    arm(rig, 1, "NH2026000002", "E1")
    tap(rig, 5)
    rig.recorded.get(timeout=WAIT)
    arm(rig, 1, "NH2026000002", "E2")  # 办结 of the same case, say
    assert rig.service.flush(WAIT)
    assert not lit(rig, 16)
    assert rig.store.query("select armed from window_service")[0]["armed"] == 0


def test_press_waits_for_a_busy_store_and_is_recorded_once(rig, caplog):
    busy_logged = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if "store busy" in record.getMessage():
                busy_logged.set()

    watcher = Watch()
    logging.getLogger("edge.evaluations.evaluators.service").addHandler(watcher)
    release = threading.Event()
    blocker = threading.Thread(target=rig.store.write, args=(lambda tx: release.wait(WAIT),))
    blocker.start()
    try:
        tap(rig, 5)
        assert busy_logged.wait(WAIT)  # at least one bounded wait ran out
        assert rows(rig) == [] and not lit(rig, 12)
    finally:
        release.set()
        blocker.join(WAIT)
        logging.getLogger("edge.evaluations.evaluators.service").removeHandler(watcher)
    _, outcome = rig.recorded.get(timeout=WAIT)
    assert rig.service.flush(WAIT)
    assert len(rows(rig)) == 1 and rows(rig)[0]["id"] == outcome.rating_id
    assert lit(rig, 12)
    assert rig.recorded.empty()


def test_stop_writes_what_is_queued(rig):
    release = threading.Event()
    blocker = threading.Thread(target=rig.store.write, args=(lambda tx: release.wait(WAIT),))
    blocker.start()
    tap(rig, 5)
    stopper = threading.Thread(target=rig.service.stop)
    stopper.start()
    release.set()
    stopper.join(WAIT)
    blocker.join(WAIT)
    assert [r["level"] for r in rows(rig)] == [5]
    rig.service.start()  # the fixture stops it again


def test_simulated_citizens_press_mock_pins(rig):
    rig.service.stop()
    rig.service.monotonic = __import__("time").monotonic  # real presses, real time apart
    rig.service.profile = parse_profile({**PROFILE, "lockout_seconds": 0})
    rig.service.start()
    simulator = CitizenSimulator(rig.service.profile, lambda: rig.service.factories,
                                 rng=random.Random(3), mean_interval_seconds=0.05,
                                 hold_seconds=(0.001, 0.002))
    simulator.start()
    try:
        for _ in range(5):
            rig.recorded.get(timeout=WAIT)
    finally:
        simulator.stop()
    assert rig.service.flush(WAIT)
    assert len(rows(rig)) >= 5
    assert {r["channel"] for r in rows(rig)} == {"评价器"}


def test_simulated_citizens_rate_only_a_window_just_served(rig):
    """Nobody presses while no case was served (at night, say); once the platform reports a
    case served at window 1, the citizens rate there, on that case, under its staff."""
    rig.service.stop()
    rig.service.monotonic = __import__("time").monotonic
    rig.service.profile = parse_profile({**PROFILE, "lockout_seconds": 0})
    rig.service.start()
    asked = threading.Semaphore(0)

    def serving() -> set[int]:
        asked.release()
        return rig.ratings.awaiting_rating(NOW, dt.timedelta(minutes=10))

    simulator = CitizenSimulator(rig.service.profile, lambda: rig.service.factories,
                                 rng=random.Random(3), mean_interval_seconds=0.02,
                                 hold_seconds=(0.001, 0.002), serving=serving)
    simulator.start()
    try:
        for _ in range(20):  # twenty citizens came and found no one served
            assert asked.acquire(timeout=WAIT)
        assert simulator.presses == 0 and rows(rig) == []
        arm(rig, 1, "NH-SIM-0001", "E-SIM-1")
        press, outcome = rig.recorded.get(timeout=WAIT)
    finally:
        simulator.stop()
    assert rig.service.flush(WAIT)
    first = rows(rig)[0]
    assert (first["window_no"], first["case_no"], first["staff_name"], first["armed"]) == (
        1, "NH-SIM-0001", "李敏", 1)
    assert {r["window_no"] for r in rows(rig)} == {1}


def test_simulator_refuses_real_pins():
    profile = parse_profile(PROFILE)
    simulator = CitizenSimulator(profile, lambda: {"main": object()}, rng=random.Random(1))
    with pytest.raises(ValueError, match="mock pins"):
        simulator.start()
