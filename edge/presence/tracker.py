"""Per-window presence state with hysteresis, and absence alerts counted in office hours.

Pure: time comes in with each observation, results go out as events.

- A seat that stays empty for ``leave_grace`` turns the window absent, back-dated to the
  moment the person was last seen; one sighting turns it present again.
- Absence time counts only inside office hours on workdays (lunch break excluded). When it
  exceeds ``absent_after``, an absence alert (离岗) starts. Counting carries over lunch, but
  not over night: an alert still open when the office day ends ends with it, and the next
  morning counts afresh.
- The alert's ``started_at`` is when the absence began to count: the moment the person left,
  or the opening of office hours if the seat was already empty.

Example::

    >>> schedule = OfficeSchedule(parse_office_hours("08:30-12:00,14:00-17:30"), lambda day: True)
    >>> tracker = WindowTracker(3, schedule)
    >>> tracker.update(at, occupied=False)   # doctest: +SKIP
    [IntervalClosed(...), ...]
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edge.presence.ports import ABSENT, LOCAL_TZ, PRESENT, IsWorkday, State

logger = logging.getLogger(__name__)

OfficeHours = Sequence[tuple[dt.time, dt.time]]


def parse_office_hours(text: str) -> list[tuple[dt.time, dt.time]]:
    """Read ``"08:30-12:00,14:00-17:30"``; the periods must be in order and must not overlap."""
    periods = []
    for part in text.split(","):
        try:
            start_text, end_text = part.strip().split("-")
            period = (
                dt.time.fromisoformat(start_text.strip()),
                dt.time.fromisoformat(end_text.strip()),
            )
        except ValueError:
            raise ValueError(
                f"office hours {text!r}: expected HH:MM-HH:MM[,HH:MM-HH:MM...]"
            ) from None
        periods.append(period)
    check_office_hours(periods)
    return periods


def check_office_hours(periods: OfficeHours) -> None:
    """Raise ValueError unless each period starts before it ends and follows the one before."""
    if not periods:
        raise ValueError("office hours: at least one period is needed, e.g. 08:30-12:00")
    previous_end = dt.time.min
    for start, end in periods:
        if not start < end:
            raise ValueError(
                f"office hours {start:%H:%M}-{end:%H:%M}: the start must come before the end"
            )
        if start < previous_end:
            raise ValueError(
                f"office hours {start:%H:%M}-{end:%H:%M}: periods must be in order and not overlap"
            )
        previous_end = end


def require_aware(at: dt.datetime) -> None:
    if at.tzinfo is None:
        raise ValueError(f"{at}: timestamps must be timezone-aware")


class OfficeSchedule:
    """Office periods on workdays, in local time (+08:00).

    A workday callable that raises (a year the calendar does not know) makes that day
    count as closed; the problem is logged once and kept in ``problems`` for device health.
    """

    def __init__(
        self, periods: OfficeHours, is_workday: IsWorkday, tz: dt.tzinfo = LOCAL_TZ
    ) -> None:
        check_office_hours(periods)
        self.periods = list(periods)
        self.tz = tz
        self._is_workday = is_workday
        self.problems: dict[dt.date, str] = {}

    def is_workday(self, day: dt.date) -> bool:
        try:
            answer = bool(self._is_workday(day))
        except Exception as exc:  # noqa: BLE001  the calendar's error types are its business
            if day not in self.problems:
                logger.warning("calendar cannot say whether %s is a workday: %s", day, exc)
            self.problems[day] = f"{day}: {exc}"
            return False
        self.problems.pop(day, None)
        return answer

    def is_office_time(self, at: dt.datetime) -> bool:
        return bool(self.segments(at, at + dt.timedelta(microseconds=1)))

    def day_end(self, day: dt.date) -> dt.datetime | None:
        """The close of the last office period of ``day``, or None if the office is closed."""
        if not self.is_workday(day):
            return None
        return dt.datetime.combine(day, self.periods[-1][1], self.tz)

    def segments(
        self, start: dt.datetime, end: dt.datetime
    ) -> list[tuple[dt.datetime, dt.datetime, dt.date]]:
        """The parts of ``[start, end)`` inside office hours, in order, with their local date."""
        require_aware(start)
        require_aware(end)
        found = []
        day, last_day = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        while day <= last_day:
            if self.is_workday(day):
                for open_at, close_at in self.periods:
                    lower = max(start, dt.datetime.combine(day, open_at, self.tz))
                    upper = min(end, dt.datetime.combine(day, close_at, self.tz))
                    if lower < upper:
                        found.append((lower, upper, day))
            day += dt.timedelta(days=1)
        return found


@dataclass(frozen=True)
class TrackerSettings:
    # Office time absent before an alert.
    absent_after: dt.timedelta = dt.timedelta(minutes=5)
    # An empty seat for this long turns the window absent (a missed check is not a departure).
    leave_grace: dt.timedelta = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class IntervalClosed:
    window_no: int
    state: State
    started_at: dt.datetime
    ended_at: dt.datetime


@dataclass(frozen=True)
class AbsenceAlerted:
    window_no: int
    started_at: dt.datetime
    raised_at: dt.datetime


@dataclass(frozen=True)
class AbsenceEnded:
    window_no: int
    ended_at: dt.datetime
    reason: Literal["returned", "office_closed", "no_video"]


Event = IntervalClosed | AbsenceAlerted | AbsenceEnded


class WindowTracker:
    """One window's presence state machine; feed it ``update(at, occupied)`` in time order."""

    def __init__(
        self, window_no: int, schedule: OfficeSchedule, settings: TrackerSettings | None = None
    ) -> None:
        self.window_no = window_no
        self.schedule = schedule
        self.settings = settings or TrackerSettings()
        self.state: State | None = None
        self.since: dt.datetime | None = None
        self.alert_open = False
        self._last_at: dt.datetime | None = None
        self._last_seen: dt.datetime | None = None
        self._reset_count()

    def _reset_count(self) -> None:
        self._counted = dt.timedelta(0)
        self._counting_from: dt.datetime | None = None
        self._counting_day: dt.date | None = None
        self._counted_until: dt.datetime | None = None

    def update(self, at: dt.datetime, occupied: bool) -> list[Event]:
        """Take one observation; returns the intervals closed and the alerts started or ended."""
        require_aware(at)
        if self._last_at is not None and at <= self._last_at:
            return []  # a repeated or late frame says nothing new
        events: list[Event] = []
        if self.state is None:
            self.state, self.since = (PRESENT if occupied else ABSENT), at
            self._last_seen = at if occupied else None
            self._reset_count()
        elif self.state == PRESENT:
            if occupied:
                self._last_seen = at
            elif at - self._last_seen >= self.settings.leave_grace:
                events.append(IntervalClosed(self.window_no, PRESENT, self.since, self._last_seen))
                self.state, self.since = ABSENT, self._last_seen
                self._reset_count()
                self._count(self._last_seen, at, events)
        elif occupied:
            if self.alert_open:
                events.append(AbsenceEnded(self.window_no, at, "returned"))
                self.alert_open = False
            events.append(IntervalClosed(self.window_no, ABSENT, self.since, at))
            self.state, self.since, self._last_seen = PRESENT, at, at
        else:
            self._count(self._last_at, at, events)
        self._last_at = at
        return events

    def suspend(self) -> list[Event]:
        """The video stopped: close what is open at the last observation and start afresh later."""
        if self.state is None:
            return []
        events: list[Event] = []
        if self.alert_open:
            events.append(AbsenceEnded(self.window_no, self._last_at, "no_video"))
            self.alert_open = False
        ended_at = self._last_seen if self.state == PRESENT else self._last_at
        if ended_at > self.since:
            events.append(IntervalClosed(self.window_no, self.state, self.since, ended_at))
        self.state = self.since = self._last_at = self._last_seen = None
        self._reset_count()
        return events

    def _count(self, start: dt.datetime, end: dt.datetime, events: list[Event]) -> None:
        """Add the office time of ``[start, end)`` to the absence; raise or end its alert."""
        for lower, upper, day in self.schedule.segments(start, end):
            if self._counting_day is not None and day != self._counting_day:
                self._close_day(events)
            if self._counting_day is None:
                self._counting_from, self._counting_day = lower, day
            self._counted += upper - lower
            self._counted_until = upper
            if not self.alert_open and self._counted > self.settings.absent_after:
                self.alert_open = True
                events.append(AbsenceAlerted(self.window_no, self._counting_from, end))
        if self._counting_day is not None and self._day_over(end):
            self._close_day(events)

    def _day_over(self, at: dt.datetime) -> bool:
        if at.astimezone(self.schedule.tz).date() > self._counting_day:
            return True
        closes = self.schedule.day_end(self._counting_day)
        return closes is None or at >= closes

    def _close_day(self, events: list[Event]) -> None:
        if self.alert_open:
            events.append(AbsenceEnded(self.window_no, self._counted_until, "office_closed"))
            self.alert_open = False
        self._reset_count()
