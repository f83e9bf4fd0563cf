"""Judging cases for the rule pass: one case, a range of open cases, and both cores at once.

``judge`` runs the enabled rules on one case's facts on a day and says until when its findings
hold (edge/supervision/remembered.py keeps that). The pass over open cases reads them in rowid
order a range at a time (``open_ranges``); when many need judging (the first pass, a changed
catalogue or calendar) ``SpreadJudge`` hands ranges from the end to a worker process while the
engine judges from the start, each with its own read-only SQLite connection, and the results
come back in rowid order, exactly as judging them one after the other gives them. The worker
returns only what the engine writes (digest, days, compact verdict, findings); the engine's
thread still writes everything. The worker is a *spawned* process (the box has threads, so no
fork), started for one pass and gone after it: nothing stays in memory while the box is idle.
A spawned process imports the parent's main module again: ``hallwatch`` and ``python -m
hallwatch`` are safe, a script run as a file needs ``if __name__ == "__main__"``. If the worker
fails, its ranges are judged here and this engine judges on one core from then on.

Example::

    spread = SpreadJudge(store.path, board, rules, settings)
    for rows in spread.judged(conn, ALL_OPEN, day):   # lists of JudgedRow, in rowid order
        ...
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from edge.cases import CaseBoard
from edge.supervision.alerts import Finding
from edge.supervision.remembered import encode_verdict, facts_digest
from edge.supervision.verdicts import (
    CASE_RULES,
    CaseRule,
    CaseView,
    RuleSettings,
    case_findings,
    quiet,
    recheck_on,
    standard_only,
)
from standard.deadlines import CaseFacts

log = logging.getLogger(__name__)
NEVER = dt.date.max.toordinal() + 1
# Where the open cases to judge come from, with the pass's day ordinal as ?1 (rowid order):
# every open case, or those without a kept verdict valid that day (remembered.py).
ALL_OPEN = "from cases c where c.is_open = 1 and ?1 = ?1"
STALE = ("from cases c left join case_verdicts v on v.case_no = c.case_no where c.is_open = 1"
         " and (v.case_no is null or ?1 < v.judged_on or ?1 >= v.until)")
RANGE = 2_000  # cases a range: about 50 ms of judging, so the engine and worker end together
# A second process costs about 0.5 s of CPU to start (imports) and 70 MB while it runs: worth it
# only for a pass that judges many cases (the first pass judges 100,000 in about 2.5 s), and
# only with a core to spare: on a machine already busy (load average 13 on 2 cores) it made
# bench_rules' first pass 1.5x slower, not faster (docs/supervision.md).
SPREAD_MIN = 30_000


def free_core() -> bool:
    """Whether a core is idle: the 1-minute load average leaves at least one."""
    try:
        return os.getloadavg()[0] <= (os.cpu_count() or 1) - 1
    except OSError:
        return False


class Judged(NamedTuple):
    """A case as the engine judged it; valid for days judged_on <= day < until."""

    findings: tuple[Finding, ...]
    labels: tuple[str, str] | None  # (district, item name) for notification texts
    judged_on: int  # ordinal of the local day
    until: int


class JudgedRow(NamedTuple):
    """An open case judged from its stored facts, as the pass writes it."""

    case_no: str
    digest: int
    judged_on: int
    until: int
    verdict: str | None  # remembered.encode_verdict
    findings: tuple[Finding, ...]
    labels: tuple[str, str] | None


def judge(board: CaseBoard, facts: CaseFacts, today: dt.date, rules: Sequence[CaseRule],
          settings: RuleSettings, standard: bool) -> Judged:
    """The case's findings on ``today`` and the days they hold. ``standard``: the rules are
    all ``CASE_RULES`` ones, so a case ``quiet`` says is clean skips them."""
    item = board.catalogue.get(facts.item_code)
    case = CaseView(facts, board.status(facts, today), item)
    found = () if standard and quiet(case, settings) else case_findings(case, rules, settings)
    labels = (facts.district_code, item.name if item else facts.item_code) if found else None
    until = recheck_on(case, today, board.calendar, board.settings.yellow_within_working_days,
                       settings.near_deadline_working_days)
    return Judged(tuple(found), labels, today.toordinal(), until.toordinal() if until else NEVER)


def judge_rows(board: CaseBoard, rows: Iterable[tuple[str, str]], today: dt.date,
               rules: Sequence[CaseRule], settings: RuleSettings,
               standard: bool) -> list[JudgedRow]:
    """Judge ``(case_no, facts text)`` rows of open cases."""
    out = []
    for case_no, text in rows:
        known = judge(board, CaseFacts.from_json(text), today, rules, settings, standard)
        out.append(JudgedRow(case_no, facts_digest(text), known.judged_on, known.until,
                             encode_verdict(known.findings, known.labels), known.findings,
                             known.labels))
    return out


def open_ranges(conn: sqlite3.Connection, source: str, day: int,
                size: int = RANGE) -> list[tuple[int, int]]:
    """``(first, last)`` rowids of consecutive runs of ``size`` cases from ``source``."""
    rowids = [row[0] for row in conn.execute(f"select c.rowid {source}", (day,))]
    return [(rowids[at], rowids[min(at + size, len(rowids)) - 1])
            for at in range(0, len(rowids), size)]


def read_range(conn: sqlite3.Connection, source: str, day: int,
               span: tuple[int, int]) -> sqlite3.Cursor:
    return conn.execute(f"select c.case_no, c.facts {source} and c.rowid between ?2 and ?3"
                        " order by c.rowid", (day, *span))


class SpreadJudge:
    """Judges a pass's open cases range by range, over both cores when there are many."""

    def __init__(self, path: Path | None, board: CaseBoard, rules: Sequence[CaseRule],
                 settings: RuleSettings, *, spread_min: int = SPREAD_MIN,
                 workers: int | None = None, range_size: int = RANGE):
        self.path = path
        self.board = board
        self.rules = tuple(rules)
        self.settings = settings
        self.standard = standard_only(self.rules)
        self.spread_min = spread_min
        self.range_size = range_size
        self.workers = max(0, min((os.cpu_count() or 1) - 1, 3)) if workers is None else workers
        self.free_core = free_core  # asked before starting the worker
        self.last_spread = 0  # ranges the worker judged in the last pass (for tests, benches)

    def judged(self, conn: sqlite3.Connection, source: str, day: int) -> Iterator[list[JudgedRow]]:
        """The open cases of ``source`` judged, a range at a time, in rowid order."""
        today = dt.date.fromordinal(day)
        ranges = open_ranges(conn, source, day, self.range_size)
        self.last_spread = 0
        pool = self._pool(len(ranges))
        if pool is None:
            for span in ranges:
                yield self._here(conn, source, day, today, span)
            return
        try:  # the worker takes ranges from the end, this thread from the start
            futures: dict[int, Future] = {}
            for index in range(len(ranges) - 1, 0, -1):
                futures[index] = pool.submit(_judge_range, source, day, ranges[index])
            for index, span in enumerate(ranges):
                future = futures.get(index)
                if future is None or future.cancel():
                    yield self._here(conn, source, day, today, span)
                    continue
                try:
                    rows = future.result()
                except Exception:  # noqa: BLE001 (a broken worker: judge it here instead)
                    if self.workers:
                        log.exception("the judging worker failed: judging on one core from now on")
                    self.workers = 0
                    rows = self._here(conn, source, day, today, span)
                else:
                    self.last_spread += 1
                yield rows
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # the worker is gone after the pass

    def _here(self, conn, source: str, day: int, today: dt.date,
              span: tuple[int, int]) -> list[JudgedRow]:
        return judge_rows(self.board, read_range(conn, source, day, span), today, self.rules,
                          self.settings, self.standard)

    def _pool(self, ranges: int) -> ProcessPoolExecutor | None:
        board = self.board
        if (self.workers < 1 or ranges * self.range_size < self.spread_min or ranges < 2
                or self.path is None or not self.standard or type(board) is not CaseBoard
                or "status" in vars(board)  # a board judged differently stays here
                or not self.free_core()):
            return None
        try:
            return ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start, initargs=(
                    str(Path(self.path).resolve()), board.catalogue, board.calendar,
                    board.settings, [rule.name for rule in self.rules], self.settings))
        except (OSError, ValueError) as exc:
            log.warning("judging on one core: cannot start a worker (%s)", exc)
            return None


# -- in the worker process ------------------------------------------------------------------
_WORKER: dict = {}


def _start(path: str, catalogue, calendar, light_settings, rule_names: list[str],
           settings: RuleSettings) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.execute("pragma busy_timeout=5000")
    _WORKER.update(conn=conn, board=CaseBoard(None, catalogue, calendar, light_settings),
                   rules=tuple(CASE_RULES[name] for name in rule_names), settings=settings)


def _judge_range(source: str, day: int, span: tuple[int, int]) -> list[JudgedRow]:
    work = _WORKER
    return judge_rows(work["board"], read_range(work["conn"], source, day, span),
                      dt.date.fromordinal(day), work["rules"], work["settings"], True)
