"""The hub's storage: every box's records, once each, and what the hub knows about each box.

All hub storage goes through this module, on one of two engines (hub/storage/engines.py):
SQLite, the embedded default (``data/hub.db``), or PostgreSQL for a province, chosen in
hub.toml by ``[database] url = "postgresql://..."``. Services, projections and pages write
one SQL spelling (hub/storage/dialect.py) and ask ``store.dialect`` for the few fragments
that differ. The schema is a list of numbered migrations (hub/storage/migrations.py) applied
by :meth:`HubStore.open` and ``hallwatch hub migrate``.

Exactly once per (box, seq): a batch is applied in one transaction that first takes the box's
lock (SQLite: the single writer; PostgreSQL: an advisory lock on the box id, shared by every
receiver process), reads which of its sequence numbers are held and inserts the others. Gaps
are kept as ranges (``missing_ranges``): a box jumping from seq 9 to 2,000,009 costs one row.

Example::

    store = HubStore(Path("data/hub.db")).open()       # or HubStore("postgresql://...")
    applied = store.apply_batch("440605-01", "440605", parsed, from_seq=1, backlog=0)
    store.box_states()
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.storage.batches import apply_records, ensure_box
from hub.storage.engines import StorageError, engine_for, unavailable_errors
from hub.storage.lastwrites import deferred
from hub.storage.migrations import migrate
from hub.storage.partitions import PartitionCache, ensure_months, month_of
from hub.storage.retry import retrying

log = logging.getLogger(__name__)

__all__ = ["Applied", "Batch", "ConfigVersionTaken", "HubStore", "Refusal", "StorageError", "utc_iso"]

REFUSAL_WINDOW_SECONDS = 60.0

# Projections: per record kind, functions that build the hub's views in the same transaction.
Applier = Callable[[Any, str, dict[str, Any]], None]


def utc_iso(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="milliseconds")


class ConfigVersionTaken(StorageError):
    """A config document of that kind and version was published already."""


@dataclass(frozen=True)
class Refusal:
    """The refusals row a refusal was counted in: its id, count so far and first time."""

    id: int
    count: int
    first_at: str


@dataclass(frozen=True)
class Batch:
    """One box's batch as the receiver opened it: records in ascending seq (see apply_batch)."""

    box_id: str
    district_code: str
    parsed: list[tuple[dict[str, Any], str, bytes]]
    from_seq: int
    backlog: int | None


@dataclass
class Applied:
    new: int
    duplicates: int
    acked_seq: int
    tamper: list[str]


class HubStore:
    """The hub's database: ``target`` is a SQLite file path or a ``postgresql://`` URL.

    ``read_only`` opens it for a process that only reads; ``allowed`` (SQLite) limits what a
    process may read and write (the portal's access, hub/portal.py).
    """

    def __init__(self, target: Path | str, *, read_only: bool = False,
                 allowed: tuple[tuple[str, ...], tuple[str, ...]] | None = None):
        self.engine = engine_for(target, read_only=read_only, allowed=allowed)
        self.path: Path | None = getattr(self.engine, "path", None)
        self.appliers: dict[str, list[Applier]] = {}
        self._months = PartitionCache()

    @property
    def dialect(self):
        return self.engine.dialect

    @property
    def is_postgres(self) -> bool:
        return self.engine.name == "postgresql"

    def open(self, *, migrate_schema: bool = True) -> HubStore:
        self.engine.open()
        if migrate_schema and not self.engine.read_only:
            migrate(self.engine)
        return self

    def close(self) -> None:
        self.engine.close()

    def transaction(self):
        """One transaction, committed or rolled back whole (``with store.transaction() as c``)."""
        return self.engine.transaction()

    def query(self, sql: str, params: tuple | list | dict = ()) -> list[dict[str, Any]]:
        return self.engine.query(sql, params)

    def optimize(self) -> None:
        """Keep the query planner's statistics fresh (PostgreSQL's autovacuum does it there)."""
        if not self.is_postgres:
            with self.transaction() as conn:
                conn.execute("pragma analysis_limit = 1000")  # bounded work per table
                conn.execute("pragma optimize")

    # -- boxes --------------------------------------------------------------------------
    def touch_box(self, box_id: str, district_code: str, *, backlog: int | None = None,
                  box_acked: int | None = None) -> int:
        """Note that a box was heard from; returns its cumulative acked sequence.

        ``box_acked`` is what the box says this hub acknowledged (its hello): ahead of the
        hub's own mark only when the hub was restored from a backup (see hub/storage/batches.py).
        """
        with self.transaction() as conn:
            ensure_box(conn, box_id, district_code)
            conn.execute("update boxes set last_seen = ?, backlog = coalesce(?, backlog),"
                         " box_acked_seq = coalesce(?, box_acked_seq) where box_id = ?",
                         (utc_iso(), backlog, box_acked, box_id))
            return conn.execute("select contiguous_seq from boxes where box_id = ?",
                                (box_id,)).fetchone()[0]

    def acked_seq(self, box_id: str) -> int:
        """The box's cumulative acknowledged mark as committed (reads, never waits on writers)."""
        rows = self.query("select contiguous_seq from boxes where box_id = ?", (box_id,))
        return rows[0]["contiguous_seq"] if rows else 0

    def box_states(self) -> list[dict[str, Any]]:
        return self.query(
            "select box_id, district_code as district, last_seen, last_seq,"
            " contiguous_seq as acked_seq, backlog, chain_state as chain,"
            " record_count as records from boxes order by box_id")

    def recent_refusals(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest refusal episodes, newest first: who (box or key), how often, why."""
        return self.query(
            "select coalesce(last_at, at) as last_at, coalesce(box_id, source) as sender,"
            " count, reason from refusals order by coalesce(last_at, at) desc, id desc limit ?",
            (limit,))

    def refuse(self, box_id: str | None, reason: str, *, source: str = "",
               window_seconds: float = REFUSAL_WINDOW_SECONDS,
               now: dt.datetime | None = None) -> Refusal:
        """Record a refused handshake or message, one row per episode.

        The same ``source`` (a box id, or the CURVE key of an unknown sender) refused for the
        same reason within ``window_seconds`` of the row's last refusal only bumps that row's
        ``count`` and ``last_at``: a box retrying ten times a second must not fill the disk.

        >>> store.refuse(None, "connection refused: CURVE key abc… is not enrolled",
        ...              source="key:abc…").count  # doctest: +SKIP
        1
        """
        moment = now or dt.datetime.now(dt.timezone.utc)
        at, since = utc_iso(moment), utc_iso(moment - dt.timedelta(seconds=window_seconds))
        source = source or box_id or ""
        with self.transaction() as conn:
            row = conn.execute(
                "select id, at, count from refusals where source = ? and reason = ?"
                " and coalesce(last_at, at) >= ? order by id desc limit 1",
                (source, reason, since)).fetchone()
            if row is None:
                new_id = conn.execute(
                    "insert into refusals (at, box_id, reason, source, count, last_at)"
                    " values (?, ?, ?, ?, 1, ?) returning id",
                    (at, box_id, reason, source, at)).fetchone()[0]
                return Refusal(new_id, 1, at)
            conn.execute("update refusals set count = count + 1, last_at = ? where id = ?",
                         (at, row[0]))
            return Refusal(row[0], row[2] + 1, row[1])

    # -- batches ------------------------------------------------------------------------
    def apply_batch(self, box_id: str, district_code: str,
                    parsed: list[tuple[dict[str, Any], str, bytes]], *, from_seq: int,
                    backlog: int | None) -> Applied:
        """Apply a batch exactly once per (box, seq), check the chain, in one transaction.

        ``parsed`` holds (record, record_text, claimed_hash) in ascending seq order. Two
        receivers given the same batch (a box failing over) apply it once between them.
        """
        return self.apply_batches([Batch(box_id, district_code, parsed, from_seq, backlog)])[0]

    def apply_batches(self, batches: list[Batch]) -> list[Applied]:
        """Apply several batches (one box's in order, or several boxes') in one transaction:
        one commit, one sync, for all (a group commit). Each is applied as ``apply_batch``
        would; if one fails, each is applied again in a transaction of its own."""
        if self.is_postgres:
            months = {month_of(record["at"]) for batch in batches
                      for record, _, _ in batch.parsed} - {None}
            needed = self._months.missing(months)
            if needed:
                ensure_months(self.engine, needed)
                self._months.add(needed)

        def attempt(careful: bool) -> list[Applied]:
            applied = []
            with self.transaction() as conn:
                for box_id in sorted({batch.box_id for batch in batches}):  # no deadlock
                    self.engine.lock_box(conn, box_id)
                now = utc_iso()
                # Rows other boxes share (the daily aggregates) are written after all the
                # group's own rows, in key order, so receivers never wait in a circle.
                with deferred(conn):
                    for batch in batches:
                        new, acked, tamper = apply_records(
                            conn, self.appliers, batch.box_id, batch.district_code,
                            batch.parsed, batch.from_seq, batch.backlog, now, careful=careful)
                        applied.append(Applied(new, len(batch.parsed) - new, acked, tamper))
            return applied

        try:
            return retrying(lambda: attempt(False), self.engine)
        except unavailable_errors():
            raise
        except Exception as exc:  # noqa: BLE001 - a projection failed: again, record by record
            if len(batches) > 1:
                log.info("a group of %d batches failed (%s); applying each alone",
                         len(batches), exc)
                return [self.apply_batches([batch])[0] for batch in batches]
            log.info("box %s batch %s: a projection failed (%s); applying it again with each"
                     " record under a savepoint", batches[0].box_id, batches[0].from_seq, exc)
            return retrying(lambda: attempt(True), self.engine)

    # -- config pushed to boxes ---------------------------------------------------------
    def publish_config(self, doc: dict) -> None:
        """Store the next version of a config document; raises ConfigVersionTaken."""
        with self.transaction() as conn:
            stored = conn.execute(
                "insert into config_docs (kind, doc_version, doc, published_at)"
                " values (?, ?, ?, ?) on conflict (kind, doc_version) do nothing returning kind",
                (doc["kind"], doc["doc_version"], json.dumps(doc, ensure_ascii=False),
                 utc_iso())).fetchone()
        if stored is None:
            raise ConfigVersionTaken(f"{doc['kind']} version {doc['doc_version']} exists already")

    def latest_configs(self) -> dict[str, dict]:
        rows = self.query("select kind, doc from config_docs c where doc_version ="
                          " (select max(doc_version) from config_docs where kind = c.kind)")
        return {row["kind"]: json.loads(row["doc"]) for row in rows}

    def next_config_version(self, kind: str) -> int:
        rows = self.query("select coalesce(max(doc_version), 0) as top from config_docs"
                          " where kind = ?", (kind,))
        return rows[0]["top"] + 1

    def config_states(self) -> dict[str, dict[str, dict[str, Any]]]:
        """What each box answered to pushed config: box_id -> kind -> {doc_version, ok, error}."""
        states: dict[str, dict[str, dict[str, Any]]] = {}
        for row in self.query("select box_id, kind, doc_version, ok, error from config_acks"
                              " order by box_id, kind"):
            states.setdefault(row["box_id"], {})[row["kind"]] = {
                "doc_version": row["doc_version"], "ok": bool(row["ok"]), "error": row["error"]}
        return states

    def config_acked(self, box_id: str, body: dict) -> None:
        with self.transaction() as conn:
            conn.execute("insert into config_acks (box_id, kind, doc_version, ok, error, at)"
                         " values (?, ?, ?, ?, ?, ?) on conflict(box_id, kind) do update set"
                         " doc_version = excluded.doc_version, ok = excluded.ok,"
                         " error = excluded.error, at = excluded.at",
                         (box_id, str(body.get("kind")), int(body.get("doc_version") or 0),
                          1 if body.get("ok") else 0, body.get("error"), utc_iso()))


    # -- commands for the receiver (written by other processes, e.g. ``hub resend``) -----
    def add_command(self, box_id: str, kind: str, body: dict[str, Any]) -> int:
        """Queue a message for a box; the running receiver sends it when the box is connected.

        >>> store.add_command("440605-01", "resend", {"from_seq": 1200})  # doctest: +SKIP
        7
        """
        with self.transaction() as conn:
            return conn.execute("insert into commands (box_id, kind, body, created_at)"
                                " values (?, ?, ?, ?) returning id",
                                (box_id, kind, json.dumps(body, ensure_ascii=False), utc_iso())
                                ).fetchone()[0]

    def pending_commands(self) -> list[dict[str, Any]]:
        return self.query("select id, box_id, kind, body, created_at from commands"
                          " where done_at is null order by id")

    def command_done(self, command_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("update commands set done_at = ? where id = ?", (utc_iso(), command_id))

