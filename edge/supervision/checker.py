"""The rule check after ingest, off the request path: changed cases are checked in the background.

The platform's answer waits for the commit, not for the rules. Ingest hands the numbers of the
cases it changed to :meth:`RuleChecker.submit`; a thread runs ``rules.check`` for the union of
everything submitted since its last pass, so the batches that arrive while a pass runs share
the next one. An alert follows its event within a pass (well under a second on a quiet box).
The scheduled passes (edge/supervision/schedule.py) still check every open case each minute, so a pass
lost to an error is made good there; ``stop`` checks what is still waiting.

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
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, case_nos: Iterable[str]) -> None:
        """Check these cases soon (their events are committed)."""
        with self._cond:
            before = len(self._changed)
            self._changed.update(case_nos)
            if len(self._changed) != before:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted so far has been checked; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._changed or self._busy), timeout)

    def start(self) -> None:
        self._stopping = False
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
                self._cond.wait_for(lambda: self._changed or self._stopping)
                if not self._changed:
                    return
                case_nos, self._changed = self._changed, set()
                self._busy = True
            try:
                self.rules.check(self.clock(), case_nos=case_nos)
            except Exception:  # the next scheduled pass checks every open case again
                log.exception("rule check of %d changed cases failed", len(case_nos))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
