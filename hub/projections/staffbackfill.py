"""Filling ``hub_case_staff`` for the cases stored before migration 15, online, in batches.

Migration 15 creates the table and, when the hub already holds cases, records in
``hub_meta`` that a backfill is pending: ``case_staff_backfill`` = ``"done target start"``,
hub_cases ids (the cases with ``start < id <= done`` are filled; ``target`` was the newest
case when the migration ran). Reading every stored record's JSON takes hours on a province's
50 million records, so the migration does not: the hub starts at once, new events are
projected by the write path as always (hub/projections/casestaff.py), and this job walks the
older cases in id order, a batch of ``BATCH_CASES`` cases per transaction:

- the batch first moves the mark with a conditional update (``where value = <the mark read>``)
  and then inserts the batch's rows (``on conflict do nothing``), all in one transaction: two
  processes on one PostgreSQL never fill the same batch (the second one's update waits for
  the first's row lock, then matches nothing and reads the new mark), and a process stopped
  or killed mid-batch leaves the mark where its last commit put it;
- the last batch deletes the key: no key, nothing pending.

Every hub process that applies projections runs it (``hub serve`` and ``hub receive``,
hub/app.py) until it is done; ``hallwatch hub migrate --backfill`` runs it in the foreground.

Example::

    StaffBackfill(store).start()        # a service: a thread that stops when done
    fill_all(store.engine, report=print) # the same, here and now
    pending(store)                       # Progress(done, target, start) or None
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hub.projections.casestaff import backfill_sql
from hub.storage.retry import retrying

log = logging.getLogger(__name__)
KEY = "case_staff_backfill"
BATCH_CASES = 2000  # a case has a handful of events: some 5,000-20,000 events per batch


@dataclass(frozen=True)
class Progress:
    done: int
    target: int
    start: int
    claimed: bool = field(default=True, compare=False)  # False: another process took it

    @classmethod
    def parse(cls, value: str) -> Progress:
        done, target, start = (int(part) for part in value.split())
        return cls(done, target, start)

    def text(self) -> str:
        return f"{self.done} {self.target} {self.start}"

    @property
    def percent(self) -> int:
        """How far the walk is, by case id (ids are increasing, not dense)."""
        span = self.target - self.start
        return 100 if span <= 0 else min(99, 100 * (self.done - self.start) // span)


def mark_pending(conn) -> None:
    """Migration 15: record the backfill when there are cases already (one index read)."""
    first, last = conn.execute("select min(id), max(id) from hub_cases").fetchone()
    if last is None:
        return
    conn.execute("insert into hub_meta (key, value) values (?, ?)"
                 " on conflict (key) do update set value = excluded.value",
                 (KEY, Progress(first - 1, last, first - 1).text()))


def pending(store) -> Progress | None:
    """The backfill's progress, or None when there is none to do."""
    rows = store.query("select value from hub_meta where key = ?", (KEY,))
    return Progress.parse(rows[0]["value"]) if rows else None


def run_batch(engine, batch: int = BATCH_CASES) -> Progress | None:
    """Fill one batch in one transaction; the progress after it, None when all is done.

    A batch another process took meanwhile is skipped, not filled twice: the progress then
    returned is the one read, and the next call reads the new mark."""
    postgres = engine.name == "postgresql"
    with engine.transaction() as conn:
        row = conn.execute("select value from hub_meta where key = ?", (KEY,)).fetchone()
        if row is None:
            return None
        read = Progress.parse(row[0])
        nth = conn.execute("select id from hub_cases where id > ? and id <= ? order by id"
                           " limit 1 offset ?", (read.done, read.target, batch - 1)).fetchone()
        upto = nth[0] if nth else read.target
        after = Progress(upto, read.target, read.start)
        if upto >= read.target:
            claimed = conn.execute("delete from hub_meta where key = ? and value = ?",
                                   (KEY, read.text()))
        else:
            claimed = conn.execute("update hub_meta set value = ? where key = ? and value = ?",
                                   (after.text(), KEY, read.text()))
        if claimed.rowcount != 1:  # another process moved the mark first
            return Progress(read.done, read.target, read.start, claimed=False)
        conn.execute(backfill_sql(postgres), (read.done, upto) * 2)
    return None if upto >= read.target else after


def fill_all(engine, *, stop: threading.Event | None = None,
             report: Callable[[Progress], None] = lambda progress: None,
             pause: float = 0.0, batch: int = BATCH_CASES) -> bool:
    """Run batches until done (True) or ``stop`` is set (False)."""
    stop = stop or threading.Event()
    while not stop.is_set():
        # a deadlock with a receiver inserting the same rows: the batch again, at once
        progress = retrying(lambda: run_batch(engine, batch), engine)
        if progress is None:
            return True
        report(progress)
        if pause:
            stop.wait(pause)  # let the receivers' transactions in between batches
    return False


class StaffBackfill:
    """A hub service: fills ``hub_case_staff`` for the older cases, then stops."""

    def __init__(self, store, *, pause: float = 0.05, retry_seconds: float = 60.0):
        self.store = store
        self.pause = pause
        self.retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged = -1

    def start(self) -> None:
        if self.store.engine.read_only:
            return
        self._thread = threading.Thread(target=self._run, name="hub-staff-backfill",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _report(self, progress: Progress) -> None:
        if progress.percent // 10 != self._logged:
            self._logged = progress.percent // 10
            log.info("hub_case_staff backfill: %d%% (case id %d of %d)", progress.percent,
                     progress.done, progress.target)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if pending(self.store) is None:
                    return
                if fill_all(self.store.engine, stop=self._stop, report=self._report,
                            pause=self.pause):
                    log.info("hub_case_staff backfill: done")
                    return
            except Exception:  # noqa: BLE001 - the hub keeps running; tried again later
                log.exception("hub_case_staff backfill failed; trying again in %.0f s",
                              self.retry_seconds)
                self._stop.wait(self.retry_seconds)
