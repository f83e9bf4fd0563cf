"""The live view's limits, without a camera: the frame-rate cap between parts, one part per
new camera frame, and the viewer limit freed when a stream closes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from edge.presence.live import LiveSettings, LiveVideo, ViewerLimit

AT = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)


class Camera:
    """Frames of window 1: a new one (a new time) each time ``advance`` is called."""

    def __init__(self) -> None:
        self.at, self.frame = AT, np.zeros((48, 64, 3), np.uint8)

    def advance(self) -> None:
        self.at += dt.timedelta(seconds=0.1)
        self.frame = self.frame.copy()

    def __call__(self, window_no: int):
        return (self.at, self.frame) if window_no == 1 else None


def test_a_stream_waits_one_frame_interval_between_parts_and_skips_a_repeated_frame():
    camera = Camera()
    live = LiveVideo(camera, lambda: [1], LiveSettings(fps=4, viewers=1), clock=lambda: AT)
    stream = live.open_stream(1, "主任")
    waits: list[float] = []

    def wait(seconds: float) -> bool:  # the stream's pause, recorded instead of slept
        waits.append(seconds)
        if len(waits) in (1, 3):  # the camera has a new frame after the 1st and 3rd pause
            camera.advance()
        if len(waits) == 4:
            stream.close()
        return stream._closed.is_set()

    stream._closed.wait = wait
    parts = list(stream)
    assert waits == [0.25] * 4  # never faster than fps, whatever the camera delivers
    assert len(parts) == 3  # the first frame, then only new frames: none sent twice
    assert all(part.startswith(b"--hallwatch-frame\r\nContent-Type: image/jpeg") for part in parts)
    assert live.watching == 0


def test_the_viewer_limit_counts_open_streams_and_a_closed_one_frees_its_place():
    live = LiveVideo(Camera(), lambda: [1], LiveSettings(viewers=2), clock=lambda: AT)
    first, second = live.open_stream(1, "甲"), live.open_stream(1, "乙")
    with pytest.raises(ViewerLimit, match="观看人数已达上限（2 人）"):
        live.open_stream(1, "丙")
    first.close()
    first.close()  # closing twice frees one place only
    third = live.open_stream(1, "丙")
    assert live.watching == 2
    second.close()
    third.close()
    assert live.watching == 0
