"""The self-test's camera check: frames per second, frame size, a snapshot, and per region
whether the Haar check sees a person (the same ``HaarPersonDetector`` the box uses).

Each camera is read for ``seconds``; a few frames spread over that time are checked for a
face (then an upper body), so a technician sitting at a window can see the region is right.
The snapshot has every region drawn on it, green where someone was seen, red where not.

Example::

    test = CameraTest(open_source, HaarPersonDetector, seconds=3, snapshot_stem=Path("st"),
                      say=print)
    checks = test.run(profile.cameras)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edge.presence.detector import DetectorError, PersonDetector
from edge.presence.ports import Roi
from edge.presence.sources import FrameSource, SourceError
from edge.profile import CameraProfile
from provisioning.checks import Check
from standard.files import write_private

SAMPLES = 5  # frames checked for a person per camera
LOW_FPS = 2.0  # below this the presence check misses people who come and go
GREEN, RED = (0, 200, 0), (0, 0, 230)


class CameraTest:
    def __init__(self, open_source: Callable[[CameraProfile], FrameSource],
                 make_detector: Callable[[], PersonDetector], *, seconds: float,
                 snapshot_stem: Path | None, say: Callable[[str], None]):
        self.open_source = open_source
        self.make_detector = make_detector
        self.seconds = seconds
        self.snapshot_stem = snapshot_stem  # snapshots go to <stem>-<camera id>.jpg
        self.say = say

    def run(self, cameras: list[CameraProfile]) -> list[Check]:
        if not cameras:
            return []
        try:
            detector = self.make_detector()
        except DetectorError as exc:
            return [Check("camera", "fail", f"摄像头 {c.id}", str(exc)) for c in cameras]
        checks = []
        for camera in cameras:
            self.say(f"摄像头 {camera.id}：取 {self.seconds:g} 秒画面 (reading camera {camera.id})")
            checks += self._one(camera, detector)
        return checks

    def _frames(self, camera: CameraProfile) -> tuple[list[float], list[np.ndarray]]:
        """Arrival times and up to SAMPLES frames spread over the reading (last one last)."""
        source = self.open_source(camera)
        stop = threading.Event()
        frames = source.frames(stop)
        times: list[float] = []
        samples: list[np.ndarray] = []
        last = None
        try:
            for _, frame in frames:
                now = time.monotonic()
                times.append(now)
                last = frame
                if len(samples) < SAMPLES - 1 and \
                        now - times[0] >= len(samples) * self.seconds / SAMPLES:
                    samples.append(frame)
                if now - times[0] >= self.seconds:
                    break
        finally:
            stop.set()
            frames.close()  # releases the device on this thread
        return times, samples + ([last] if last is not None else [])

    def _one(self, camera: CameraProfile, detector: PersonDetector) -> list[Check]:
        title = f"摄像头 {camera.id}"
        data: dict = {"camera": camera.id, "expected_size": [camera.width, camera.height]}
        try:
            times, frames = self._frames(camera)
        except SourceError as exc:
            return self._failed(camera, title, f"无法打开 (cannot open): {exc}", data)
        if not frames:
            return self._failed(camera, title, "没有收到画面 (no frames)", data)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        height, width = frames[-1].shape[:2]
        data.update(fps=round(fps, 1), size=[width, height], frames=len(times))
        if (width, height) != (camera.width, camera.height):
            detail = (f"画面为 {width}x{height}，配置为 {camera.width}x{camera.height}：ROI 按配置"
                      f"尺寸画出，请改 width/height 并重画 ROI (frame size differs from the "
                      "profile)")
            self.say(f"  ✗ {detail}")
            return self._failed(camera, title, detail, data, snapshot=frames[-1])
        seen = {region.window_no: self._look(detector, frames, Roi(*region.roi))
                for region in camera.windows}
        data["snapshot"] = self._snapshot(camera, frames[-1], seen)
        status = "warn" if fps < LOW_FPS else "ok"
        detail = f"{width}x{height}，{fps:.1f} 帧/秒 (fps)" + ("，帧率偏低" if status == "warn" else "")
        self.say(f"  {'✓' if status == 'ok' else '!'} {detail}")
        checks = [Check("camera", status, title, detail, data)]
        for window_no, sighting in seen.items():
            checks.append(self._region_check(camera, window_no, sighting))
        return checks

    def _region_check(self, camera: CameraProfile, window_no: int, sighting: str | None) -> Check:
        title = f"摄像头 {camera.id} 的 {window_no} 号窗口区域"
        data = {"camera": camera.id, "window_no": window_no, "person": sighting}
        if sighting:
            detail = f"看到人 ({sighting}) (a person is seen)"
            self.say(f"  ✓ {window_no} 号窗口：{detail}")
            return Check("region", "ok", title, detail, data)
        detail = ("没看到人：座位上有人时请调整 ROI 或摄像头角度 (no person seen: if someone sits "
                  "there, adjust the ROI or the camera)")
        self.say(f"  ! {window_no} 号窗口：{detail}")
        return Check("region", "warn", title, detail, data)

    @staticmethod
    def _look(detector: PersonDetector, frames: list[np.ndarray], roi: Roi) -> str | None:
        for frame in frames:
            if detector.look(frame, roi, bodies=False):
                return "face"
        return detector.look(frames[-1], roi, bodies=True)

    def _failed(self, camera: CameraProfile, title: str, detail: str, data: dict,
                snapshot: np.ndarray | None = None) -> list[Check]:
        if snapshot is not None:
            data["snapshot"] = self._snapshot(camera, snapshot, {})
        checks = [Check("camera", "fail", title, detail, data)]
        checks += [Check("region", "skip", f"摄像头 {camera.id} 的 {r.window_no} 号窗口区域",
                         "摄像头未通过 (camera failed)", {"camera": camera.id,
                                                          "window_no": r.window_no})
                   for r in camera.windows]
        return checks

    def _snapshot(self, camera: CameraProfile, frame: np.ndarray,
                  seen: dict[int, str | None]) -> str | None:
        if self.snapshot_stem is None:
            return None
        picture = frame.copy()
        for region in camera.windows:
            x, y, w, h = region.roi
            colour = GREEN if seen.get(region.window_no) else RED
            cv2.rectangle(picture, (x, y), (x + w - 1, y + h - 1), colour, 2)
            cv2.putText(picture, f"No.{region.window_no}", (x + 4, y + 16),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
        path = self.snapshot_stem.with_name(f"{self.snapshot_stem.name}-{camera.id}.jpg")
        ok, jpeg = cv2.imencode(".jpg", picture)
        if not ok:
            return None
        write_private(path, jpeg.tobytes())  # 0600: the picture shows people
        return str(path)
