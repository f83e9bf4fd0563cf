"""Log lines at most once per key and period: a box retrying ten times a second must not
fill the log (hub/receiver.py).

Example::

    throttle = LogThrottle(60.0)
    if throttle.due(("refusal", 7)):
        log.warning("refused ...")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LogThrottle:
    """Says whether a key is due a log line: the first time, then once per ``seconds``."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._last: dict[object, float] = {}
        self._lock = threading.Lock()

    def due(self, key: object) -> bool:
        now = self.clock()
        with self._lock:
            if now - self._last.get(key, -self.seconds) < self.seconds:
                return False
            if len(self._last) > 1000:  # forget keys long quiet, so the map stays small
                self._last = {k: t for k, t in self._last.items() if now - t < self.seconds}
            self._last[key] = now
            return True
