"""Supervision rules: turn case lights into alerts, once per case and condition.

A rule is a small named function from a case's evaluated status to findings. The engine runs
them after every ingest (for the touched cases) and on a schedule (for all open cases), and
upserts one alert per (subject, rule): running it again creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from edge.cases import CaseBoard
from edge.store import Store, Tx, iso
from standard.deadlines import CaseFacts, CaseStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    subject: str  # e.g. "case:NH2026000001"
    rule: str  # the rule's Chinese name, e.g. 违规收费
    level: str  # "yellow" or "red"
    detail: str


Rule = Callable[[CaseFacts, CaseStatus], list[Finding]]


def calendar_gap(facts: CaseFacts, status: CaseStatus) -> list[Finding]:
    """日历缺失: the deadline falls in a year the working-day calendar does not know."""
    if status.error and "calendar" in status.error:
        return [Finding(f"case:{facts.case_no}", "日历缺失", "red", "；".join(status.reasons))]
    return []


DEFAULT_RULES: tuple[Rule, ...] = (calendar_gap,)


class RuleEngine:
    def __init__(self, store: Store, board: CaseBoard, rules: tuple[Rule, ...] = DEFAULT_RULES,
                 interval_seconds: float = 60.0):
        self.store = store
        self.board = board
        self.rules = rules
        self.interval_seconds = interval_seconds

    def check(self, at: dt.datetime, case_nos: set[str] | None = None) -> int:
        """One pass over open cases (or just ``case_nos``); returns how many alerts it opened."""
        findings = []
        for facts in self._facts(case_nos):
            status = self.board.evaluate(facts, at)
            for rule in self.rules:
                findings.extend(rule(facts, status))
        if not findings:
            return 0
        return self.store.write(lambda tx: sum(open_alert(tx, f) for f in findings))

    def _facts(self, case_nos: set[str] | None) -> list[CaseFacts]:
        with self.store.read() as db:
            if case_nos is None:
                rows = db.conn.execute("select facts from cases where is_open = 1")
            else:
                marks = ",".join("?" * len(case_nos))
                rows = db.conn.execute(f"select facts from cases where case_no in ({marks})",
                                       list(case_nos))
            return [CaseFacts.from_json(text) for (text,) in rows]

    def scheduler(self, clock: Callable[[], dt.datetime]) -> Scheduler:
        return Scheduler(lambda: self.check(clock()), self.interval_seconds)


def open_alert(tx: Tx, finding: Finding) -> bool:
    """Insert the alert unless one for this subject and rule exists; True if it is new."""
    now = iso(tx.now)
    cursor = tx.conn.execute(
        "insert into alerts (subject, rule, level, state, detail, opened_at, updated_at)"
        " values (?, ?, ?, 'open', ?, ?, ?) on conflict(subject, rule) do nothing",
        (finding.subject, finding.rule, finding.level, finding.detail, now, now))
    if cursor.rowcount:
        tx.emit("alert", {"id": cursor.lastrowid, "subject": finding.subject,
                          "rule": finding.rule, "level": finding.level, "state": "open",
                          "detail": finding.detail})
        return True
    return False


class Scheduler:
    """Runs ``job`` every ``interval`` seconds on a thread until stopped."""

    def __init__(self, job: Callable[[], object], interval: float):
        self.job = job
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rules-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception:  # a bad pass must not stop the next one
                log.exception("scheduled rule pass failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)


def alert_rows(store: Store, state: str | None = None) -> list[dict]:
    sql = "select * from alerts"
    params: tuple = ()
    if state:
        sql += " where state = ?"
        params = (state,)
    return store.query(sql + " order by id", params)


__all__ = ["Finding", "RuleEngine", "Scheduler", "open_alert", "alert_rows"]
