"""One camera: frames in, presence and health out, on threads of its own.

- ``CameraPipeline`` is synchronous: each frame goes through the ``PresenceJudge`` and the
  windows' trackers, and the trackers' events become ``PresenceSink`` calls. The offline
  analysis uses it directly.
- ``HealthWatch`` says when a camera stops delivering frames or delivers the same image over
  and over (a hung encoder), and when it recovers.
- ``CameraWorker`` runs a pipeline on a reader thread and a watchdog thread. A camera that
  blocks or fails holds only its own threads; ``stop()`` returns within its timeout.

Example::

    >>> source = CaptureSource("rtsp://...", clock)                    # doctest: +SKIP
    >>> worker = CameraWorker("cam-1", source, pipeline, sink, clock)  # doctest: +SKIP
    >>> worker.start(); ...; worker.stop(timeout=5)                    # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from edge.presence.detector import CheckSettings, PersonDetector, PresenceJudge
from edge.presence.evidence import evidence_jpegs
from edge.presence.motion import MotionSettings
from edge.presence.ports import Clock, PresenceSink, State, WindowRegion
from edge.presence.sources import FrameSource, SourceError
from edge.presence.tracker import (
    AbsenceAlerted,
    AbsenceEnded,
    Event,
    IntervalClosed,
    OfficeSchedule,
    TrackerSettings,
    WindowTracker,
)

logger = logging.getLogger(__name__)


class CameraPipeline:
    """Judge each frame's windows, track their state, and tell the sink what happened."""

    def __init__(
        self,
        regions: Sequence[WindowRegion],
        sink: PresenceSink,
        schedule: OfficeSchedule,
        detector: PersonDetector,
        *,
        tracker: TrackerSettings | None = None,
        motion: MotionSettings | None = None,
        checks: CheckSettings | None = None,
        evidence_width: int = 640,
    ) -> None:
        self.regions = list(regions)
        self.sink = sink
        self.detector = detector
        self.trackers = {
            region.window_no: WindowTracker(region.window_no, schedule, tracker)
            for region in regions
        }
        self.checks_run = 0
        self._motion, self._checks = motion, checks
        self._evidence_width = evidence_width
        self._judge: PresenceJudge | None = None
        self._alert_ids: dict[int, str] = {}

    def process(self, at: dt.datetime, frame: np.ndarray) -> dict[int, bool]:
        """Take one frame; returns whether each window is occupied in it."""
        size = (frame.shape[1], frame.shape[0])
        if self._judge is None or self._judge.frame_size != size:
            self._judge = PresenceJudge(
                size, self.regions, self.detector, self._motion, self._checks
            )
        before = self._judge.checks_run
        occupied = self._judge.observe(at, frame)
        self.checks_run += self._judge.checks_run - before
        for region in self.regions:
            self._dispatch(
                self.trackers[region.window_no].update(at, occupied[region.window_no]), frame
            )
        return occupied

    def observe(self, at: dt.datetime, occupied: Collection[int],
                draw: Callable[[], np.ndarray]) -> None:
        """Take what is known without a frame to judge (a replayed day): the windows occupied
        at ``at``; ``draw()`` gives the frame, asked only for an absence alert's snapshots."""
        for no, tracker in self.trackers.items():
            events = tracker.update(at, no in occupied)
            alerted = any(isinstance(event, AbsenceAlerted) for event in events)
            self._dispatch(events, draw() if alerted else None)

    def suspend(self) -> None:
        """The video is gone: close intervals and alerts, and judge afresh when it returns."""
        self._judge = None
        for tracker in self.trackers.values():
            self._dispatch(tracker.suspend(), None)

    def states(self) -> dict[int, tuple[State | None, dt.datetime | None]]:
        """Each window's current state and since when, for the live board."""
        return {no: (tracker.state, tracker.since) for no, tracker in self.trackers.items()}

    def open_alerts(self) -> dict[int, str]:
        """Window number to the id of its absence alert still open."""
        return dict(self._alert_ids)

    def _dispatch(self, events: list[Event], frame: np.ndarray | None) -> None:
        for event in events:
            if isinstance(event, IntervalClosed):
                self.sink.interval(
                    window_no=event.window_no,
                    state=event.state,
                    started_at=event.started_at,
                    ended_at=event.ended_at,
                )
            elif isinstance(event, AbsenceAlerted) and frame is not None:
                roi = next(r.roi for r in self.regions if r.window_no == event.window_no)
                roi_jpeg, frame_jpeg = evidence_jpegs(frame, roi, self._evidence_width)
                self._alert_ids[event.window_no] = self.sink.absence_alert(
                    window_no=event.window_no,
                    started_at=event.started_at,
                    roi_jpeg=roi_jpeg,
                    frame_jpeg=frame_jpeg,
                    taken_at=event.raised_at,
                )
            elif isinstance(event, AbsenceEnded) and event.window_no in self._alert_ids:
                self.sink.absence_ended(
                    window_no=event.window_no,
                    alert_id=self._alert_ids.pop(event.window_no),
                    ended_at=event.ended_at,
                )


@dataclass(frozen=True)
class HealthSettings:
    no_frames_after: float = 15.0  # seconds without a frame before a device alert
    frozen_after: float = 60.0  # seconds of identical frames before a device alert
    retry_after: float = 2.0  # first pause before reopening a failed source; doubles up to max
    retry_max: float = 30.0


@dataclass(frozen=True)
class HealthChange:
    ok: bool
    detail: str
    last_frame_at: dt.datetime | None


class HealthWatch:
    """A camera's health from its frames (reader thread) and the clock (watchdog thread)."""

    def __init__(self, settings: HealthSettings, started_at: dt.datetime) -> None:
        self.settings = settings
        self.state = "starting"  # starting, ok, no_frames, frozen, error
        self.detail = "waiting for the first frame"
        self.last_frame_at: dt.datetime | None = None
        self._waiting_since = started_at
        self._previous: np.ndarray | None = None
        self._same_since: dt.datetime | None = None

    @property
    def frozen(self) -> bool:
        return self.state == "frozen"

    def frame(self, at: dt.datetime, frame: np.ndarray) -> HealthChange | None:
        """A frame arrived; a bit-identical repeat is no sign of life."""
        previous, self._previous = self._previous, frame
        self._waiting_since = at
        repeated = previous is not None and previous.shape == frame.shape
        if repeated and np.array_equal(previous, frame):
            self._same_since = self._same_since or self.last_frame_at or at
            same_for = (at - self._same_since).total_seconds()
            if same_for >= self.settings.frozen_after and not self.frozen:
                return self._become("frozen", f"frozen image since {self._same_since.isoformat()}")
            return None
        self._same_since = None
        self.last_frame_at = at
        if self.state in ("starting", "no_frames", "frozen"):
            return self._become("ok", "receiving frames")
        return None

    def check(self, now: dt.datetime, problem: str | None = None) -> HealthChange | None:
        """Called regularly: a device alert when no frame came for ``no_frames_after``."""
        silent = (now - self._waiting_since).total_seconds()
        if silent >= self.settings.no_frames_after and self.state != "no_frames":
            detail = f"no frames for {silent:.0f} s" + (f": {problem}" if problem else "")
            return self._become("no_frames", detail)
        return None

    def error(self, detail: str) -> HealthChange | None:
        return self._become("error", detail) if self.state != "error" else None

    def processed(self) -> HealthChange | None:
        return self._become("ok", "receiving frames") if self.state == "error" else None

    def _become(self, state: str, detail: str) -> HealthChange:
        self.state, self.detail = state, detail
        return HealthChange(state == "ok", detail, self.last_frame_at)


class CameraWorker:
    """Runs one camera's pipeline on its own threads; start once, stop once."""

    def __init__(
        self,
        camera_id: str,
        source: FrameSource,
        pipeline: CameraPipeline,
        sink: PresenceSink,
        clock: Clock,
        settings: HealthSettings | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.source = source
        self.pipeline = pipeline
        self.sink = sink
        self.settings = settings or HealthSettings()
        self.frames_seen = 0
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()  # pipeline and health; never held while reading a frame
        self._health = HealthWatch(self.settings, clock())
        self._problem: str | None = None
        self._threads: list[threading.Thread] = []
        self._latest: tuple[dt.datetime, np.ndarray] | None = None

    def latest(self) -> tuple[dt.datetime, np.ndarray] | None:
        """The last frame read and when (live video reuses it: the camera is opened once)."""
        return self._latest

    def start(self) -> None:
        self._health = HealthWatch(self.settings, self._clock())
        self._threads = [
            threading.Thread(target=self._read, name=f"camera-{self.camera_id}", daemon=True),
            threading.Thread(
                target=self._watch, name=f"camera-{self.camera_id}-watchdog", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop both threads and close what is open; False if the reader was still stuck."""
        self._stop.set()
        # Thread mechanics, not presence logic: the injected clock has no say here.
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._suspend()
        return not any(thread.is_alive() for thread in self._threads)

    def health(self) -> HealthChange:
        """The camera's health now, for the device health page."""
        with self._lock:
            watch = self._health
            return HealthChange(watch.state == "ok", watch.detail, watch.last_frame_at)

    def states(self) -> dict[int, tuple[State | None, dt.datetime | None]]:
        with self._lock:
            return self.pipeline.states()

    def _read(self) -> None:
        pause = self.settings.retry_after
        while not self._stop.is_set():
            try:
                for at, frame in self.source.frames(self._stop):
                    self._take(at, frame)
                    pause = self.settings.retry_after
                self._problem = "the stream ended"
            except SourceError as exc:
                self._problem = str(exc)
            except Exception as exc:  # a bug in one camera must not end its thread for good
                logger.exception("camera %s: reading failed", self.camera_id)
                self._problem = f"reading failed: {exc}"
            self._stop.wait(pause)
            pause = min(pause * 2, self.settings.retry_max)

    def _take(self, at: dt.datetime, frame: np.ndarray) -> None:
        self._latest = (at, frame)  # one reference swap; readers never block the camera
        with self._lock:
            self.frames_seen += 1
            change = self._health.frame(at, frame)
            if change is not None and not change.ok:
                self._suspend()  # a frozen picture is no evidence of anyone
            self._report(change)
            if self._health.frozen:
                return
            try:
                self.pipeline.process(at, frame)
                self._report(self._health.processed())
            except Exception as exc:
                if self._health.state != "error":
                    logger.exception("camera %s: processing a frame failed", self.camera_id)
                self._report(self._health.error(f"processing failed: {exc}"))

    def _watch(self) -> None:
        interval = min(1.0, self.settings.no_frames_after / 4)
        while not self._stop.wait(interval):
            with self._lock:
                change = self._health.check(self._clock(), self._problem)
                if change is not None:
                    self._suspend()
                    self._report(change)

    def _suspend(self) -> None:
        try:
            self.pipeline.suspend()
        except Exception:  # the store's trouble must not stop the camera
            logger.exception("camera %s: closing intervals failed", self.camera_id)

    def _report(self, change: HealthChange | None) -> None:
        if change is None:
            return
        try:
            self.sink.camera_health(
                camera_id=self.camera_id,
                ok=change.ok,
                detail=change.detail,
                last_frame_at=change.last_frame_at,
            )
        except Exception:  # the store's trouble must not stop the camera
            logger.exception("camera %s: reporting health failed", self.camera_id)
