"""Per-address request limits for the public portal, kept in SQLite so a restart keeps them.

An in-memory limiter forgot every count when the hub restarted (a deploy, a crash, a power
cut), and a flood of complaints could go on right after. Here each counted request is a row
``(bucket, address, at)`` in a small database of its own (``data/portal-limits.db``, 0600), a
sliding window exactly as before: a request is allowed while fewer than ``limit`` requests of
that address are younger than ``window`` seconds. The clock is the wall clock, not a monotonic
one, because the rows outlive the process.

Why not Flask-Limiter? Its storage is memory (lost on restart), Redis, Memcached or MongoDB;
the hub runs on SQLite with no other server, and this is 60 lines on the standard library.

Example::

    limits = PortalLimits(Path("data/portal-limits.db"))
    pages = limits.limiter("pages", limit=60, window=60.0)
    pages.allow("203.0.113.9")   # True until the 61st request within a minute
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from standard.files import private_sqlite

SCHEMA = ("create table if not exists portal_hits ("
          " bucket text not null, address text not null, at real not null)",
          "create index if not exists portal_hits_by_address on portal_hits(bucket, address, at)",
          "create index if not exists portal_hits_by_time on portal_hits(at)")
PURGE_EVERY = 1000  # counted requests between sweeps of every address's old rows


class PortalLimits:
    """The database of the portal's limits; one connection, one writer at a time."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._counted = 0
        self._windows: dict[str, float] = {}

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(private_sqlite(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=5)
            conn.execute("pragma journal_mode=wal")
            conn.execute("pragma synchronous=normal")  # a lost last second of counts is fine
            for statement in SCHEMA:
                conn.execute(statement)
            self._conn = conn
        return self._conn

    def limiter(self, bucket: str, limit: int, window: float) -> RateLimiter:
        self._windows[bucket] = window
        return RateLimiter(self, bucket, limit, window)

    def count(self, bucket: str, address: str, limit: int, window: float) -> bool:
        now = self.clock()
        with self._lock:
            conn = self._connection()
            conn.execute("begin immediate")
            try:
                conn.execute("delete from portal_hits where bucket = ? and address = ? and"
                             " at <= ?", (bucket, address, now - window))
                recent = conn.execute("select count(*) from portal_hits where bucket = ? and"
                                      " address = ?", (bucket, address)).fetchone()[0]
                allowed = recent < limit
                if allowed:
                    conn.execute("insert into portal_hits (bucket, address, at) values (?, ?, ?)",
                                 (bucket, address, now))
                    self._counted += 1
                    if self._counted % PURGE_EVERY == 0:  # addresses that went quiet
                        for name, span in self._windows.items():
                            conn.execute("delete from portal_hits where bucket = ? and at <= ?",
                                         (name, now - span))
                conn.execute("commit")
            except BaseException:
                conn.execute("rollback")
                raise
        return allowed

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class RateLimiter:
    """One limit (``limit`` requests per ``window`` seconds per address) in a PortalLimits."""

    def __init__(self, limits: PortalLimits, bucket: str, limit: int, window: float):
        self.limits, self.bucket, self.limit, self.window = limits, bucket, limit, window

    def allow(self, address: str) -> bool:
        """Count a request from ``address``; False when it is over the limit (not counted)."""
        return self.limits.count(self.bucket, address, self.limit, self.window)
