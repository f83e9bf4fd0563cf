"""Simulated staff for the demo's fake cameras: who sits at each window, moment by moment.

Each window's person works for a while, steps away briefly, and now and then stays away
longer than the absence threshold, so the demo shows 离岗 alerts with their snapshots. The
plan is drawn from a seeded ``random.Random`` as time goes on, so a box's demo is the same
each run. Given the hall's ``schedule``, staff keep its office hours: the seats are empty
outside them (nights, lunch, days off) and taken again when the hall opens.

:func:`replay_days` runs past office days of these staff through the cameras' own pipelines
(trackers, store, alerts, snapshots drawn by the hall scene), so a simulated box started at
night already shows the last working days on its pages.

Example::

    staff = SimulatedStaff([1, 2], random.Random("440605-01"), long_away=dt.timedelta(minutes=3),
                           schedule=schedule)
    source = SyntheticSource(scene, clock, occupied=staff.occupied)
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from functools import partial
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.presence.camera import CameraPipeline
    from edge.presence.tracker import OfficeSchedule


class SimulatedStaff:
    """``occupied(at)``: the windows whose seat is taken at ``at`` (times must not go back much)."""

    def __init__(
        self,
        windows: Iterable[int],
        rng: random.Random,
        *,
        long_away: dt.timedelta,
        long_share: float = 0.25,
        work_seconds: tuple[float, float] = (60.0, 300.0),
        short_away_seconds: tuple[float, float] = (10.0, 60.0),
        schedule: OfficeSchedule | None = None,
    ) -> None:
        self.windows = sorted(set(windows))
        self.schedule = schedule  # None: at work around the clock (tests of the tracker)
        self.long_away = long_away
        self.long_share = long_share
        self.work_seconds = work_seconds
        self.short_away_seconds = short_away_seconds
        self._rng = rng
        self._lock = threading.Lock()  # one plan, read by every camera's thread
        self._plan: dict[int, tuple[bool, dt.datetime]] = {}
        self._opening: dt.datetime | None = None  # the office period the plan is for

    def occupied(self, at: dt.datetime) -> set[int]:
        with self._lock:
            if self.schedule is not None:
                opened = self._opened(at)
                if opened != self._opening:  # a new office period (or none): a fresh plan
                    self._plan.clear()
                    self._opening = opened
                if opened is None:  # gone home, or to lunch: back at the desk at opening
                    return set()
            return {no for no in self.windows if self._present(no, at)}

    def _opened(self, at: dt.datetime) -> dt.datetime | None:
        """When the office period holding ``at`` opened; None outside office hours."""
        if not self.schedule.is_office_time(at):
            return None
        local = at.astimezone(self.schedule.tz)
        start = next(start for start, end in self.schedule.periods
                     if start <= local.time() < end)
        return dt.datetime.combine(local.date(), start, self.schedule.tz)

    def _present(self, window_no: int, at: dt.datetime) -> bool:
        if window_no not in self._plan:  # everyone starts at the desk, for a different while
            self._plan[window_no] = (True, at + self._seconds(self.work_seconds))
        present, until = self._plan[window_no]
        while at >= until:
            present = not present
            until += self._away() if not present else self._seconds(self.work_seconds)
        self._plan[window_no] = (present, until)
        return present

    def _away(self) -> dt.timedelta:
        if self._rng.random() < self.long_share:  # long enough for a 离岗 alert
            return self.long_away + self._seconds((30.0, 120.0))
        return self._seconds(self.short_away_seconds)

    def _seconds(self, bounds: tuple[float, float]) -> dt.timedelta:
        return dt.timedelta(seconds=self._rng.uniform(*bounds))


OBSERVE_EVERY = dt.timedelta(seconds=5)  # a replayed day's pace (the live cameras: 2 frames/s)


def office_days_before(schedule: OfficeSchedule, today: dt.date, count: int,
                       look_back: int = 21) -> list[dt.date]:
    """The last ``count`` working days before ``today``, oldest first."""
    found: list[dt.date] = []
    day = today
    while len(found) < count and (today - day).days < look_back:
        day -= dt.timedelta(days=1)
        if schedule.is_workday(day):
            found.append(day)
    return found[::-1]


Draw = Callable[[dt.datetime, set[int]], object]  # (at, occupied) -> the camera's frame


def replay_days(pipelines: Sequence[tuple[CameraPipeline, Draw]],
                staff: SimulatedStaff, schedule: OfficeSchedule, days: Iterable[dt.date],
                step: dt.timedelta = OBSERVE_EVERY) -> None:
    """Run ``staff``'s office ``days`` through each camera's pipeline, as its frames would.

    ``pipelines`` are (pipeline, draw) pairs: ``draw(at, occupied)`` renders the camera's frame,
    asked only for an absence alert's snapshots. Each day is observed from opening to closing
    (lunch is seen empty and counts nothing); the video then stops, as at night, closing what
    is open.
    """
    for day in days:
        first, last = schedule.periods[0][0], schedule.periods[-1][1]
        at = dt.datetime.combine(day, first, schedule.tz)
        end = dt.datetime.combine(day, last, schedule.tz)
        while at <= end:
            occupied = staff.occupied(at)
            for pipeline, draw in pipelines:
                pipeline.observe(at, occupied, partial(draw, at, occupied))
            at += step
        for pipeline, _draw in pipelines:
            pipeline.suspend()
