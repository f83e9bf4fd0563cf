"""Simulated staff for the demo's fake cameras: who sits at each window, moment by moment.

Each window's person works for a while, steps away briefly, and now and then stays away
longer than the absence threshold, so the demo shows 离岗 alerts with their snapshots. The
plan is drawn from a seeded ``random.Random`` as time goes on, so a box's demo is the same
each run.

Example::

    staff = SimulatedStaff([1, 2], random.Random("440605-01"), long_away=dt.timedelta(minutes=3))
    source = SyntheticSource(scene, clock, occupied=staff.occupied)
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Iterable


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
    ) -> None:
        self.windows = sorted(set(windows))
        self.long_away = long_away
        self.long_share = long_share
        self.work_seconds = work_seconds
        self.short_away_seconds = short_away_seconds
        self._rng = rng
        self._lock = threading.Lock()  # one plan, read by every camera's thread
        self._plan: dict[int, tuple[bool, dt.datetime]] = {}

    def occupied(self, at: dt.datetime) -> set[int]:
        with self._lock:
            return {no for no in self.windows if self._present(no, at)}

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
