"""The hub's projections: per record kind, functions that build the dashboard's tables.

``install(store, ctx)`` registers them on a :class:`hub.store.HubStore` (``store.appliers``;
their tables come with the store's migrations, hub/storage/migrations.py); the store calls
them inside the transaction that applies a batch, once per new (box, seq): a kind's new records
together (``apply.many``, hub/projections/batchwise.py: a few statements per batch, the same
rows as one by one). If one raises, the batch runs again record by record, each applier under
its own SAVEPOINT: a record the hub cannot project is logged in ``hub_projection_errors`` and
skipped, and the batch is still applied and acknowledged (the raw record is kept, a bad body
must never stall a box's relay).

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

from hub.projections import casebatch, cases, halls, reporting, supervision
from hub.projections.batchwise import batch_wise, record_by_record
from hub.projections.schema import PROJECTION_VERSION
from hub.storage.engines import unavailable_errors
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


def _enrolled(ctx: ProjectionContext, conn, box_id: str, record: dict[str, Any]) -> None:
    claimed = record["body"].get("district_code")
    enrolled = ctx.district_of(conn, box_id)
    if claimed != enrolled:
        raise ProjectionRefused(f"箱体 {box_id} 登记于 {enrolled}，却上报了 {claimed} 的办件 "
                                f"(box {box_id} is enrolled for {enrolled}, not {claimed})")


def _case_event(ctx: ProjectionContext, conn, box_id: str, record: dict[str, Any]) -> None:
    _enrolled(ctx, conn, box_id, record)
    cases.apply_case_event(ctx, conn, box_id, record)


def _case_events(ctx: ProjectionContext, conn, box_id: str, records: list[dict]) -> None:
    for record in records:
        _enrolled(ctx, conn, box_id, record)
    casebatch.apply_case_events(ctx, conn, box_id, records)


# kind -> (record by record, batch-wise): the same rows either way.
_STATEMENTS = {
    "alert": supervision.alert_statements,
    "alert_event": supervision.alert_event_statements,
    "notice": supervision.notice_statements,
    "review_followup": supervision.followup_statements,
    "presence": halls.presence_statements,
    "camera_health": halls.camera_health_statements,
    "selftest": halls.selftest_statements,
    "reconciliation": reporting.reconciliation_statements,
}
APPLIERS: dict[str, tuple[Callable, Callable]] = {
    "case_event": (_case_event, _case_events),
    "rating": (supervision.apply_rating, supervision.apply_ratings),
    **{kind: (record_by_record(statements), batch_wise(statements))
       for kind, statements in _STATEMENTS.items()},
}


def guarded(ctx: ProjectionContext, kind: str, apply: Callable, many: Callable | None = None):
    """``apply`` for the store, with ``.careful``: the same under a savepoint, whose failure
    is recorded and undone, never raised; and ``.many``: a batch's records of this kind at once.

    The store runs a batch with the batch-wise appliers first (a savepoint per record costs
    two round trips on PostgreSQL) and, only if one raised, runs the batch again record by
    record with the careful ones (hub/storage/batches.py).
    """

    def fast(conn, box_id: str, record: dict[str, Any]) -> None:
        apply(ctx, conn, box_id, record)

    def run(conn: sqlite3.Connection, box_id: str, record: dict[str, Any]) -> None:
        conn.execute("savepoint projection")
        try:
            apply(ctx, conn, box_id, record)
        except unavailable_errors():
            # A deadlock or a lost server says nothing of the record: the whole batch runs
            # again (hub/storage/retry.py) or is not acknowledged. Recorded as a bad body, its
            # views were skipped for good (seen twice in the province run on PostgreSQL).
            raise
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
    if many is not None:
        fast.many = lambda conn, box_id, records: many(ctx, conn, box_id, records)
    return fast


def install(store, ctx: ProjectionContext) -> None:
    """Register the appliers on a HubStore (their tables come with its migrations)."""
    for kind, (apply, many) in APPLIERS.items():
        store.appliers.setdefault(kind, []).append(guarded(ctx, kind, apply, many))
    store.projection_context = ctx


def needs_rebuild(store) -> bool:
    """True when records exist but the views were built by no (or an older) projection version."""
    rows = store.query("select value from hub_meta where key = 'projection_version'")
    if rows and int(rows[0]["value"]) == PROJECTION_VERSION:
        return False
    return bool(store.query("select 1 from records limit 1"))


VIEW_TABLES = ("hub_cases", "hub_case_events", "hub_case_daily", "hub_case_shares",
               "hub_case_depts", "hub_case_staff", "hub_alerts", "hub_alert_events",
               "hub_notices", "hub_ratings", "hub_rating_daily", "hub_rating_item_daily",
               "hub_followups", "hub_absences", "hub_cameras", "hub_selftests",
               "hub_reconciliations", "hub_projection_errors")


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
