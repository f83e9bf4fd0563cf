"""Keeping open cases' lights current: they change with the date, not only with events.

:class:`LightRefresher` is a hub service: at start it rebuilds the views if the database holds
records they have not seen (an upgrade), then every ``interval`` seconds it judges every open
case again at the hub's clock, and writes only what changed, in small transactions that are
run again if PostgreSQL picks one as a deadlock's loser. A case that changed meanwhile (its
``last_seq`` moved) is left to the newer write.
"""

from __future__ import annotations

import logging
import threading

from hub.projections import ProjectionContext, mark_built, needs_rebuild, rebuild
from hub.projections.casedepts import SYNC_URGENCY
from hub.projections.cases import judged
from hub.projections.shares import write_shares
from hub.storage.retry import retrying
from standard.deadlines import CaseFacts

log = logging.getLogger(__name__)
CHUNK = 2000
WRITE_ROWS = 250  # rows a transaction writes: receivers apply beside it, so hold few locks
_JUDGED = ("light", "deadline", "remaining", "reasons")


def refresh_lights(store, ctx: ProjectionContext, *, chunk: int = CHUNK,
                   stop: threading.Event | None = None) -> int:
    """Judge every open case again; returns how many rows changed."""
    changed = 0
    after = 0
    while stop is None or not stop.is_set():
        rows = store.query("select id, district_code, case_no, facts, last_seq, light, deadline,"
                           " remaining, reasons from hub_cases where is_open = 1 and id > ?"
                           " order by id limit ?", (after, chunk))
        if not rows:
            break
        after = rows[-1]["id"]
        updates, shares = [], []
        for row in rows:
            values = judged(ctx, CaseFacts.from_json(row["facts"]))
            if any(values[name] != row[name] for name in _JUDGED):
                updates.append((values["light"], values["deadline"], values["remaining"],
                                values["reasons"], row["id"], row["last_seq"]))
            if values["shares"]:  # a joint case: its departments' clocks move too
                shares.append((row, values["shares"]))
        for part in range(0, max(len(updates), len(shares)), WRITE_ROWS):
            changed += retrying(lambda part=part: _write(store, updates[part:part + WRITE_ROWS],
                                                         shares[part:part + WRITE_ROWS]),
                                store.engine)
    return changed


def _write(store, updates: list[tuple], shares: list[tuple]) -> int:
    """One small transaction of the pass; safe to run again (a receiver's transaction may
    deadlock with it on PostgreSQL, and the loser is retried: hub/storage/retry.py)."""
    changed = 0
    if not (updates or shares):
        return changed
    with store.transaction() as conn:
        if updates:
            changed = conn.executemany(
                "update hub_cases set light = ?, deadline = ?, remaining = ?,"
                " reasons = ? where id = ? and last_seq = ?", updates).rowcount
            # the departments' lists walk these in urgency order (hub/projections/casedepts.py)
            conn.executemany(SYNC_URGENCY, [(row[4], row[4]) for row in updates])
        for row, rows_now in shares:
            # Take the case's row before its shares: a receiver rewriting the case holds it
            # until it commits, and then the case has moved on. A plain read did not wait, so
            # the shares' delete waited instead, found the receiver's rows gone and the insert
            # met the new ones: a duplicate key that ended the pass (the province run).
            still = conn.execute("update hub_cases set last_seq = last_seq where id = ?"
                                 " and last_seq = ?", (row["id"], row["last_seq"])).rowcount
            if still:  # else a newer event rewrote the case and its shares
                write_shares(conn, row["district_code"], row["case_no"], rows_now)
    return changed


class LightRefresher:
    """A background thread: rebuild views if needed, then refresh lights every ``interval`` s."""

    def __init__(self, store, ctx: ProjectionContext, interval: float = 300.0):
        self.store = store
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    def start(self) -> None:
        if needs_rebuild(self.store):
            log.warning("hub views are behind the records: rebuilding them in the background")
        else:
            mark_built(self.store)
        self._thread = threading.Thread(target=self._run, name="hub-lights", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            if needs_rebuild(self.store):
                count = rebuild(self.store)
                log.warning("hub views rebuilt from %d records", count)
        except Exception:  # noqa: BLE001 - the receiver must keep running
            log.exception("rebuilding the hub views failed")
        while not self._stop.is_set():
            try:
                refresh_lights(self.store, self.ctx, stop=self._stop)
                self.passes += 1
                self.store.optimize()
            except Exception:  # noqa: BLE001
                log.exception("refreshing lights failed")
            self._stop.wait(self.interval)
