"""The presence module's interfaces to the rest of the box, and an in-memory sink.

The box hands presence a clock, a workday callable and a ``PresenceSink``; presence never
touches the store itself. ``MemorySink`` records every call: tests and the offline analysis
use it.

Example::

    >>> sink = MemorySink()
    >>> at = dt.datetime(2026, 11, 2, 9, 40, tzinfo=LOCAL_TZ)
    >>> sink.absence_alert(window_no=3, started_at=at, roi_jpeg=b"", frame_jpeg=b"", taken_at=at)
    'A1'
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from standard.records import LOCAL_TZ

__all__ = [
    "ABSENT",
    "LOCAL_TZ",
    "PRESENT",
    "Clock",
    "IsWorkday",
    "MemorySink",
    "PresenceSink",
    "Roi",
    "State",
    "WindowRegion",
]

Clock = Callable[[], dt.datetime]
"""Returns the current time as an aware datetime; injected, never read inside the logic."""

IsWorkday = Callable[[dt.date], bool]
"""``WorkCalendar.is_workday``; it may raise for a year the calendar does not know."""

State = Literal["present", "absent"]
PRESENT: State = "present"
ABSENT: State = "absent"

MIN_ROI_SIDE = 16  # smaller than this, neither the motion gate nor a face check can see anyone


@dataclass(frozen=True)
class Roi:
    """A region of interest in pixels of the full frame: ``Roi.parse("40,60,160,200")``."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if min(self.x, self.y) < 0:
            raise ValueError(f"ROI {self}: x and y must be 0 or more")
        if min(self.w, self.h) < MIN_ROI_SIDE:
            raise ValueError(f"ROI {self}: width and height must be at least {MIN_ROI_SIDE} pixels")

    @classmethod
    def parse(cls, text: str) -> Roi:
        """Read ``"X,Y,W,H"``; raises ValueError with the expected form."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 4 or not all(part.isdigit() for part in parts):
            raise ValueError(f"ROI {text!r}: expected X,Y,W,H as four whole numbers of pixels")
        return cls(*(int(part) for part in parts))

    def fits(self, width: int, height: int) -> bool:
        """True when the region lies inside a frame of this size."""
        return self.x + self.w <= width and self.y + self.h <= height

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class WindowRegion:
    """One service window as a camera sees it: its number and the ROI around the staff seat."""

    window_no: int
    roi: Roi


class PresenceSink(Protocol):
    """Where presence results go. The box implements it on its store; calls may come from
    several camera threads, so an implementation must be thread-safe and quick."""

    def interval(
        self, window_no: int, state: State, started_at: dt.datetime, ended_at: dt.datetime
    ) -> None:
        """A closed presence or absence interval of one window."""

    def absence_alert(
        self,
        window_no: int,
        started_at: dt.datetime,
        roi_jpeg: bytes,
        frame_jpeg: bytes,
        taken_at: dt.datetime,
    ) -> str:
        """An absence (离岗) alert with evidence taken at ``taken_at``; returns the alert id."""

    def absence_ended(self, window_no: int, alert_id: str, ended_at: dt.datetime) -> None:
        """An alert's absence is over: the staff returned, the office closed, or video stopped."""

    def camera_health(
        self, camera_id: str, ok: bool, detail: str, last_frame_at: dt.datetime | None
    ) -> None:
        """A camera's health changed: a device alert when ``ok`` is False, recovery when True."""


@dataclass(frozen=True)
class IntervalCall:
    window_no: int
    state: State
    started_at: dt.datetime
    ended_at: dt.datetime


@dataclass(frozen=True)
class AlertCall:
    alert_id: str
    window_no: int
    started_at: dt.datetime
    taken_at: dt.datetime
    roi_jpeg: bytes = field(repr=False)
    frame_jpeg: bytes = field(repr=False)


@dataclass(frozen=True)
class AlertEndCall:
    window_no: int
    alert_id: str
    ended_at: dt.datetime


@dataclass(frozen=True)
class HealthCall:
    camera_id: str
    ok: bool
    detail: str
    last_frame_at: dt.datetime | None


class MemorySink:
    """A ``PresenceSink`` that keeps every call in lists; thread-safe, with ``wait_for``."""

    def __init__(self) -> None:
        self.intervals: list[IntervalCall] = []
        self.alerts: list[AlertCall] = []
        self.alert_ends: list[AlertEndCall] = []
        self.health: list[HealthCall] = []
        self._changed = threading.Condition()

    def interval(
        self, window_no: int, state: State, started_at: dt.datetime, ended_at: dt.datetime
    ) -> None:
        self._add(self.intervals, IntervalCall(window_no, state, started_at, ended_at))

    def absence_alert(
        self,
        window_no: int,
        started_at: dt.datetime,
        roi_jpeg: bytes,
        frame_jpeg: bytes,
        taken_at: dt.datetime,
    ) -> str:
        with self._changed:
            alert_id = f"A{len(self.alerts) + 1}"
            self.alerts.append(
                AlertCall(alert_id, window_no, started_at, taken_at, roi_jpeg, frame_jpeg)
            )
            self._changed.notify_all()
        return alert_id

    def absence_ended(self, window_no: int, alert_id: str, ended_at: dt.datetime) -> None:
        self._add(self.alert_ends, AlertEndCall(window_no, alert_id, ended_at))

    def camera_health(
        self, camera_id: str, ok: bool, detail: str, last_frame_at: dt.datetime | None
    ) -> None:
        self._add(self.health, HealthCall(camera_id, ok, detail, last_frame_at))

    def wait_for(self, predicate: Callable[[MemorySink], bool], timeout: float) -> bool:
        """Block until ``predicate(self)`` holds or ``timeout`` seconds pass; returns which."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def _add(self, calls: list, call: object) -> None:
        with self._changed:
            calls.append(call)
            self._changed.notify_all()
