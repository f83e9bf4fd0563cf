"""The hub drafts last month's scores by itself, and keeps unpublished drafts up to date.

A thread of the hub process. On the 1st of each month, from ``draft_time`` (local, default
02:00), it computes the previous month as a draft; until someone publishes it, it computes it
again every ``refresh_minutes``, so late records (a box back online, a resend) are in. Months
with any published version are never touched: a correction is a person's decision, with a
reason. Every draft it writes is signed ``(自动)``.

All decisions go through :meth:`ScoreScheduler.tick`, which reads the injected clock: tests
set the clock and call ``tick()`` (or ``poke()`` a running thread) instead of waiting.

Example::

    scheduler = ScoreScheduler(book, lambda month, config: compute_month(data, config, month),
                               lambda: load_scoring(None), clock)
    scheduler.tick()          # [Run(month='2026-10', version=1, status='draft', ...)] on 11-01
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from hub.scorebook import AUTOMATIC, Run, Scorebook
from hub.scoring import UnitScore
from hub.scoring_config import ScoringConfig, ScoringError
from hub.units import previous_month
from standard.configfile import ConfigError
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)


def months_to_draft(now: dt.datetime, draft_time: dt.time, unpublished: list[str]) -> list[str]:
    """The months a tick at ``now`` computes: last month once the 1st's draft time has come,
    and every month that has a draft but no publication (never a month not yet begun).

    >>> at = lambda d, h: dt.datetime(2026, 12, d, h, tzinfo=LOCAL_TZ)
    >>> months_to_draft(at(1, 1), dt.time(2), []), months_to_draft(at(1, 3), dt.time(2), [])
    ([], ['2026-11'])
    """
    local = now.astimezone(LOCAL_TZ)
    this_month = f"{local:%Y-%m}"
    months = [] if local.day == 1 and local.time() < draft_time else \
        [previous_month(local.date())]
    return months + sorted(m for m in unpublished if m not in months and m <= this_month)


class ScoreScheduler:
    """Background drafting of monthly scores (see the module docstring)."""

    def __init__(self, book: Scorebook,
                 compute: Callable[[str, ScoringConfig], list[UnitScore]],
                 formula: Callable[[], tuple[ScoringConfig, str]],
                 clock: Callable[[], dt.datetime], *, draft_time: dt.time = dt.time(2, 0),
                 refresh_minutes: float = 60.0):
        self.book = book
        self.compute = compute
        self.formula = formula  # read at every tick: an edited file needs no restart
        self.clock = clock
        self.draft_time = draft_time
        self.refresh_seconds = refresh_minutes * 60
        self.listeners: list[Callable[[list[Run]], None]] = []  # called after every tick
        self.last_tick_at: dt.datetime | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready_lines(self) -> list[str]:
        return [f"绩效评估：每月1日 {self.draft_time:%H:%M} 起自动计算上月成绩草稿，发布前每"
                f" {self.refresh_seconds / 60:g} 分钟更新"]

    def tick(self) -> list[Run]:
        """Draft what is due now; returns the drafts written."""
        now = self.clock()
        published = set(self.book.months(published_only=True))
        written: list[Run] = []
        months = [month for month in months_to_draft(now, self.draft_time,
                                                     self.book.unpublished_months())
                  if month not in published]
        try:
            config, text = self.formula() if months else (None, "")
        except ConfigError as exc:
            log.warning("scores not drafted: %s", exc)
            months = []
        for month in months:
            try:
                results = self.compute(month, config)
            except ScoringError as exc:
                log.warning("scores for %s not drafted: %s", month, exc)
                continue
            run = self.book.save(month, results, config, text, user=AUTOMATIC,
                                 unless_published=True)
            if run is not None:
                log.info("scores for %s drafted (version %d)", month, run.version)
                written.append(run)
        self.last_tick_at = now
        for listener in self.listeners:
            listener(written)
        return written

    def seconds_to_next_tick(self) -> float:
        """Until the next refresh, or the next 1st's draft time if that comes sooner."""
        local = self.clock().astimezone(LOCAL_TZ)
        draft_at = dt.datetime.combine(local.date().replace(day=1), self.draft_time, LOCAL_TZ)
        if draft_at <= local:  # this month's has passed: the next month's 1st
            following = (local.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            draft_at = dt.datetime.combine(following, self.draft_time, LOCAL_TZ)
        return max(1.0, min(self.refresh_seconds, (draft_at - local).total_seconds()))

    def poke(self) -> None:
        """Tick now (after the clock moved, or a month was published)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-scores", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a poke during the tick makes another tick at once
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the hub keeps receiving whatever happens here
                log.exception("drafting scores failed")
            self._wake.wait(self.seconds_to_next_tick())
