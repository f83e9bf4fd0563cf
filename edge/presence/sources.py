"""Frame sources: a camera (V4L2 index, RTSP/HTTP URL), a clip on its own timeline, a fake hall.

A source is a generator of ``(taken_at, frame)`` pairs. It opens its device when iteration
starts, releases it when iteration ends (in the same thread: OpenCV captures are not safe to
release from another thread), and returns when the stream ends or fails. The camera worker
then retries.

Example::

    >>> source = FileSource("clip.avi", start=dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ))
    >>> for taken_at, frame in source.frames():   # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from edge.presence.ports import Clock, WindowRegion

Frame = tuple[dt.datetime, np.ndarray]


class SourceError(Exception):
    """A frame source cannot be opened or read."""


class FrameSource(Protocol):
    """Anything that yields timestamped BGR frames until ``stop`` is set or the stream ends."""

    name: str

    def frames(self, stop: threading.Event) -> Iterator[Frame]: ...


def parse_camera_target(text: str) -> int | str:
    """A profile's camera field: ``"0"`` is a V4L2 device index, anything else a URL or a file."""
    return int(text) if text.strip().isdigit() else text.strip()


def redact(target: int | str) -> str:
    """The target for logs and health pages, without a password in an RTSP URL."""
    if isinstance(target, int):
        return f"/dev/video{target}"
    return re.sub(r"//[^/@]*@", "//***@", target)


class CaptureSource:
    """A live camera, or a video file played at its own speed, looped (the demo).

    Frames come at most ``fps`` times a second; a live camera's extra frames are grabbed and
    dropped, so its buffer never lags. Opening and reading are bounded by timeouts, so a dead
    RTSP stream costs this camera's thread a few seconds, never the box.
    """

    def __init__(
        self,
        target: int | str,
        clock: Clock,
        *,
        fps: float = 5.0,
        open_timeout: float = 5.0,
        read_timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.name = redact(target)
        self._clock = clock
        self._interval = dt.timedelta(seconds=1 / fps)
        self._timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout * 1000),
                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout * 1000)]  # fmt: skip
        self._is_file = isinstance(target, str) and Path(target).is_file()

    def _open(self) -> cv2.VideoCapture:
        if isinstance(self.target, int):
            capture = cv2.VideoCapture(self.target)
        else:
            capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, self._timeouts)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open camera {self.name}")
        return capture

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        capture = self._open()
        try:
            yield from (self._file_frames if self._is_file else self._live_frames)(capture, stop)
        finally:
            capture.release()

    def _live_frames(self, capture: cv2.VideoCapture, stop: threading.Event) -> Iterator[Frame]:
        next_due = None
        while not stop.is_set():
            if not capture.grab():
                return
            now = self._clock()
            if next_due is not None and now < next_due:
                continue
            ok, frame = capture.retrieve()
            if not ok:
                return
            next_due = now + self._interval
            yield now, frame

    def _file_frames(self, capture: cv2.VideoCapture, stop: threading.Event) -> Iterator[Frame]:
        clip_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(clip_fps * self._interval.total_seconds()))
        delivered, pacer = False, _Pacer(self._clock, self._interval)
        while not stop.is_set():
            for _ in range(step - 1):
                capture.grab()
            ok, frame = capture.read()
            if not ok:
                if not delivered:
                    return  # an empty or unreadable file: do not spin
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                delivered = False
                continue
            delivered = True
            yield self._clock(), frame
            pacer.wait(stop)


class _Pacer:
    """Frames on a fixed schedule, so the time spent on each frame does not slow the rate."""

    def __init__(self, clock: Clock, interval: dt.timedelta) -> None:
        self._clock, self._interval = clock, interval
        self._due: dt.datetime | None = None

    def wait(self, stop: threading.Event) -> None:
        now = self._clock()
        if self._due is None or self._due < now - self._interval:  # started, or fell far behind
            self._due = now
        self._due += self._interval
        stop.wait(max(0.0, (self._due - now).total_seconds()))


class FileSource:
    """A recorded clip on its own timeline: frame ``i`` was taken at ``start + i / clip_fps``.

    At most ``fps`` frames per clip second are decoded for analysis; the others are skipped.
    """

    def __init__(self, path: Path | str, start: dt.datetime, *, fps: float = 5.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.path = Path(path)
        self.name = str(path)
        self.start = start
        self._interval = 1 / fps
        self.clip_fps = 0.0
        self.frame_count = 0

    def frames(self, stop: threading.Event | None = None) -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                raise SourceError(f"{self.path}: not a video file OpenCV can read")
            self.clip_fps = capture.get(cv2.CAP_PROP_FPS)
            if not self.clip_fps or not math.isfinite(self.clip_fps):
                raise SourceError(f"{self.path}: the clip has no frame rate, so it has no timeline")
            index, next_due = 0, 0.0
            while stop is None or not stop.is_set():
                if not capture.grab():
                    return
                offset = index / self.clip_fps
                index += 1
                self.frame_count = index
                # A small tolerance, so a 5 fps clip analysed at 5 fps keeps every frame.
                if offset + 1e-6 < next_due:
                    continue
                ok, frame = capture.retrieve()
                if not ok:
                    return
                next_due = offset + self._interval
                yield self.start + dt.timedelta(seconds=offset), frame
        finally:
            capture.release()


# BGR colours of the drawn hall.
GLASS, CURTAIN, CHAIR = (200, 185, 140), (95, 105, 125), (40, 40, 45)
DESK, BEZEL, FLOOR = (60, 100, 150), (30, 30, 30), (70, 90, 110)


@dataclass
class HallScene:
    """Draws a service-hall counter: a window with a curtain behind each seat, a chair, a desk
    and a monitor, and a person (``sprite``) in the seats that are occupied.

    ``sprite`` is a BGR or BGRA image of a face and shoulders; BGR gets an oval mask. Without
    one, the face shipped in ``edge/presence/assets`` is drawn.
    Sensor noise (``noise``, grey levels) keeps a live scene from ever repeating exactly.
    """

    size: tuple[int, int]
    regions: Sequence[WindowRegion]
    sprite: np.ndarray | None = None
    noise: float = 2.0
    _background: np.ndarray | None = field(default=None, init=False, repr=False)
    _sprites: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.sprite is None:
            from edge.presence.assets import face_sprite

            self.sprite = face_sprite()

    def render(self, t: float, *, present: Collection[int] = (), still: bool = False,
               light: float = 1.0, curtain: bool = False, flicker: bool = False,
               frame_no: int = 0) -> np.ndarray:  # fmt: skip
        """The frame at ``t`` seconds: ``present`` window numbers are occupied."""
        if self._background is None:
            self._background = self._draw_background()
        frame = self._background.copy()
        for region in self.regions:
            x, y, w, h = region.roi.x, region.roi.y, region.roi.w, region.roi.h
            if curtain:  # folds drifting sideways, as in a draught
                shift = int(6 * math.sin(t * 2.0) + 3 * math.sin(t * 5.3))
                for fold in range(-1, 8):
                    left = x + fold * w // 6 + shift
                    cv2.rectangle(frame, (left, y), (left + w // 14, y + h * 2 // 5), CURTAIN, -1)
            if region.window_no in present and self.sprite is not None:
                sway = (round(3 * math.sin(t * 1.7)), round(2 * math.sin(t * 2.3)))
                self._paste_person(frame, region, (0, 0) if still else sway)
            screen = 120 if flicker and frame_no % 2 else 210
            top = y + h * 4 // 5
            cv2.rectangle(frame, (x, top), (x + w, y + h), DESK, -1)
            cv2.rectangle(frame, (x + w * 3 // 4, top - h // 6), (x + w - 2, top), BEZEL, -1)
            glow = (screen, screen, screen - 20)
            cv2.rectangle(
                frame, (x + w * 3 // 4 + 3, top - h // 6 + 3), (x + w - 5, top - 3), glow, -1
            )
        if light != 1.0:
            frame = cv2.convertScaleAbs(frame, alpha=light)
        if self.noise:
            noise = np.empty(frame.shape, np.int16)
            cv2.randn(noise, 0, self.noise)
            frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
        return frame

    def _draw_background(self) -> np.ndarray:
        width, height = self.size
        ramp = np.linspace(215, 175, height, dtype=np.float32)[:, None, None]
        tint = np.array([0.95, 1.0, 1.02], np.float32)
        frame = np.ascontiguousarray(np.broadcast_to(ramp * tint, (height, width, 3)), np.uint8)
        cv2.rectangle(frame, (0, height * 3 // 4), (width, height), FLOOR, -1)
        for region in self.regions:
            x, y, w, h = region.roi.x, region.roi.y, region.roi.w, region.roi.h
            cv2.rectangle(frame, (x, y), (x + w, y + h * 2 // 5), GLASS, -1)
            cv2.rectangle(
                frame, (x + w // 4, y + h * 2 // 5), (x + w * 3 // 4, y + h * 4 // 5), CHAIR, -1
            )
            label, corner = f"No.{region.window_no}", (x + 4, y + h - 4)
            cv2.putText(frame, label, corner, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        return frame

    def _paste_person(self, frame: np.ndarray, region: WindowRegion, sway: tuple[int, int]) -> None:
        roi = region.roi
        person, alpha = self._scaled_sprite(roi.h * 3 // 4)
        ph, pw = person.shape[:2]
        left = roi.x + (roi.w - pw) // 2 + sway[0]
        top = roi.y + roi.h * 4 // 5 - ph + roi.h // 8 + sway[1]
        left, top = max(0, min(left, frame.shape[1] - pw)), max(0, min(top, frame.shape[0] - ph))
        patch = frame[top : top + ph, left : left + pw].astype(np.float32)
        blended = patch * (1 - alpha) + person.astype(np.float32) * alpha
        frame[top : top + ph, left : left + pw] = blended.astype(np.uint8)

    def _scaled_sprite(self, height: int) -> tuple[np.ndarray, np.ndarray]:
        if height not in self._sprites:
            sprite = self.sprite
            width = max(1, round(sprite.shape[1] * height / sprite.shape[0]))
            scaled = cv2.resize(sprite, (width, height), interpolation=cv2.INTER_AREA)
            if scaled.shape[2] == 4:
                alpha = scaled[:, :, 3:].astype(np.float32) / 255
            else:
                mask = np.zeros((height, width), np.uint8)
                centre = (width // 2, height // 2)
                cv2.ellipse(mask, centre, centre, 0, 0, 360, 255, -1)
                alpha = cv2.GaussianBlur(mask, (9, 9), 0)[:, :, None].astype(np.float32) / 255
            self._sprites[height] = (scaled[:, :, :3], alpha)
        return self._sprites[height]


class SyntheticSource:
    """A fake camera for the demo: renders a ``HallScene`` live, ``fps`` times a second.

    ``occupied`` says which windows are staffed at a moment. ``unplug()``, ``freeze()`` and
    their opposites simulate a lost cable and a hung encoder.
    """

    def __init__(
        self,
        scene: HallScene,
        clock: Clock,
        *,
        fps: float = 5.0,
        occupied: Callable[[dt.datetime], Collection[int]] | None = None,
        name: str = "synthetic",
    ) -> None:
        self.scene = scene
        self.name = name
        self._clock = clock
        self._interval = dt.timedelta(seconds=1 / fps)
        self._occupied = occupied or (lambda at: ())
        self._unplugged = threading.Event()
        self._frozen = threading.Event()

    def unplug(self) -> None:
        self._unplugged.set()

    def plug(self) -> None:
        self._unplugged.clear()

    def freeze(self) -> None:
        self._frozen.set()

    def unfreeze(self) -> None:
        self._frozen.clear()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        if self._unplugged.is_set():
            raise SourceError(f"{self.name}: no signal")
        started, frame_no, last, pacer = None, 0, None, _Pacer(self._clock, self._interval)
        while not stop.is_set() and not self._unplugged.is_set():
            now = self._clock()
            started = started or now
            if last is None or not self._frozen.is_set():
                t = (now - started).total_seconds()
                last = self.scene.render(t, present=self._occupied(now), frame_no=frame_no)
            frame_no += 1
            yield now, last
            pacer.wait(stop)
