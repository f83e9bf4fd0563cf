"""The rules' schedule: a pass at start, every interval, and at the start of each working day.

Example::

    Scheduler(lambda at: engine.check(at), clock, 60, dt.time(8, 30), calendar).start()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)


def next_run(now: dt.datetime, interval: float, day_start: dt.time,
             calendar: WorkCalendar | None) -> dt.datetime:
    """The earlier of ``now + interval`` and the next working day's start (local time)."""
    regular = now + dt.timedelta(seconds=interval)
    local = now.astimezone(LOCAL_TZ)
    for offset in range(3):
        day = local.date() + dt.timedelta(days=offset)
        start = dt.datetime.combine(day, day_start, LOCAL_TZ)
        if start <= local:
            continue
        if start >= regular or calendar is None:
            break
        try:
            if calendar.is_workday(day):
                return start
        except CalendarUnknownYear:  # fail closed: no guessed working days, the interval still runs
            break
    return regular


class Scheduler:
    """Runs ``job(at)`` at start, every ``interval`` seconds and at each working day's start."""

    def __init__(self, job: Callable[[dt.datetime], object], clock: Callable[[], dt.datetime],
                 interval: float, day_start: dt.time, calendar: WorkCalendar | None):
        self.job = job
        self.clock = clock
        self.interval = interval
        self.day_start = day_start
        self.calendar = calendar
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rules-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._run_job()
        while True:
            target = next_run(self.clock(), self.interval, self.day_start, self.calendar)
            if self._stop.wait(max(0.0, (target - self.clock()).total_seconds())):
                return
            self._run_job()

    def _run_job(self) -> None:
        try:
            self.job(self.clock())
        except Exception:  # a bad pass must not stop the next one
            log.exception("scheduled rule pass failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
