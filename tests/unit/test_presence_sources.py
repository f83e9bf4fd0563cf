"""Frame sources: a clip's own timeline, a file played as a camera, the demo's fake camera."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import numpy as np
import pytest

from edge.presence.sources import (
    CaptureSource,
    FileSource,
    HallScene,
    SourceError,
    SyntheticSource,
    parse_camera_target,
    redact,
)

# The repo root, for tests.presence_clips: pytest's pythonpath does not include it.
from tests.presence_clips import MONDAY, REGIONS, SIZE, Segment, make_clip


class StepClock:
    """Each call is ``step`` later than the one before."""

    def __init__(self, start: dt.datetime, step: float) -> None:
        self.now, self.step = start, dt.timedelta(seconds=step)

    def __call__(self) -> dt.datetime:
        self.now += self.step
        return self.now


def test_a_clip_keeps_its_own_timeline_and_is_thinned_to_the_analysis_rate(tmp_path):
    clip = make_clip(tmp_path / "ten.avi", [Segment(3, present={1})], fps=10)
    taken = [at for at, _ in FileSource(clip, MONDAY, fps=5).frames()]
    assert taken == [MONDAY + dt.timedelta(seconds=i / 5) for i in range(15)]
    every = FileSource(clip, MONDAY, fps=30)
    assert len(list(every.frames())) == 30 and every.clip_fps == 10 and every.frame_count == 30


def test_a_slow_clip_gives_every_frame(tmp_path):
    clip = make_clip(tmp_path / "slow.avi", [Segment(50)], fps=0.1)
    taken = [at for at, _ in FileSource(clip, MONDAY).frames()]
    assert taken[:2] == [MONDAY, MONDAY + dt.timedelta(seconds=10)] and len(taken) == 5


def test_unreadable_clips_and_naive_starts_are_refused(tmp_path):
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video")
    with pytest.raises(SourceError, match="not a video file"):
        list(FileSource(junk, MONDAY).frames())
    with pytest.raises(ValueError, match="timezone-aware"):
        FileSource(junk, dt.datetime(2026, 11, 2, 9, 0))


def test_a_file_played_as_a_camera_loops_with_live_timestamps(tmp_path):
    clip = make_clip(tmp_path / "loop.avi", [Segment(1, present={1})], fps=5)
    source = CaptureSource(str(clip), StepClock(MONDAY, 0.2), fps=50)  # 50 fps: short waits
    stop = threading.Event()
    frames = []
    for at, frame in source.frames(stop):
        frames.append((at, frame))
        if len(frames) == 12:
            stop.set()
    assert len(frames) == 12 and frames[0][1].shape == (240, 320, 3)  # 5 frames a loop: it looped
    taken = [at for at, _ in frames]
    assert taken[0] == MONDAY + dt.timedelta(seconds=0.2)  # the clock's time, not the clip's
    assert all(later > earlier for earlier, later in itertools.pairwise(taken))


def test_a_camera_that_cannot_be_opened_is_a_source_error(tmp_path):
    source = CaptureSource(str(tmp_path / "nothing-here.mp4"), StepClock(MONDAY, 1))
    with pytest.raises(SourceError, match="cannot open camera"):
        next(source.frames(threading.Event()))


def test_camera_targets_and_their_names():
    assert parse_camera_target(" 0 ") == 0
    assert parse_camera_target("rtsp://cam/stream1") == "rtsp://cam/stream1"
    assert redact(2) == "/dev/video2"
    assert redact("rtsp://admin:secret@10.0.0.7:554/h264") == "rtsp://***@10.0.0.7:554/h264"


def test_the_synthetic_camera_freezes_and_unplugs():
    scene = HallScene(SIZE, REGIONS)
    source = SyntheticSource(scene, StepClock(MONDAY, 0.2), fps=1000, occupied=lambda at: {1})
    stop = threading.Event()
    frames = source.frames(stop)
    _, first = next(frames)
    _, second = next(frames)
    assert not np.array_equal(first, second)  # sensor noise: a live picture never repeats
    source.freeze()
    _, third = next(frames)
    _, fourth = next(frames)
    assert np.array_equal(third, fourth)
    source.unplug()
    assert list(frames) == []  # the stream ends
    with pytest.raises(SourceError, match="no signal"):
        next(source.frames(stop))
    source.plug()
    source.unfreeze()
    assert next(source.frames(stop))[1].shape == (240, 320, 3)
