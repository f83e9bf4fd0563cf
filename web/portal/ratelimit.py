"""Per-address request limits for the public portal (in memory, sliding window).

Example::

    limiter = RateLimiter(limit=60, window=60.0)
    limiter.allow("203.0.113.9")   # True until the 61st request within a minute
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_ADDRESSES = 50_000  # past this, forget the addresses that have been quiet longest


class RateLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Count a request from ``address``; False when it is over the limit (not counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(address)
            if hits is None:
                if len(self._hits) >= MAX_ADDRESSES:
                    self._forget(now)
                hits = self._hits[address] = deque()
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _forget(self, now: float) -> None:
        stale = [address for address, hits in self._hits.items()
                 if not hits or now - hits[-1] >= self.window]
        for address in stale:
            del self._hits[address]
        if len(self._hits) >= MAX_ADDRESSES:  # all busy: drop the oldest half
            for address in sorted(self._hits, key=lambda a: self._hits[a][-1])[:MAX_ADDRESSES // 2]:
                del self._hits[address]
