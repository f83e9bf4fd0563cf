"""Generated hall clips for the presence tests; the face is ``skimage.data.astronaut()``.

A clip is a list of ``Segment``s, each lasting some seconds of the clip's own timeline. The
hall is drawn by ``edge.presence.sources.HallScene``; a real photograph of a face and
shoulders sits in the occupied seats. MJPG in AVI keeps repeated frames bit-identical, so a
"frozen" segment really is frozen.

Example::

    path = make_clip(tmp_path / "a.avi", [Segment(20, present={1}), Segment(60)], fps=2)
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.presence.ports import LOCAL_TZ, Roi, WindowRegion
from edge.presence.sources import HallScene

SIZE = (320, 240)
REGIONS = (WindowRegion(1, Roi(10, 30, 140, 190)), WindowRegion(2, Roi(170, 30, 140, 190)))
ROI_ARGS = ("10,30,140,190", "170,30,140,190")
MONDAY = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)  # a workday in the official calendar
EVERY_DAY = lambda day: True
OFFICE_HOURS = [(dt.time(8, 30), dt.time(12, 0)), (dt.time(14, 0), dt.time(17, 30))]


@functools.cache
def astronaut_sprite() -> np.ndarray:
    """Face and shoulders from the astronaut photograph: BGRA, with a soft outline."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    crop = photo[5:345, 95:375]
    height, width = crop.shape[:2]
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (130, 110), (80, 105), 0, 0, 360, 255, -1)  # head
    cv2.ellipse(mask, (140, 340), (140, 190), 0, 180, 360, 255, -1)  # shoulders
    mask = cv2.GaussianBlur(mask, (7, 7), 0)
    return np.dstack([crop, mask])


@dataclass(frozen=True)
class Segment:
    """``seconds`` of clip in which the windows in ``present`` are staffed."""

    seconds: float
    present: frozenset[int] | set[int] = field(default_factory=frozenset)
    still: bool = False  # the person does not move at all
    light: float = 1.0  # overall brightness factor
    curtain: bool = False  # curtains behind the seats drift
    flicker: bool = False  # monitors flicker frame to frame
    frozen: bool = False  # the encoder repeats the last frame


def render_frames(
    segments: Sequence[Segment], *, fps: float, size=SIZE, regions=REGIONS, seed: int = 7
):
    """The frames of a clip, one by one."""
    cv2.setRNGSeed(seed)
    scene = HallScene(size, regions, sprite=astronaut_sprite())
    t, frame_no, last = 0.0, 0, None
    for segment in segments:
        for _ in range(round(segment.seconds * fps)):
            if segment.frozen and last is not None:
                frame = last
            else:
                frame = scene.render(
                    t,
                    present=segment.present,
                    still=segment.still,
                    light=segment.light,
                    curtain=segment.curtain,
                    flicker=segment.flicker,
                    frame_no=frame_no,
                )
            yield frame
            last, t, frame_no = frame, t + 1 / fps, frame_no + 1


def make_clip(
    path: Path, segments: Sequence[Segment], *, fps: float = 5.0, size=SIZE, regions=REGIONS
) -> Path:
    """Write the clip to ``path`` (``.avi``, MJPG) and return the path."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG clips"
    try:
        for frame in render_frames(segments, fps=fps, size=size, regions=regions):
            writer.write(frame)
    finally:
        writer.release()
    return path
