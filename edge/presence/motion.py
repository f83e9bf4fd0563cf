"""The motion gate: which window regions changed, measured on a small grey frame.

In the manner of Frigate's motion detector (``frigate/motion/improved_motion.py``): the frame
is shrunk to about 120 pixels high, blurred, and compared with a running average of the
previous frames. Two things keep light from passing for motion:

- the frame's overall brightness is matched to the average's before comparing, so a
  uniform dimming or brightening moves nothing;
- when most of the frame changes at once (lights switched, camera gain jumping), the frame
  is taken as the new background and no region is reported as moving.

Example::

    >>> gate = MotionGate((640, 480), [WindowRegion(1, Roi(40, 120, 150, 220))])
    >>> result = gate.update(frame)              # doctest: +SKIP
    >>> result.moving[1] > 0.01                  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edge.presence.ports import WindowRegion


@dataclass(frozen=True)
class MotionSettings:
    """Tuning of the motion gate; the defaults suit 640x480 hall cameras at 5 fps."""

    frame_height: int = 120
    threshold: int = 25  # grey levels of change that count as motion for a pixel
    alpha: float = 0.05  # weight of each new frame in the running average
    min_fraction: float = 0.01  # share of a region's pixels that must move for the region to move
    lighting_fraction: float = 0.5  # share of the whole frame changing at once: a lighting change


@dataclass(frozen=True)
class MotionResult:
    """One frame's verdict: the moving share of each region, and the small grey frame."""

    moving: dict[int, float]
    lighting_change: bool
    grey: np.ndarray

    def is_moving(self, window_no: int, min_fraction: float) -> bool:
        return self.moving.get(window_no, 0.0) >= min_fraction


class MotionGate:
    """Running-average frame differencing for one camera, reported per window region."""

    def __init__(
        self,
        frame_size: tuple[int, int],
        regions: Sequence[WindowRegion],
        settings: MotionSettings | None = None,
    ) -> None:
        width, height = frame_size
        self.settings = settings = settings or MotionSettings()
        self.scale = min(1.0, settings.frame_height / height)
        self.small_size = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self._slices = {region.window_no: self.small_slice(region) for region in regions}
        self._average: np.ndarray | None = None

    def small_slice(self, region: WindowRegion) -> tuple[slice, slice]:
        """The region's rows and columns in the small frame (at least one pixel each way)."""
        roi, s = region.roi, self.scale
        top, left = int(roi.y * s), int(roi.x * s)
        bottom = max(top + 1, round((roi.y + roi.h) * s))
        right = max(left + 1, round((roi.x + roi.w) * s))
        return slice(top, bottom), slice(left, right)

    def shrink(self, frame: np.ndarray) -> np.ndarray:
        """The small, blurred grey frame the gate works on."""
        small = cv2.resize(frame, self.small_size, interpolation=cv2.INTER_AREA)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(small, (5, 5), 0)

    def reset(self) -> None:
        """Forget the background, e.g. after the camera was away."""
        self._average = None

    def update(self, frame: np.ndarray) -> MotionResult:
        """Compare ``frame`` with the background, then fold it into the background."""
        grey = self.shrink(frame)
        still = {window_no: 0.0 for window_no in self._slices}
        if self._average is None or self._average.shape != grey.shape:
            self._average = grey.astype(np.float32)
            return MotionResult(still, False, grey)
        current = grey.astype(np.float32)
        brightness = float(current.mean())
        if brightness > 1.0:
            current *= float(self._average.mean()) / brightness
        changed = cv2.absdiff(current, self._average) > self.settings.threshold
        if changed.mean() > self.settings.lighting_fraction:
            self._average = grey.astype(np.float32)
            return MotionResult(still, True, grey)
        moving = {
            window_no: float(changed[rows, cols].mean())
            for window_no, (rows, cols) in self._slices.items()
        }
        cv2.accumulateWeighted(grey, self._average, self.settings.alpha)
        return MotionResult(moving, False, grey)
