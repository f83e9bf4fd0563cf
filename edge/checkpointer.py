"""WAL checkpoints for the box store, on their own thread so that commits never wait for them.

The store's writer calls :meth:`Checkpointer.wanted` after each commit; the checkpointer copies
the WAL into the database file at most every ``every`` seconds (a passive checkpoint, which
never blocks the writer or the readers).

Example::

    checkpointer = Checkpointer(Path("data/box.db"))
    checkpointer.start()
    checkpointer.wanted()
    checkpointer.stop()
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0  # the WAL goes into the database file (and to disk) this soon


class Checkpointer:
    """Copies the WAL into the database file on its own thread, so commits never wait for it.

    The store runs ``synchronous=full``: each commit has already synced the WAL, so a
    checkpoint only keeps the WAL short (and syncs the database file). A passive checkpoint
    never blocks the writer or the readers; the writer's own autocheckpoint is only a backstop.
    """

    def __init__(self, path: Path, every: float = CHECKPOINT_SECONDS):
        self.path = path
        self.every = every
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"checkpoint:{self.path.name}",
                                        daemon=True)
        self._thread.start()

    def wanted(self) -> None:
        """Something was committed: checkpoint soon."""
        self._wanted.set()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while self._wanted.wait() and not self._stop.is_set():
                self._wanted.clear()
                try:
                    conn.execute("pragma wal_checkpoint(passive)")
                except sqlite3.Error as exc:  # the writer's own backstop still checkpoints
                    log.warning("checkpoint of %s failed: %s", self.path, exc)
                if self._stop.wait(self.every):
                    return
        finally:
            conn.close()
