"""Live video supervision (视频监控, 同步监督): a window's camera as MJPEG, and one snapshot on
the hub's request, from the frames the camera workers already read.

The camera is never opened a second time: :class:`LiveVideo` takes the newest frame of the
worker that watches the window (``PresenceService.latest_frame``), shrinks it to ``width`` and
encodes it as JPEG, at most ``fps`` times a second per window (viewers of one window share
the encoding), for at most ``viewers`` viewers at once on the whole box. The detection thread
only swaps a reference per frame, so watchers cannot starve it; the encoding runs on the web
server's threads.

Every view and every snapshot is written to ``video_access`` (append-only): who, when, which
window, from the box page or by the hub.

Example::

    live = LiveVideo(presence.latest_frame, presence.watched_windows, LiveSettings(), clock)
    with live.viewer():                       # ViewerLimit when the box is at its limit
        for part in live.stream(3): ...       # multipart/x-mixed-replace parts
    at, jpeg = live.jpeg(3, max_bytes=256 * 1024)
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from edge.presence.evidence import encode_jpeg
from edge.store import Store
from edge.storetx import iso

BOUNDARY = "hallwatch-frame"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
QUALITIES = (80, 65, 50, 35, 25)  # tried in turn until a snapshot fits its size cap

VIDEO_SCHEMA = """
create table if not exists video_access (
    id integer primary key, at text not null, actor text not null, window_no integer not null,
    kind text not null check (kind in ('live', 'snapshot')), via text not null, detail text);
create trigger if not exists video_access_no_update before update on video_access
    begin select raise(abort, 'video_access is append-only'); end;
create trigger if not exists video_access_no_delete before delete on video_access
    begin select raise(abort, 'video_access is append-only'); end;
"""


class ViewerLimit(RuntimeError):
    """The box serves as many live viewers as it is allowed to; the message is for people."""


class NoFrame(LookupError):
    """No camera watches that window, or it has delivered no frame yet."""


@dataclass(frozen=True)
class LiveSettings:
    fps: float = 2.0  # frames a second per window at most
    viewers: int = 3  # live viewers at once on the whole box
    width: int = 640  # frames are shrunk to this width
    snapshot_max_bytes: int = 256 * 1024  # a snapshot for the hub is at most this big


class LiveVideo:
    def __init__(self, frames: Callable[[int], tuple[dt.datetime, np.ndarray] | None],
                 windows: Callable[[], list[int]], settings: LiveSettings,
                 clock: Callable[[], dt.datetime], store: Store | None = None):
        self.frames = frames
        self.windows = windows
        self.settings = settings
        self.clock = clock
        self.store = store
        self.watching = 0
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, float, dt.datetime, bytes]] = {}

    # -- frames -------------------------------------------------------------------------
    def jpeg(self, window_no: int, max_bytes: int | None = None) -> tuple[dt.datetime, bytes]:
        """The window's newest frame as JPEG (NoFrame without one); re-encoded smaller until
        it fits ``max_bytes``."""
        found = self.frames(window_no)
        if found is None:
            raise NoFrame(f"窗口 {window_no} 没有摄像头画面（未接入或尚无画面）")
        at, frame = found
        shrunk = self._shrunk(frame)
        if max_bytes is None:
            return at, self._cached(window_no, at, frame, shrunk)
        for quality in QUALITIES:
            data = encode_jpeg(shrunk, quality)
            if len(data) <= max_bytes:
                return at, data
            shrunk = cv2.resize(shrunk, (shrunk.shape[1] * 3 // 4, shrunk.shape[0] * 3 // 4))
        raise NoFrame(f"窗口 {window_no} 的画面压缩后仍超过 {max_bytes // 1024} KB")

    def _shrunk(self, frame: np.ndarray) -> np.ndarray:
        width = self.settings.width
        if frame.shape[1] <= width:
            return frame
        return cv2.resize(frame, (width, round(frame.shape[0] * width / frame.shape[1])),
                          interpolation=cv2.INTER_AREA)

    def _cached(self, window_no: int, at: dt.datetime, frame: np.ndarray,
                shrunk: np.ndarray) -> bytes:
        """Viewers of one window share one encoding per camera frame."""
        key = id(frame)
        with self._lock:
            cached = self._cache.get(window_no)
            if cached and cached[0] == key and cached[2] == at:
                return cached[3]
        data = encode_jpeg(shrunk, QUALITIES[0])
        with self._lock:
            self._cache[window_no] = (key, time.monotonic(), at, data)
        return data

    # -- viewers ------------------------------------------------------------------------
    def open_stream(self, window_no: int, actor: str) -> MjpegStream:
        """A stream for one viewer, counted from now (ViewerLimit, NoFrame); audited."""
        if window_no not in self.windows():
            raise NoFrame(f"窗口 {window_no} 没有接入摄像头")
        with self._lock:
            if self.watching >= self.settings.viewers:
                raise ViewerLimit(f"实时视频观看人数已达上限（{self.settings.viewers} 人），"
                                  "请稍后再试，以免影响离岗监测")
            self.watching += 1
        self.audit(actor, window_no, "live", "box", None)
        return MjpegStream(self, window_no)

    def _release(self) -> None:
        with self._lock:
            self.watching -= 1

    def audit(self, actor: str, window_no: int, kind: str, via: str,
              detail: str | None) -> None:
        if self.store is None:
            return
        at = iso(self.clock())
        self.store.write(lambda tx: tx.conn.execute(
            "insert into video_access (at, actor, window_no, kind, via, detail)"
            " values (?, ?, ?, ?, ?, ?)", (at, actor, window_no, kind, via, detail)))

    def accesses(self, limit: int = 50) -> list[dict[str, Any]]:
        if self.store is None:
            return []
        return self.store.query("select at, actor, window_no, kind, via, detail from"
                                " video_access order by id desc limit ?", (limit,))

    # -- the hub's snapshot request -----------------------------------------------------
    def answer_snapshot(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to a verified snapshot request: the JPEG (base64) or why not; audited."""
        import base64

        window_no = request.get("window_no")
        actor = f"市中心：{str(request.get('requested_by') or '?')[:60]}"
        answer: dict[str, Any] = {"request_id": request.get("request_id"),
                                  "window_no": window_no, "jpeg": None, "error": None,
                                  "taken_at": None}
        if not isinstance(window_no, int) or window_no not in self.windows():
            answer["error"] = f"窗口 {window_no} 没有接入摄像头"
        else:
            try:
                at, data = self.jpeg(window_no, self.settings.snapshot_max_bytes)
            except NoFrame as exc:
                answer["error"] = str(exc)
            else:
                answer.update(jpeg=base64.b64encode(data).decode("ascii"), taken_at=iso(at))
        if isinstance(window_no, int):
            self.audit(actor, window_no, "snapshot", "hub", answer["error"])
        return answer


class MjpegStream:
    """One viewer's multipart parts, a frame at most every 1/fps s; closing frees the slot
    (waitress closes the iterable when the viewer goes away, even before the first part)."""

    def __init__(self, live: LiveVideo, window_no: int):
        self.live = live
        self.window_no = window_no
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        interval = 1.0 / self.live.settings.fps
        last_at = None
        while not self._closed.is_set():
            try:
                at, data = self.live.jpeg(self.window_no)
            except NoFrame:
                at, data = None, None
            if data is not None and at != last_at:
                last_at = at
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                       f"Content-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
            self._closed.wait(interval)  # the frame-rate cap

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self.live._release()
