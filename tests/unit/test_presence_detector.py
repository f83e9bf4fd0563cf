"""The Haar person check on a real photograph, and when the judge decides to run it."""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest

from edge.presence.detector import CheckSettings, DetectorError, HaarPersonDetector, PresenceJudge
from edge.presence.ports import LOCAL_TZ, Roi, WindowRegion
from edge.presence.sources import HallScene

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import REGIONS, SIZE, astronaut_sprite

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)
ROI_1, ROI_2 = REGIONS[0].roi, REGIONS[1].roi


@pytest.fixture(scope="module")
def haar() -> HaarPersonDetector:
    return HaarPersonDetector()


@pytest.fixture
def hall() -> HallScene:
    cv2.setRNGSeed(5)
    return HallScene(SIZE, REGIONS, sprite=astronaut_sprite())


@pytest.mark.parametrize("light", [1.0, 0.55, 1.4])
def test_finds_the_face_in_an_occupied_seat_under_any_light(haar, hall, light):
    frame = hall.render(1.0, present={1}, light=light)
    assert haar.look(frame, ROI_1, bodies=True) == "face"
    assert haar.look(frame, ROI_2, bodies=True) is None


def test_an_empty_chair_a_drifting_curtain_and_a_flickering_monitor_show_no_face(haar, hall):
    # The upper-body cascade does fire on this chair and curtain now and then: that is why
    # an upper body alone never makes a seat occupied (see the judge's tests).
    for frame_no in range(12):
        frame = hall.render(frame_no / 2, curtain=True, flicker=True, frame_no=frame_no)
        assert haar.look(frame, ROI_1, bodies=False) is None
        assert haar.look(frame, ROI_2, bodies=True) != "face"


def test_a_missing_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="reinstall opencv"):
        HaarPersonDetector(cascade_dir=tmp_path)


class ScriptedDetector:
    """Answers from a dict ``window_no -> sighting``, and counts the calls."""

    def __init__(self, answers: dict[int, str | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[int, bool]] = []

    def look(self, frame: np.ndarray, roi: Roi, *, bodies: bool):
        window_no = next(r.window_no for r in REGIONS if r.roi == roi)
        self.calls.append((window_no, bodies))
        return self.answers.get(window_no)


def run(
    judge: PresenceJudge,
    hall: HallScene,
    seconds: float,
    start: float = 0.0,
    fps: float = 5,
    **render,
):
    verdicts = []
    for i in range(round(seconds * fps)):
        t = start + i / fps
        verdicts.append(judge.observe(T0 + dt.timedelta(seconds=t), hall.render(t, **render)))
    return verdicts


def test_a_still_picture_keeps_its_verdict_without_new_checks(hall):
    detector = ScriptedDetector({1: "face"})
    judge = PresenceJudge(SIZE, REGIONS, detector)
    verdicts = run(judge, hall, 30, present={1}, still=True)
    assert all(v == {1: True, 2: False} for v in verdicts)
    assert len(detector.calls) <= 6  # the first look, and a few while the background settles


def test_an_occupied_still_seat_is_confirmed_and_cleared_only_after_several_misses(hall):
    detector = ScriptedDetector({1: "face"})
    checks = CheckSettings(recheck_interval=10, static_misses=3)
    judge = PresenceJudge(SIZE, REGIONS, detector, checks=checks)
    run(judge, hall, 5, present={1}, still=True)
    detector.answers[1] = None  # the face turned away: the cascade no longer sees it
    verdicts = run(judge, hall, 25, start=5, present={1}, still=True)
    assert all(v[1] for v in verdicts)  # two failed confirmations are not enough
    verdicts = run(judge, hall, 15, start=30, present={1}, still=True)
    assert not verdicts[-1][1]


def test_motion_triggers_checks_at_most_once_per_interval(hall):
    detector = ScriptedDetector({})
    judge = PresenceJudge(SIZE, REGIONS, detector, checks=CheckSettings(check_interval=2.0))
    run(judge, hall, 20, curtain=True)
    per_window = [sum(1 for no, _ in detector.calls if no == window) for window in (1, 2)]
    assert all(6 <= calls <= 11 for calls in per_window), per_window


def test_an_upper_body_alone_only_holds_a_seat_a_face_was_seen_in(hall):
    detector = ScriptedDetector({1: "body", 2: "face"})
    judge = PresenceJudge(SIZE, REGIONS, detector, checks=CheckSettings(body_holds_for=10))
    first = judge.observe(T0, hall.render(0, present={1, 2}))
    assert first == {1: False, 2: True}
    assert (1, False) in detector.calls  # no need to run the body cascade for an empty seat
    detector.answers[2] = "body"
    verdicts = run(judge, hall, 20, start=1, present={1, 2})
    assert verdicts[5][2] and not verdicts[-1][2]  # held for 10 s after the last face, then let go


def test_a_region_outside_the_frame_is_refused_with_its_window_number():
    region = WindowRegion(7, Roi(300, 100, 100, 100))
    with pytest.raises(
        ValueError, match="window 7: ROI .* does not fit in the camera's 320x240 frame"
    ):
        PresenceJudge(SIZE, [region], ScriptedDetector({}))
