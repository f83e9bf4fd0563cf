"""Is someone in the seat? A Haar person check, run only when a region's picture changed.

The check (OpenCV's bundled frontal-face cascade, then the upper-body cascade) costs a few
milliseconds per region, so ``PresenceJudge`` runs it sparingly:

- a region whose picture has not changed since its last check keeps that check's verdict:
  a person sitting still stays present, an empty chair stays empty, and neither costs a check;
- a region that moved, or whose picture drifted from the one at the last check, is checked
  again, at most once per ``check_interval``;
- an occupied, still region is confirmed every ``recheck_interval``; only several failed
  confirmations in a row clear it, as a face turned away must not make a sitter absent.

Motion alone never makes a person: a curtain or a flickering monitor only triggers checks.
The upper-body cascade fires on empty chairs in front of a striped curtain, so an upper body
alone never makes a seat occupied: it only keeps it occupied for ``body_holds_for`` after a
face was seen (a person who turned to the monitor).

Example::

    >>> judge = PresenceJudge((640, 480), regions, HaarPersonDetector())   # doctest: +SKIP
    >>> judge.observe(taken_at, frame)                                      # doctest: +SKIP
    {1: True, 2: False}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from edge.presence.motion import MotionGate, MotionSettings
from edge.presence.ports import Roi, WindowRegion


class DetectorError(Exception):
    """A Haar cascade file is missing or unreadable."""


Sighting = Literal["face", "body"] | None


class PersonDetector(Protocol):
    """Looks for a person inside a region of a full frame: a face, else (if asked) an upper body."""

    def look(self, frame: np.ndarray, roi: Roi, *, bodies: bool) -> Sighting: ...


@dataclass(frozen=True)
class HaarSettings:
    max_height: int = 240  # regions are scaled down to this height before the check
    min_face: float = 0.10  # smallest face, as a share of the region's height
    min_body: float = 0.35  # smallest upper body, as a share of the region's height
    scale_factor: float = 1.1
    neighbours: int = 4  # more neighbours: fewer false faces, more missed ones
    body_neighbours: int = 8  # the upper-body cascade needs more: it likes chair backs


class HaarPersonDetector:
    """Frontal face first (cheap, precise), upper body when no face is seen."""

    FACE = "haarcascade_frontalface_alt2.xml"
    BODY = "haarcascade_upperbody.xml"

    def __init__(
        self, settings: HaarSettings | None = None, cascade_dir: Path | str | None = None
    ) -> None:
        self.settings = settings or HaarSettings()
        folder = Path(cascade_dir if cascade_dir is not None else cv2.data.haarcascades)
        self._face = self._load(folder / self.FACE)
        self._body = self._load(folder / self.BODY)

    @staticmethod
    def _load(path: Path) -> cv2.CascadeClassifier:
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise DetectorError(
                f"cannot load Haar cascade {path}: reinstall opencv-python-headless"
            )
        return cascade

    def look(self, frame: np.ndarray, roi: Roi, *, bodies: bool) -> Sighting:
        s = self.settings
        crop = frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w]
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
        if grey.shape[0] > s.max_height:
            width = max(1, round(grey.shape[1] * s.max_height / grey.shape[0]))
            grey = cv2.resize(grey, (width, s.max_height), interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)  # the same face under dim or bright light
        height = grey.shape[0]
        face = max(20, int(height * s.min_face))
        faces = self._face.detectMultiScale(
            grey, s.scale_factor, s.neighbours, minSize=(face, face)
        )
        if len(faces):
            return "face"
        if not bodies:
            return None
        body = max(24, int(height * s.min_body))
        size = (body, body)
        found = self._body.detectMultiScale(grey, s.scale_factor, s.body_neighbours, minSize=size)
        return "body" if len(found) else None


@dataclass(frozen=True)
class CheckSettings:
    check_interval: float = 1.0  # seconds between checks of a region whose picture changed
    recheck_interval: float = 60.0  # seconds between confirmations of an occupied, still region
    static_misses: int = 3  # failed confirmations in a row before a still region counts as empty
    # Correlation with the picture at the last check above which nothing changed.
    same_picture: float = 0.9
    # Seconds after the last face during which an upper body alone keeps a seat occupied.
    body_holds_for: float = 120.0


FLAT = 2.0  # grey-level spread below which a patch shows nothing


def same_picture(before: np.ndarray, after: np.ndarray, threshold: float) -> bool:
    """Normalised correlation of two grey patches: unchanged by brightness and contrast."""
    a = before.astype(np.float32) - float(before.mean())
    b = after.astype(np.float32) - float(after.mean())
    spread_a, spread_b = float(a.std()), float(b.std())
    if min(spread_a, spread_b) < FLAT:  # a flat patch has no pattern to correlate
        return max(spread_a, spread_b) < FLAT
    return float((a * b).mean()) / (spread_a * spread_b) >= threshold


class _RegionState:
    def __init__(self, region: WindowRegion, rows: slice, cols: slice) -> None:
        self.region = region
        self.rows, self.cols = rows, cols
        self.verdict: bool | None = None
        self.picture: np.ndarray | None = None
        self.checked_at: dt.datetime | None = None
        self.moved = False
        self.misses = 0
        self.face_at: dt.datetime | None = None


class PresenceJudge:
    """Per camera: which window regions hold a person, frame by frame."""

    def __init__(
        self,
        frame_size: tuple[int, int],
        regions: Sequence[WindowRegion],
        detector: PersonDetector,
        motion: MotionSettings | None = None,
        checks: CheckSettings | None = None,
    ) -> None:
        width, height = frame_size
        for region in regions:
            if not region.roi.fits(width, height):
                raise ValueError(
                    f"window {region.window_no}: ROI {region.roi.as_list()} does not fit "
                    f"in the camera's {width}x{height} frame; fix its x, y, w, h"
                )
        self.frame_size = frame_size
        self.gate = MotionGate(frame_size, regions, motion or MotionSettings())
        self.checks = checks or CheckSettings()
        self.detector = detector
        self.checks_run = 0
        self._states = [_RegionState(region, *self.gate.small_slice(region)) for region in regions]

    def observe(self, at: dt.datetime, frame: np.ndarray) -> dict[int, bool]:
        """Occupied or not, per window number, for the frame taken at ``at``."""
        motion = self.gate.update(frame)
        verdicts = {}
        for state in self._states:
            window_no = state.region.window_no
            if motion.is_moving(window_no, self.gate.settings.min_fraction):
                state.moved = True
            picture = motion.grey[state.rows, state.cols]
            changed = (
                state.moved
                or state.picture is None
                or not same_picture(state.picture, picture, self.checks.same_picture)
            )
            if self._due(state, at, changed):
                self._check(state, at, frame, picture, changed)
            verdicts[window_no] = bool(state.verdict)
        return verdicts

    def _due(self, state: _RegionState, at: dt.datetime, changed: bool) -> bool:
        if state.verdict is None or state.checked_at is None:
            return True
        elapsed = (at - state.checked_at).total_seconds()
        if changed:
            return elapsed >= self.checks.check_interval
        return state.verdict and elapsed >= self.checks.recheck_interval

    def _check(
        self,
        state: _RegionState,
        at: dt.datetime,
        frame: np.ndarray,
        picture: np.ndarray,
        changed: bool,
    ) -> None:
        since_face = None if state.face_at is None else (at - state.face_at).total_seconds()
        holding = bool(state.verdict) and since_face is not None
        holding = holding and since_face <= self.checks.body_holds_for
        seen = self.detector.look(frame, state.region.roi, bodies=holding)
        if seen == "face":
            state.face_at = at
        found = seen == "face" or (seen == "body" and holding)
        self.checks_run += 1
        state.checked_at, state.moved = at, False
        if found or changed or not state.verdict:
            state.verdict, state.picture, state.misses = found, picture.copy(), 0
            return
        state.misses += 1  # a still, occupied picture that failed one confirmation
        if state.misses >= self.checks.static_misses:
            state.verdict, state.picture, state.misses = False, picture.copy(), 0
