"""The rule check after ingest, off the request path: changed cases are checked in the background.

The platform's answer waits for the commit, not for the rules. Ingest hands the numbers of the
cases it changed to :meth:`RuleChecker.submit`; a thread runs ``rules.check`` for the union of
everything submitted since its last pass, so the batches that arrive while a pass runs share
the next one, then judges whatever else waits on disk (edge/backlog.py: cases loaded while the
box was down, by ``edge ingest``, or left by a crash). An alert follows its event within a pass
(well under a second on a quiet box). Fresh cases go before a long backlog: the backlog is
taken a chunk at a time and gives way when new cases arrive. The scheduled passes
(edge/supervision/schedule.py) judge the waiting cases and every open case too, so a pass lost
to an error is made good there; ``stop`` checks what was submitted and leaves the rest marked.

Example::

    checker = RuleChecker(rules, clock)
    checker.start()
    checker.submit({"NH2026110001"})
    checker.wait_idle(timeout=5)
    checker.stop()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

from edge.supervision.rules import RuleEngine

log = logging.getLogger(__name__)


class RuleChecker:
    """Runs the rules for recently changed cases on its own thread; start()/stop() by the box."""

    def __init__(self, rules: RuleEngine, clock: Callable[[], dt.datetime]):
        self.rules = rules
        self.clock = clock
        self._changed: set[str] = set()
        self._backlog = True  # at start: whatever waits on disk
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, case_nos: Iterable[str]) -> None:
        """Check these cases soon (their events are committed)."""
        with self._cond:
            self._changed.update(case_nos)
            self._backlog = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Judge what waits on disk soon (a new catalogue or calendar may have marked cases)."""
        self.submit(())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted so far has been checked; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._changed or self._backlog or self._busy), timeout)

    def start(self) -> None:
        self._stopping = False
        self._backlog = True
        self._thread = threading.Thread(target=self._run, name="rule-checker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Check what is still waiting, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._changed or self._backlog or self._stopping)
                if self._stopping and not self._changed:
                    self._backlog = False  # the marks stay on disk for the next start
                    self._cond.notify_all()
                    return
                case_nos, self._changed = self._changed, set()
                backlog, self._backlog = self._backlog and not self._stopping, False
                self._busy = True
            try:
                if case_nos:
                    self.rules.check(self.clock(), case_nos=case_nos)
                if backlog:
                    self.rules.drain(self.clock(), give_way=self._fresh_waiting)
            except Exception:  # the cases stay marked: the next pass judges them
                log.exception("rule check of %d changed cases failed", len(case_nos))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _fresh_waiting(self) -> bool:
        """True when new cases (or stop) should go before the rest of a long backlog."""
        with self._cond:
            if self._changed or self._stopping:
                self._backlog = True  # resume after them
                return True
            return False
