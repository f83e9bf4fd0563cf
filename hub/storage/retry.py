"""Running a write again when PostgreSQL asks for it, or lost the connection.

Two receivers' transactions may deadlock on shared view rows (one is aborted and must retry),
and a restarting server drops every connection. Retrying a batch is safe: it is applied
exactly once whatever happened to the previous attempt (held rows count as duplicates, and a
transaction whose commit was lost either committed whole or not at all). SQLite raises
neither, so its writes run once.

Example::

    applied = retrying(lambda: apply_once(), engine)
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from hub.storage.engines import DatabaseUnavailable, Engine

log = logging.getLogger(__name__)
T = TypeVar("T")

CONFLICT_ATTEMPTS = 8  # deadlocks and serialization failures: retry after a short random pause
CONFLICT_PAUSE = 0.05  # seconds, times the attempt: the winner finishes, the two part ways
CONNECTION_ATTEMPTS = 3  # a lost connection: retry on a new one, after a short pause
CONNECTION_PAUSE = 0.5


def retrying(write: Callable[[], T], engine: Engine) -> T:
    if engine.name != "postgresql":
        return write()
    import psycopg
    from psycopg import errors

    conflicts = connections = 0
    while True:
        try:
            return write()
        except (errors.DeadlockDetected, errors.SerializationFailure) as exc:
            conflicts += 1
            if conflicts >= CONFLICT_ATTEMPTS:
                raise
            log.info("PostgreSQL conflict, retrying (%d): %s", conflicts, type(exc).__name__)
            time.sleep(random.uniform(0, CONFLICT_PAUSE * conflicts))
        except (psycopg.OperationalError, DatabaseUnavailable) as exc:
            connections += 1
            if connections >= CONNECTION_ATTEMPTS or isinstance(exc, errors.QueryCanceled):
                raise
            log.warning("PostgreSQL unavailable, retrying in %.1fs: %s", CONNECTION_PAUSE,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            time.sleep(CONNECTION_PAUSE)
