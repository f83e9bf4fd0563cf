"""The camera pipeline, its health watch, and the worker threads (frozen, lost and back, stuck)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import cv2
import numpy as np

from edge.presence.camera import CameraPipeline, CameraWorker, HealthSettings, HealthWatch
from edge.presence.detector import HaarPersonDetector
from edge.presence.ports import MemorySink, Roi
from edge.presence.sources import CaptureSource, FileSource, HallScene, SyntheticSource
from edge.presence.tracker import OfficeSchedule, TrackerSettings

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import (
    EVERY_DAY,
    MONDAY,
    OFFICE_HOURS,
    REGIONS,
    SIZE,
    Segment,
    astronaut_sprite,
    make_clip,
)

WAIT = (
    10.0  # generous: a loaded CI machine may be slow, and the waits end as soon as the event comes
)
QUICK = TrackerSettings(absent_after=dt.timedelta(seconds=0.3), leave_grace=dt.timedelta(0))
# Short enough for quick tests, long enough that a busy CI machine's pauses are no "lost camera".
FAST_HEALTH = HealthSettings(no_frames_after=1.5, frozen_after=0.6, retry_after=0.05, retry_max=0.2)


ONLY_FROZEN = HealthSettings(no_frames_after=30, frozen_after=0.6)


class AnchoredClock:
    """Real elapsed time from Monday 10:00, so office hours hold whenever the tests run."""

    def __init__(self) -> None:
        self.start, self.t0 = MONDAY.replace(hour=10), time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0)


def pipeline(sink: MemorySink, tracker: TrackerSettings = QUICK, detector=None) -> CameraPipeline:
    schedule = OfficeSchedule(OFFICE_HOURS, EVERY_DAY)
    return CameraPipeline(
        REGIONS, sink, schedule, detector or HaarPersonDetector(), tracker=tracker
    )


def health_oks(sink: MemorySink, camera_id: str = "cam-1") -> list[bool]:
    return [call.ok for call in sink.health if call.camera_id == camera_id]


def test_the_pipeline_sends_intervals_and_an_alert_with_its_evidence(tmp_path):
    clip = make_clip(tmp_path / "p.avi", [Segment(20, present={1}), Segment(80)], fps=2)
    sink = MemorySink()
    camera = pipeline(sink, TrackerSettings(absent_after=dt.timedelta(minutes=1)))
    for at, frame in FileSource(clip, MONDAY).frames():
        camera.process(at, frame)
    assert [(c.window_no, c.state) for c in sink.intervals] == [(1, "present")]
    assert camera.states()[1][0] == camera.states()[2][0] == "absent"
    window_2 = next(a for a in sink.alerts if a.window_no == 2)
    assert window_2.started_at == MONDAY and window_2.taken_at == MONDAY + dt.timedelta(
        seconds=60.5
    )
    roi = cv2.imdecode(np.frombuffer(window_2.roi_jpeg, np.uint8), cv2.IMREAD_COLOR)
    whole = cv2.imdecode(np.frombuffer(window_2.frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert roi.shape == (190, 140, 3) and whole.shape == (240, 320, 3)
    assert set(camera.open_alerts()) == {1, 2}
    camera.suspend()
    assert {(c.window_no, c.alert_id) for c in sink.alert_ends} == {
        (a.window_no, a.alert_id) for a in sink.alerts
    }
    assert camera.states() == {1: (None, None), 2: (None, None)} and camera.open_alerts() == {}


def test_health_watch_sees_a_frozen_image_a_silent_camera_and_recovery():
    settings = HealthSettings(no_frames_after=10, frozen_after=5)
    watch = HealthWatch(settings, MONDAY)
    seconds = lambda s: MONDAY + dt.timedelta(seconds=s)
    rng = np.random.default_rng(0)
    live = lambda: rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    assert watch.check(seconds(9)) is None
    assert watch.frame(seconds(9.5), live()).ok
    still = live()
    assert watch.frame(seconds(10), still) is None
    assert [watch.frame(seconds(s), still.copy()) for s in (11, 14)] == [None, None]
    frozen = watch.frame(seconds(15), still.copy())
    assert (
        not frozen.ok
        and "frozen image since" in frozen.detail
        and frozen.last_frame_at == seconds(10)
    )
    assert watch.frame(seconds(16), live()).ok
    silent = watch.check(seconds(26.5), "cannot open camera rtsp://***@cam")
    assert (
        not silent.ok and silent.detail == "no frames for 10 s: cannot open camera rtsp://***@cam"
    )
    assert watch.check(seconds(40)) is None  # reported once
    assert watch.frame(seconds(41), live()).ok


def test_a_frozen_stream_raises_a_device_alert_and_recovers(tmp_path):
    clip = make_clip(
        tmp_path / "frozen.avi",
        [
            Segment(0.5, present={1}),
            Segment(1.5, present={1}, frozen=True),
            Segment(1.5, present={1}),
        ],
        fps=10,
    )
    sink, clock = MemorySink(), AnchoredClock()
    worker = CameraWorker(
        "cam-1", CaptureSource(str(clip), clock, fps=10), pipeline(sink), sink, clock, ONLY_FROZEN
    )
    worker.start()
    try:
        assert sink.wait_for(lambda s: health_oks(s)[:3] == [True, False, True], WAIT), sink.health
    finally:
        assert worker.stop(timeout=WAIT)
    assert "frozen image" in sink.health[1].detail


def test_a_camera_lost_and_back_ends_the_open_alert_and_recovers_by_itself():
    scene = HallScene(SIZE, REGIONS, sprite=astronaut_sprite())
    sink, clock = MemorySink(), AnchoredClock()
    source = SyntheticSource(scene, clock, fps=10, occupied=lambda at: {1})
    worker = CameraWorker("cam-1", source, pipeline(sink), sink, clock, FAST_HEALTH)
    worker.start()
    try:
        assert sink.wait_for(lambda s: any(a.window_no == 2 for a in s.alerts), WAIT)
        assert worker.states()[1][0] == "present" and worker.health().ok
        source.unplug()
        assert sink.wait_for(lambda s: health_oks(s) == [True, False], WAIT), sink.health
        assert "no signal" in sink.health[-1].detail
        assert sink.wait_for(lambda s: len(s.alert_ends) == 1, WAIT)
        assert not worker.health().ok and worker.states()[2] == (None, None)
        source.plug()
        assert sink.wait_for(lambda s: health_oks(s) == [True, False, True], WAIT), sink.health
        # Back on line: a fresh absence of window 2, with a fresh alert.
        assert sink.wait_for(lambda s: sum(a.window_no == 2 for a in s.alerts) == 2, WAIT)
    finally:
        assert worker.stop(timeout=WAIT)
    assert {c.alert_id for c in sink.alert_ends} == {
        a.alert_id for a in sink.alerts
    }  # stop closed the rest


class StuckSource:
    """A driver call that hangs and ignores the stop request."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def frames(self, stop: threading.Event):
        self.release.wait(WAIT)
        yield from ()


class TickingSource:
    """Passes another source's frames on, and sets ``tick`` at each."""

    def __init__(self, inner: SyntheticSource) -> None:
        self.inner, self.name, self.tick = inner, inner.name, threading.Event()

    def frames(self, stop: threading.Event):
        for item in self.inner.frames(stop):
            self.tick.set()
            yield item


def test_a_stuck_camera_blocks_neither_its_watchdog_nor_other_cameras_nor_stop():
    sink, clock = MemorySink(), AnchoredClock()
    stuck = StuckSource()
    blocked = CameraWorker("cam-stuck", stuck, pipeline(sink), sink, clock, FAST_HEALTH)
    scene = HallScene(SIZE, REGIONS, sprite=astronaut_sprite())
    ticking = TickingSource(SyntheticSource(scene, clock, fps=10))
    healthy = CameraWorker("cam-ok", ticking, pipeline(sink), sink, clock, FAST_HEALTH)
    blocked.start()
    healthy.start()
    try:
        assert sink.wait_for(lambda s: health_oks(s, "cam-stuck") == [False], WAIT)
        assert sink.wait_for(lambda s: health_oks(s, "cam-ok") == [True], WAIT)
        began = time.monotonic()
        assert blocked.stop(timeout=0.2) is False  # the reader is still stuck, but stop returned
        assert time.monotonic() - began < 2
        ticking.tick.clear()
        assert ticking.tick.wait(WAIT)  # the healthy camera still delivers
    finally:
        stuck.release.set()
        assert healthy.stop(timeout=WAIT)


class FlakyDetector:
    def __init__(self) -> None:
        self.broken = threading.Event()

    def look(self, frame: np.ndarray, roi: Roi, *, bodies: bool):
        if self.broken.is_set():
            raise RuntimeError("cascade exploded")


def test_a_processing_error_is_a_device_alert_and_the_camera_carries_on():
    sink, clock = MemorySink(), AnchoredClock()
    detector = FlakyDetector()
    scene = HallScene(SIZE, REGIONS, sprite=astronaut_sprite())
    blinking = lambda at: {1} if int(at.timestamp() * 4) % 2 else ()
    source = SyntheticSource(scene, clock, fps=20, occupied=blinking)
    worker = CameraWorker(
        "cam-1", source, pipeline(sink, detector=detector), sink, clock, FAST_HEALTH
    )
    worker.start()
    try:
        assert sink.wait_for(lambda s: health_oks(s) == [True], WAIT)
        detector.broken.set()
        assert sink.wait_for(lambda s: health_oks(s) == [True, False], WAIT)
        assert sink.health[-1].detail == "processing failed: cascade exploded"
        detector.broken.clear()
        assert sink.wait_for(lambda s: health_oks(s) == [True, False, True], WAIT)
    finally:
        assert worker.stop(timeout=WAIT)
