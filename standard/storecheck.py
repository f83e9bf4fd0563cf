"""A SQLite database's integrity: ``PRAGMA quick_check`` at start-up and periodically.

Box and hub alike (``box.db``; the hub's ``hub.db`` when it runs on SQLite). A damaged
database is reported, never a crash loop: :class:`StoreWatch` runs the check on its own thread
with its own read-only connection (the writer and the pages never wait for it), keeps the last
result for the health pages (``problem``, ``checked_at``) and hands every change to
``on_change``. The box raises a device alert (edge/supervision/integrity.py) and refuses new
platform records with 503 while damaged (they stay with the platform, nothing is lost); the
hub shows the damage on its overview (web/hub/overview.py) and keeps receiving.

Example::

    watch = StoreWatch(Path("data/box.db"), interval_seconds=6 * 3600,
                       advice="run 'hallwatch edge reinit --config box.toml --confirm'")
    watch.start()            # the first check runs at once
    watch.problem            # None while the database is sound
    watch.stop()
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

CHECK_SECONDS = 6 * 3600.0
MAX_LINES = 5  # of quick_check's findings kept in the report


def quick_check(path: Path) -> str | None:
    """None when ``PRAGMA quick_check`` finds the database sound, else what it found."""
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)
        try:
            lines = [row[0] for row in conn.execute(f"pragma quick_check({MAX_LINES})")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{path}: {exc}"
    if lines == ["ok"]:
        return None
    return f"{path}: " + "; ".join(lines)


class StoreWatch:
    """Checks the database at start and every ``interval_seconds``; a service (start/stop)."""

    def __init__(self, path: Path, *, interval_seconds: float = CHECK_SECONDS,
                 on_change: Callable[[str | None], None] | None = None,
                 check: Callable[[Path], str | None] = quick_check, what: str = "box",
                 advice: str = "run 'hallwatch edge reinit --config box.toml --confirm' "
                               "(see docs/box.md)"):
        self.path = Path(path)
        self.what = what  # in the log: "box database damaged"
        self.advice = advice  # what to do, after "restore <file> from a backup, or"
        self.interval_seconds = interval_seconds
        self.on_change = on_change
        self.check = check
        self.problem: str | None = None
        self.checked_at: dt.datetime | None = None
        self.checked = threading.Event()  # set after each check (tests wait on it)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> str | None:
        """Check now; report a change of state; return the problem (None when sound)."""
        try:
            problem = self.check(self.path)
        except Exception as exc:  # a check that cannot run is itself worth reporting
            log.exception("integrity check of %s failed", self.path)
            problem = f"{self.path}: the integrity check could not run: {exc}"
        changed = problem != self.problem
        self.problem = problem
        self.checked_at = dt.datetime.now(dt.timezone.utc)
        if problem and changed:
            log.error("%s database damaged: %s. Restore %s from a backup, or %s", self.what,
                      problem, self.path, self.advice)
        elif changed:
            log.warning("%s database sound again: %s", self.what, self.path)
        if changed and self.on_change is not None:
            try:
                self.on_change(problem)
            except Exception:  # the alert may not be writable in a damaged file
                log.exception("could not record the integrity alert")
        self.checked.set()
        return problem

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval_seconds)
