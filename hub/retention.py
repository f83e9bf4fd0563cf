"""Applying ``[database] retention_months`` to the raw records: at start-up, then daily.

A hub service (started and stopped with ``hub serve``, not by ``hub receive``): on PostgreSQL
it archives or drops the monthly partitions of ``records`` older than the retention
(hub/storage/partitions.py). SQLite keeps everything, so there it does nothing.

Example::

    RetentionKeeper(store, keep_months=36, action="archive", clock=utc_now).start()
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from hub.storage.partitions import apply_retention
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)
DAY_SECONDS = 24 * 3600.0


class RetentionKeeper:
    def __init__(self, store, *, keep_months: int, action: str,
                 clock: Callable[[], dt.datetime], interval: float = DAY_SECONDS):
        self.store = store
        self.keep_months = keep_months
        self.action = action
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[str]:
        today = self.clock().astimezone(LOCAL_TZ).date()
        done = apply_retention(self.store.engine, keep_months=self.keep_months,
                               action=self.action, today=today)
        if done:
            log.warning("records of %s %s (retention: %d months)", ", ".join(done),
                        "archived" if self.action == "archive" else "dropped", self.keep_months)
        return done

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the hub keeps running; tried again tomorrow
                log.exception("applying the records' retention failed")
            self._stop.wait(self.interval)
