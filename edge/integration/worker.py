"""Running a source: poll at its interval, at once again while it is behind, back off on errors.

A poll that fails (the 中间库 unreachable, a folder gone) is noted on the source's state with
the error; the next attempt waits twice as long each time, up to ``max_backoff``. After
``alert_after`` failures in a row a 数据源中断 alert opens (device alerts, like a camera's);
the first good poll resolves it.

Example::

    worker = SourceWorker(pull, store, clock, interval=30, max_backoff=600, alert_after=3)
    worker.start(); ...; worker.stop()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from edge.integration.intake import SourceRefused
from edge.integration.pull import PollOutcome
from edge.integration.state import note_failure, note_poll
from edge.store import Store
from edge.supervision import Finding, raise_condition, resolve_condition

log = logging.getLogger(__name__)
OUTAGE_RULE = "数据源中断"


class Pollable(Protocol):
    name: str
    kind: str

    def poll(self) -> PollOutcome: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


class SourceWorker:
    """A thread that polls one source until stopped."""

    def __init__(self, source: Pollable, store: Store, clock: Callable[[], dt.datetime], *,
                 interval: float, max_backoff: float, alert_after: int):
        self.source = source
        self.store = store
        self.clock = clock
        self.interval = interval
        self.max_backoff = max_backoff
        self.alert_after = alert_after
        self.failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0  # completed polls, good or bad (tests and the page wait on it)
        self.caught_up = False  # the last poll succeeded and left nothing waiting
        self.polled = threading.Condition()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"source:{self.source.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.source.close()

    def wake(self) -> None:
        """Poll now instead of at the end of the interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.run_once()
            self._wake.wait(delay)
            self._wake.clear()

    def run_once(self) -> float:
        """One poll and its bookkeeping; returns the seconds to wait before the next."""
        try:
            outcome = self.source.poll()
        except SourceRefused as exc:
            log.warning("source %s waits: %s", self.source.name, exc)
            self._noted(lambda tx: note_failure(tx, self.source.name, self.source.kind,
                                                f"本机暂停接收：{exc}"))
            delay = self.interval
        except Exception as exc:  # noqa: BLE001 - the database or folder failed: back off
            delay = self._failed(exc)
        else:
            delay = self._succeeded(outcome)
        with self.polled:
            self.polls += 1
            self.polled.notify_all()
        return delay

    def _succeeded(self, outcome: PollOutcome) -> float:
        recovered = self.failures >= self.alert_after
        self.failures = 0
        self.caught_up = not outcome.behind

        def write(tx) -> None:
            note_poll(tx, self.source.name, self.source.kind, duplicates=outcome.duplicates,
                      rejected=outcome.rejected, behind=outcome.behind,
                      accepted=outcome.accepted,
                      read=outcome.read)
            if recovered:
                resolve_condition(tx, self.subject, OUTAGE_RULE, tx.now, "数据源已恢复")

        self._noted(write)
        return 0.0 if outcome.behind else self.interval

    def _failed(self, exc: Exception) -> float:
        self.failures += 1
        self.caught_up = False
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log.warning("source %s failed (%d in a row): %s", self.source.name, self.failures, text)

        def write(tx) -> None:
            note_failure(tx, self.source.name, self.source.kind, text)
            if self.failures >= self.alert_after:
                raise_condition(tx, Finding(
                    self.subject, OUTAGE_RULE, "red",
                    f"数据源 {self.source.name}（{self.source.describe()}）连续 {self.failures} "
                    f"次读取失败：{text}"), tx.now)

        self._noted(write)
        return min(self.interval * 2 ** min(self.failures, 20), self.max_backoff)

    @property
    def subject(self) -> str:
        return f"source:{self.source.name}"

    def _noted(self, write) -> None:
        try:
            self.store.write(write)
        except Exception:  # noqa: BLE001 - the state is for the page; the pull goes on
            log.exception("source %s: cannot note its state", self.source.name)

    def wait_polls(self, count: int, timeout: float) -> bool:
        """Block until ``count`` polls have completed (True) or ``timeout`` passes."""
        with self.polled:
            return self.polled.wait_for(lambda: self.polls >= count, timeout)
