"""Presence (离岗) on a real box: profile cameras on generated clips, a real store, real alerts.

The box's clock is real elapsed time from a Monday 10:00 (a workday in the official
calendar), so office hours hold whenever the tests run. Waits end as soon as the store shows
what the test waits for: ``box.presence.wait_for`` re-checks after every presence write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time

import cv2
import pytest

from edge.app import build_box
from edge.config import load_box_config
from edge.ingest import ingest_texts
from edge.presence import encode_jpeg, evidence_jpegs
from edge.presence.simulation import SimulatedStaff
from edge.presence.sources import HallScene
from tests.boxes import write_box_folder
from tests.presence_clips import MONDAY, REGIONS, SIZE, Segment, astronaut_sprite, make_clip

WAIT = 15.0  # generous for a loaded machine; every wait ends as soon as its condition holds
KEYS = {1: {"5": 5, "4": 6, "3": 13, "2": 19, "1": 26}, 2: {"5": 2, "4": 3, "3": 4, "2": 17,
                                                               "1": 27}}


class AnchoredClock:
    """Real elapsed time from Monday 10:00."""

    def __init__(self) -> None:
        self.start, self.t0 = MONDAY.replace(hour=10), time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0)


def profile_text(cameras: list[tuple[str, str, list[int]]]) -> str:
    """A two-window profile (mock pins) with ``(camera id, source, window numbers)``."""
    lines = ['version = 1', 'pin_factory = "mock"',
             'office_hours = ["08:30-12:00", "14:00-17:30"]']
    for no, keys in KEYS.items():
        pins = ", ".join(f"{level} = {pin}" for level, pin in keys.items())
        lines += ["[[windows]]", f"window_no = {no}", 'dept_code = "440605SCJ"',
                  'evaluator = "five"', f"keys = {{{pins}}}"]
    for camera_id, source, windows in cameras:
        lines += ["[[cameras]]", f'id = "{camera_id}"', f"source = {json.dumps(source)}",
                  "fps = 10", f"width = {SIZE[0]}", f"height = {SIZE[1]}"]
        for region in REGIONS:
            if region.window_no in windows:
                lines += ["[[cameras.windows]]", f"window_no = {region.window_no}",
                          f"roi = {region.roi.as_list()}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def make_box(tmp_path):
    """Build (not start) a box whose profile has these cameras and whose [presence] is this."""
    boxes = []

    def make(cameras, simulate=False, **presence):
        (tmp_path / "hall.toml").write_text(profile_text(cameras), encoding="utf-8")
        settings = {"absent_after_minutes": 0.02, "leave_grace_seconds": 0.5,
                    "evidence_check_seconds": 0.2, **presence}
        config = write_box_folder(tmp_path, profile="hall.toml", simulate=simulate,
                                  presence=settings)
        box = build_box(load_box_config(config), clock=AnchoredClock())
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.stop()


def rows(box, sql: str, params=()) -> list[dict]:
    return box.store.query(sql, params)


def outbox(box, kind: str) -> list[dict]:
    return [json.loads(row["body"])["body"] for row in rows(
        box, "select body from outbox where kind = ? order by seq", (kind,))]


def alert(box, subject_like: str) -> dict | None:
    found = rows(box, "select * from alerts where subject like ? order by id", (subject_like,))
    return found[-1] if found else None


def staff_event(box, window_no: int) -> None:
    """The platform names 李敏 at the window, as it does when she takes in a case."""
    event = {"event_id": "PRES-1", "case_no": "NH-PRES-0001", "item_code": "440605-SCJ-001",
             "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
             "occurred_at": box.clock().isoformat(), "window_no": window_no,
             "actor": {"id": "S001", "name": "李敏"}}
    ingest_texts(box.store, [(1, json.dumps(event, ensure_ascii=False))], source="test",
                 hooks=box.ingest_hooks)


def test_an_absence_raises_an_alert_with_evidence_and_a_return_clears_it(tmp_path, make_box):
    # Window 1: staffed 3 s, empty 3 s, looped. Window 2: nobody, ever.
    clip = make_clip(tmp_path / "hall.avi", [Segment(3, present={1}), Segment(3)], fps=10)
    box = make_box([("cam-1", str(clip), [1, 2])])
    box.store.open()
    staff_event(box, 2)
    box.start()

    # The absence ends, then its interval closes (two writes): wait for both.
    returned = ("select ab.* from absences ab join presence_intervals p on p.window_no = 1"
                " and p.state = 'absent' and p.ended_at = ab.ended_at where ab.window_no = 1")
    assert box.presence.wait_for(
        lambda: alert(box, "window:2:absence:%") and rows(box, returned), WAIT)

    absent = alert(box, "window:2:absence:%")
    assert (absent["rule"], absent["level"], absent["state"]) == ("离岗", "yellow", "open")
    assert absent["dept_code"] == "440605SCJ" and "李敏（S001）" in absent["detail"]
    roi = cv2.imread(str(box.presence.snapshot_path(absent["id"], "roi")))
    whole = cv2.imread(str(box.presence.snapshot_path(str(absent["id"]), "frame")))
    assert roi.shape == (190, 140, 3) and whole.shape == (240, 320, 3)
    started = [r for r in outbox(box, "presence") if r["type"] == "absence_started"]
    assert {r["alert_id"] for r in started} >= {absent["id"]}
    assert next(r for r in started if r["alert_id"] == absent["id"])["staff_name"] == "李敏"

    # Window 1 came back: the absence and its interval are closed, the alert stays to be handled.
    back = rows(box, returned)[0]
    cleared = alert(box, f"window:1:absence:{back['id']}")
    assert cleared["state"] == "open" and cleared["cleared_at"] == back["ended_at"]
    actions = [e["action"] for e in rows(box, "select action from alert_events where alert_id"
                                              " = ? order by id", (cleared["id"],))]
    assert actions == ["open", "clear"]
    assert any(r["type"] == "absence_ended" and r["alert_id"] == cleared["id"]
               for r in outbox(box, "presence"))
    assert any(r["type"] == "interval" and r["window_no"] == 1 for r in outbox(box, "presence"))

    # What the pages read.
    assert set(box.presence.states()) == {1, 2} and box.presence.health().ok
    assert box.presence.absence_minutes()[2] > 0
    assert [span.state for span in box.presence.timeline()[2]] == ["absent"]
    listed = box.presence.absences(window_no=2)[0]
    assert listed.alert_id == absent["id"] and set(listed.snapshots) == {"roi", "frame"}
    assert box.presence.usage().files >= 4
    for alert_id, kind in (("../../box.db", "roi"), (absent["id"], "../roi"), ("1e3", "roi"),
                           (absent["id"], "frame/../../x"), ("-1", "roi"), ("٣", "roi")):
        assert box.presence.snapshot_path(alert_id, kind) is None


def test_a_missing_camera_and_a_frozen_one_raise_device_alerts_that_resolve(tmp_path,
                                                                         make_box):
    later = tmp_path / "plugged-in-later.avi"
    frozen = make_clip(tmp_path / "frozen.avi", [Segment(0.5, present={2}),
                                                 Segment(1.5, present={2}, frozen=True),
                                                 Segment(1.5, present={2})], fps=10)
    box = make_box([("cam-lost", str(later), [1]), ("cam-frozen", str(frozen), [2])],
                   no_frames_after=1.0, frozen_after=0.6)
    box.start()

    assert box.presence.wait_for(lambda: alert(box, "device:camera:cam-lost"), WAIT)
    lost = alert(box, "device:camera:cam-lost")
    assert (lost["rule"], lost["level"], lost["state"]) == ("摄像头异常", "red", "open")
    assert "无画面" in lost["detail"] and not box.presence.health().ok
    # Named by the window it watches, not by its id or by every window of the hall.
    assert lost["detail"].startswith("1号窗口摄像头"), lost["detail"]
    ready = make_clip(tmp_path / "ready.avi", [Segment(1, present={1})], fps=10)
    os.replace(ready, later)  # the cable is back
    assert box.presence.wait_for(
        lambda: alert(box, "device:camera:cam-lost")["state"] == "resolved", WAIT)

    resolved_frozen = "select 1 from alert_events e join alerts a on a.id = e.alert_id where" \
                      " a.subject = 'device:camera:cam-frozen' and e.action = 'resolve'"
    assert box.presence.wait_for(lambda: rows(box, resolved_frozen), WAIT)
    assert "画面冻结" in alert(box, "device:camera:cam-frozen")["detail"]
    assert alert(box, "device:camera:cam-frozen")["detail"].startswith("2号窗口摄像头")
    health = outbox(box, "camera_health")
    assert [r["ok"] for r in health if r["camera_id"] == "cam-lost"][:2] == [False, True]
    assert False in [r["ok"] for r in health if r["camera_id"] == "cam-frozen"]
    assert {r["camera_id"] for r in rows(box, "select camera_id from cameras")} == {
        "cam-lost", "cam-frozen"}


def test_the_snapshot_quota_removes_the_evidence_of_closed_alerts_first(tmp_path, make_box):
    scene = HallScene(SIZE, REGIONS, sprite=astronaut_sprite())
    evidence = evidence_jpegs(scene.render(0.0), REGIONS[0].roi)
    one_alert = sum(map(len, evidence))
    assert encode_jpeg(scene.render(0.0))  # the frames are real JPEGs
    # Room for two alerts' evidence, not three. The camera is unplugged: the sink is driven here.
    box = make_box([("cam-1", str(tmp_path / "none.avi"), [1, 2])],
                   snapshot_quota_mb=2.5 * one_alert / 2**20, no_frames_after=600)
    box.start()
    sink = box.presence.sink("cam-1", {1: "440605SCJ", 2: "440605SCJ"})
    at = box.clock()
    first = sink.absence_alert(1, at, *evidence, taken_at=at)
    second = sink.absence_alert(2, at, *evidence, taken_at=at)
    box.supervision.close(int(first), user="区监察室-张伟", note="已核实：外出取件")

    released = "select 1 from absences where alert_id = ? and evidence_closed_at is not null"
    assert box.presence.wait_for(lambda: rows(box, released, (int(first),)), WAIT)
    third = sink.absence_alert(1, box.clock(), *evidence, taken_at=box.clock())

    assert box.presence.snapshot_path(first, "roi") is None  # closed: removed first
    assert box.presence.snapshot_path(second, "roi") and box.presence.snapshot_path(third, "roi")
    usage = box.presence.usage()
    assert usage.removed_files == 2 and usage.used_bytes <= usage.quota_bytes


def test_a_simulated_hall_shows_the_shipped_face_at_every_desk(make_box):
    box = make_box([("cam-1", "0", [1, 2])], simulate=True, absent_after_minutes=5)
    box.start()
    assert box.presence.wait_for(lambda: box.presence.health().ok and {
        state for state, _since in box.presence.states().values()} == {"present"}, WAIT)
    assert box.presence.cameras()[0].source == "simulated cam-1"


def test_simulated_staff_step_away_and_sometimes_stay_away_too_long():
    long_away = dt.timedelta(minutes=2)
    staff = SimulatedStaff([1, 2], random.Random("440605-01"), long_away=long_away)
    seconds = 4 * 3600
    seated = [staff.occupied(MONDAY + dt.timedelta(seconds=s)) for s in range(seconds)]
    away, longest = 0, 0
    for at in seated:
        away = 0 if 1 in at else away + 1
        longest = max(longest, away)
    share = sum(1 in at for at in seated) / seconds
    assert 0.6 < share < 0.95 and longest > long_away.total_seconds()
    again = SimulatedStaff([1, 2], random.Random("440605-01"), long_away=long_away)
    assert seated == [again.occupied(MONDAY + dt.timedelta(seconds=s)) for s in range(seconds)]
