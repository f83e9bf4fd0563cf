"""The hub's projections: per record kind, functions that build the dashboard's tables.

``install(store, ctx)`` registers them on a :class:`hub.store.HubStore` (``store.appliers``;
their tables come with the store's migrations, hub/storage/migrations.py); the store calls
them inside the transaction that applies a batch, once per new (box, seq). Each applier runs under its own SAVEPOINT: a
record the hub cannot project is logged in ``hub_projection_errors`` and skipped, and the
batch is still applied and acknowledged (the raw record is kept, a bad body must never stall a
box's relay).

Example::

    ctx = ProjectionContext(catalogue, WorkCalendar(), LightSettings(), clock=utc_now)
    install(store, ctx)
    store.open()
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.projections import cases, halls, reporting, supervision
from hub.projections.schema import PROJECTION_VERSION
from standard.calendar import WorkCalendar
from standard.deadlines import LightSettings
from standard.records import CatalogueItem

log = logging.getLogger(__name__)


class ProjectionRefused(ValueError):
    """A record that must not enter the views (e.g. a box reporting another district's case)."""


@dataclass
class ProjectionContext:
    """What the appliers need: the catalogue, the calendar, the light thresholds, the clock."""

    catalogue: dict[str, CatalogueItem]
    calendar: WorkCalendar
    settings: LightSettings
    clock: Callable[[], dt.datetime]
    _districts: dict[str, str] = field(default_factory=dict)

    def district_of(self, conn: sqlite3.Connection, box_id: str) -> str:
        """The district a box was enrolled for (never what its records claim)."""
        district = self._districts.get(box_id)
        if district is None:
            row = conn.execute("select district_code from boxes where box_id = ?",
                               (box_id,)).fetchone()
            if row is None:
                raise ProjectionRefused(f"box {box_id} is not known to the hub")
            district = self._districts[box_id] = row[0]
        return district


def _case_event(ctx: ProjectionContext, conn, box_id: str, record: dict[str, Any]) -> None:
    claimed = record["body"].get("district_code")
    enrolled = ctx.district_of(conn, box_id)
    if claimed != enrolled:
        raise ProjectionRefused(f"箱体 {box_id} 登记于 {enrolled}，却上报了 {claimed} 的办件 "
                                f"(box {box_id} is enrolled for {enrolled}, not {claimed})")
    cases.apply_case_event(ctx, conn, box_id, record)


APPLIERS: dict[str, Callable] = {
    "case_event": _case_event,
    "alert": supervision.apply_alert,
    "alert_event": supervision.apply_alert_event,
    "notice": supervision.apply_notice,
    "rating": supervision.apply_rating,
    "review_followup": supervision.apply_followup,
    "presence": halls.apply_presence,
    "camera_health": halls.apply_camera_health,
    "selftest": halls.apply_selftest,
    "reconciliation": reporting.apply_reconciliation,
}


def guarded(ctx: ProjectionContext, kind: str, apply: Callable):
    """``apply`` for the store, with ``.careful``: the same under a savepoint, whose failure
    is recorded and undone, never raised.

    The store runs a batch with the plain appliers first (a savepoint per record costs two
    round trips on PostgreSQL) and, only if one raised, runs the batch again with the careful
    ones (hub/storage/batches.py).
    """

    def fast(conn, box_id: str, record: dict[str, Any]) -> None:
        apply(ctx, conn, box_id, record)

    def run(conn: sqlite3.Connection, box_id: str, record: dict[str, Any]) -> None:
        conn.execute("savepoint projection")
        try:
            apply(ctx, conn, box_id, record)
        except Exception as exc:  # noqa: BLE001 - any bad body: keep the record, skip the view
            conn.execute("rollback to projection")
            log.warning("record %s/%s (%s) not projected: %s", box_id, record.get("seq"), kind,
                        exc)
            conn.execute("insert into hub_projection_errors (box_id, seq, kind, error, at)"
                         " values (?, ?, ?, ?, ?)",
                         (box_id, record.get("seq", -1), kind, f"{type(exc).__name__}: {exc}"[:500],
                          dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
        conn.execute("release projection")

    fast.careful = run
    return fast


def install(store, ctx: ProjectionContext) -> None:
    """Register the appliers on a HubStore (their tables come with its migrations)."""
    for kind, apply in APPLIERS.items():
        store.appliers.setdefault(kind, []).append(guarded(ctx, kind, apply))
    store.projection_context = ctx


def needs_rebuild(store) -> bool:
    """True when records exist but the views were built by no (or an older) projection version."""
    rows = store.query("select value from hub_meta where key = 'projection_version'")
    if rows and int(rows[0]["value"]) == PROJECTION_VERSION:
        return False
    return bool(store.query("select 1 from records limit 1"))


VIEW_TABLES = ("hub_cases", "hub_case_events", "hub_case_daily", "hub_case_shares",
               "hub_alerts", "hub_alert_events",
               "hub_notices", "hub_ratings", "hub_rating_daily", "hub_followups", "hub_absences",
               "hub_cameras", "hub_selftests", "hub_reconciliations", "hub_projection_errors")


def rebuild(store, *, chunk: int = 5000, progress: Callable[[int], None] | None = None) -> int:
    """Empty the views and replay every record through the appliers; returns records replayed.

    Runs in chunks (one transaction each) so that the receiver is never blocked for long.
    """
    with store.transaction() as conn:
        for table in VIEW_TABLES:
            conn.execute(f"delete from {table}")
    done = 0
    cursor = ("", 0)
    while True:
        rows = store.query("select box_id, seq, kind, body from records"
                           " where (box_id, seq) > (?, ?) order by box_id, seq limit ?",
                           (*cursor, chunk))
        if not rows:
            break
        with store.transaction() as conn:
            for row in rows:
                record = json.loads(row["body"])
                for apply in store.appliers.get(row["kind"], ()):
                    getattr(apply, "careful", apply)(conn, row["box_id"], record)
        done += len(rows)
        cursor = (rows[-1]["box_id"], rows[-1]["seq"])
        if progress:
            progress(done)
    mark_built(store)
    return done


def mark_built(store) -> None:
    with store.transaction() as conn:
        conn.execute("insert into hub_meta (key, value) values ('projection_version', ?)"
                     " on conflict(key) do update set value = excluded.value",
                     (str(PROJECTION_VERSION),))
