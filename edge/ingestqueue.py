"""The platform's ingest queue: how many platform requests the box holds at once.

A platform request is ingested on its own web-server thread and waits there until its records
are committed: the answer means "on disk". So every platform request inside the box is a
thread the hall manager's pages cannot have. This queue bounds them:

- at most ``workers`` requests ingest at once (one). The store has one writer thread
  (edge/store.py), and parsing runs under Python's one interpreter lock: a second request
  validating while the first commits gave no more records a second and only slowed the commit
  that people's writes wait for (bench/bench_backlog.py, docs/box.md);
- at most ``waiting`` more wait for their turn, in the order they came;
- any other is refused at once with :class:`QueueFull` (the platform API answers 503 with
  ``Retry-After``), before its body is read or anything is stored, so its retry is safe. A
  request that waited ``max_wait`` seconds without a turn is refused the same way.

The web server has more threads than the queue can hold (``[web] threads`` and
``[web] ingest_queue``, checked in edge/config.py), so people always keep threads of their own.

Example::

    queue = IngestQueue(workers=1, waiting=6)
    try:
        with queue.turn():
            ...  # split, validate and store the body
    except QueueFull as exc:
        ...  # answer 503 with Retry-After: exc.retry_after
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

INGEST_WORKERS = 1  # requests ingesting at once: one, as there is one writer (see above)
MAX_WAIT_SECONDS = 30.0  # a turn not come by then is refused (stored nothing, retry is safe)
MAX_RETRY_AFTER = 60
_SMOOTHING = 0.2  # weight of the latest request in the running mean of a turn's length


class QueueFull(Exception):
    """The box holds as many platform requests as it may; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class QueueLoad:
    """What the queue holds now, and how many requests it refused since the box started."""

    running: int
    waiting: int
    refused: int
    workers: int
    capacity: int  # workers plus waiting places


class IngestQueue:
    """A bounded, first-come first-served turnstile for platform requests (thread-safe)."""

    def __init__(self, *, workers: int = INGEST_WORKERS, waiting: int = 6,
                 max_wait: float = MAX_WAIT_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        if workers < 1 or waiting < 0:
            raise ValueError("an ingest queue needs at least one worker and no negative places")
        self.workers = workers
        self.places = waiting
        self.max_wait = max_wait
        self._clock = clock
        self._cond = threading.Condition()
        self._running = 0
        self._line: deque[object] = deque()  # tickets of the waiting requests, first first
        self._refused = 0
        self._mean_seconds = 0.0  # a turn's length, smoothed

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold one of the ``workers`` turns for the ``with`` block; raises QueueFull."""
        self._enter()
        started = self._clock()
        try:
            yield
        finally:
            self._leave(self._clock() - started)

    def load(self) -> QueueLoad:
        with self._cond:
            return QueueLoad(self._running, len(self._line), self._refused, self.workers,
                             self.workers + self.places)

    def _enter(self) -> None:
        with self._cond:
            if self._running < self.workers and not self._line:
                self._running += 1
                return
            if len(self._line) >= self.places:
                raise self._refuse("接入队列已满", "the ingest queue is full")
            ticket = object()
            self._line.append(ticket)

            def my_turn() -> bool:
                return self._line[0] is ticket and self._running < self.workers

            if not self._cond.wait_for(my_turn, timeout=self.max_wait):
                self._line.remove(ticket)
                self._cond.notify_all()  # the one behind may be first now
                raise self._refuse(f"排队超过 {self.max_wait:.0f} 秒",
                                   f"no turn within {self.max_wait:.0f} s")
            self._line.popleft()
            self._running += 1
            self._cond.notify_all()  # with two free turns, the next in line goes too

    def _leave(self, seconds: float) -> None:
        with self._cond:
            self._running -= 1
            self._mean_seconds += _SMOOTHING * (seconds - self._mean_seconds)
            self._cond.notify_all()

    def _refuse(self, why: str, why_en: str) -> QueueFull:
        """Count a refusal and say when to come back (called with the lock held)."""
        self._refused += 1
        # A place frees when one of the running requests ends: about a turn's length divided
        # by the workers. Sooner would be refused again; later leaves the writer idle.
        seconds = math.ceil(self._mean_seconds / self.workers) if self._mean_seconds else 1
        retry_after = min(MAX_RETRY_AFTER, max(1, seconds))
        return QueueFull(f"{why}，请 {retry_after} 秒后重试；本次请求未保存任何记录 "
                         f"({why_en}: retry after {retry_after} s; nothing of this "
                         "request was stored)", retry_after)
