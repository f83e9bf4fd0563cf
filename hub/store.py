"""The hub's storage: every box's records, once each, and what the hub knows about each box.

All hub storage goes through this module, so that a PostgreSQL backend can replace SQLite
for a province without touching the receiver or the pages. Writes are serialised through one
connection under a lock (one writer); reads use per-thread read-only connections.

Example::

    store = HubStore(Path("data/hub.db")).open()
    applied = store.apply_batch("440605-01", "440605", parsed, from_seq=1, backlog=0)
    store.box_states()
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standard.envelope import GENESIS, chain_hash

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists records (
    box_id text not null, seq integer not null, kind text not null, at text not null,
    body text not null, hash blob not null, received_at text not null,
    primary key (box_id, seq)) without rowid;
create table if not exists boxes (
    box_id text primary key, district_code text not null, last_seen text,
    last_seq integer not null default 0, backlog integer not null default 0,
    contiguous_seq integer not null default 0, chain_seq integer not null default 0,
    chain_hash blob, chain_state text not null default 'ok',
    box_acked_seq integer not null default 0);
create table if not exists missing (
    box_id text not null, seq integer not null, reason text not null default 'gap',
    primary key (box_id, seq)) without rowid;
create table if not exists tamper_alerts (
    id integer primary key, box_id text not null, first_seq integer not null,
    last_seq integer not null, kind text not null, detail text not null, raised_at text not null);
create table if not exists refusals (
    id integer primary key, at text not null, box_id text, reason text not null,
    source text not null default '', count integer not null default 1, last_at text);
create table if not exists config_docs (
    kind text not null, doc_version integer not null, doc text not null, published_at text not null,
    primary key (kind, doc_version));
create table if not exists config_acks (
    box_id text not null, kind text not null, doc_version integer not null, ok integer not null,
    error text, at text not null, primary key (box_id, kind));
create table if not exists commands (
    id integer primary key, box_id text not null, kind text not null, body text not null,
    created_at text not null, done_at text);
"""

# Columns added since the first release: (table, column, definition), added to older files.
ADDED_COLUMNS = (
    ("boxes", "box_acked_seq", "integer not null default 0"),
    ("missing", "reason", "text not null default 'gap'"),
    ("refusals", "source", "text not null default ''"),
    ("refusals", "count", "integer not null default 1"),
    ("refusals", "last_at", "text"),
)
INDEXES = "create index if not exists refusals_episode on refusals(source, reason, id);"
REFUSAL_WINDOW_SECONDS = 60.0

# Projections: per record kind, functions that build the hub's views in the same transaction.
Applier = Callable[[sqlite3.Connection, str, dict[str, Any]], None]


def utc_iso(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Refusal:
    """The refusals row a refusal was counted in: its id, count so far and first time."""

    id: int
    count: int
    first_at: str


@dataclass
class Applied:
    new: int
    duplicates: int
    acked_seq: int
    tamper: list[str]


class HubStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self.appliers: dict[str, list[Applier]] = {}
        self.extra_schema: list[str] = []

    def open(self) -> HubStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("pragma journal_mode=wal")
        conn.execute("pragma synchronous=normal")
        conn.execute("pragma busy_timeout=5000")
        conn.executescript(SCHEMA)
        _add_columns(conn)
        conn.executescript(INDEXES)
        for script in self.extra_schema:
            conn.executescript(script)
        self._conn = conn
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The single writer: one transaction at a time, committed or rolled back whole."""
        with self._lock:
            conn = self._conn
            assert conn is not None, "HubStore.open() first"
            conn.execute("begin immediate")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True,
                                   check_same_thread=False)
            conn.execute("pragma busy_timeout=5000")
            self._local.conn = conn
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    # -- boxes --------------------------------------------------------------------------
    def touch_box(self, box_id: str, district_code: str, *, backlog: int | None = None,
                  box_acked: int | None = None) -> int:
        """Note that a box was heard from; returns its cumulative acked sequence.

        ``box_acked`` is what the box says this hub acknowledged (its hello): ahead of the
        hub's own mark only when the hub was restored from a backup (see ``_note_gaps``).
        """
        with self.transaction() as conn:
            self._ensure_box(conn, box_id, district_code)
            conn.execute("update boxes set last_seen = ?, backlog = coalesce(?, backlog),"
                         " box_acked_seq = coalesce(?, box_acked_seq) where box_id = ?",
                         (utc_iso(), backlog, box_acked, box_id))
            return conn.execute("select contiguous_seq from boxes where box_id = ?",
                                (box_id,)).fetchone()[0]

    @staticmethod
    def _ensure_box(conn: sqlite3.Connection, box_id: str, district_code: str) -> None:
        conn.execute("insert into boxes (box_id, district_code) values (?, ?)"
                     " on conflict(box_id) do nothing", (box_id, district_code))

    def box_states(self) -> list[dict[str, Any]]:
        return self.query(
            "select b.box_id, b.district_code as district, b.last_seen, b.last_seq,"
            " b.contiguous_seq as acked_seq, b.backlog, b.chain_state as chain,"
            " (select count(*) from records r where r.box_id = b.box_id) as records"
            " from boxes b order by b.box_id")

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
                cursor = conn.execute(
                    "insert into refusals (at, box_id, reason, source, count, last_at)"
                    " values (?, ?, ?, ?, 1, ?)", (at, box_id, reason, source, at))
                return Refusal(cursor.lastrowid, 1, at)
            conn.execute("update refusals set count = count + 1, last_at = ? where id = ?",
                         (at, row[0]))
            return Refusal(row[0], row[2] + 1, row[1])

    # -- batches ------------------------------------------------------------------------
    def apply_batch(self, box_id: str, district_code: str,
                    parsed: list[tuple[dict[str, Any], str, bytes]], *, from_seq: int,
                    backlog: int | None) -> Applied:
        """Apply a batch exactly once per (box, seq), check the chain, in one transaction.

        ``parsed`` holds (record, record_text, claimed_hash) in ascending seq order.
        """
        now = utc_iso()
        tamper: list[str] = []
        with self.transaction() as conn:
            self._ensure_box(conn, box_id, district_code)
            # One query for what is already held and one bulk insert: a row at a time was
            # the hub's bottleneck.
            held = {row[0] for row in conn.execute(
                "select seq from records where box_id = ? and seq between ? and ?",
                (box_id, parsed[0][0]["seq"], parsed[-1][0]["seq"]))} if parsed else set()
            fresh = []
            for row in parsed:
                if row[0]["seq"] not in held:
                    held.add(row[0]["seq"])
                    fresh.append(row)
            conn.executemany(
                "insert into records (box_id, seq, kind, at, body, hash, received_at)"
                " values (?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
                [(box_id, record["seq"], record["kind"], record["at"], text, digest, now)
                 for record, text, digest in fresh])
            for record, _, _ in fresh:
                for apply in self.appliers.get(record["kind"], ()):
                    apply(conn, box_id, record)
            new = len(fresh)
            if parsed:
                tamper += self._note_gaps(conn, box_id, from_seq,
                                          [r["seq"] for r, _, _ in parsed], now)
            acked = self._advance(conn, box_id, now, tamper)
            last = parsed[-1][0]["seq"] if parsed else 0
            conn.execute("update boxes set last_seen = ?, backlog = coalesce(?, backlog),"
                         " last_seq = max(last_seq, ?) where box_id = ?",
                         (now, backlog, last, box_id))
        return Applied(new, len(parsed) - new, acked, tamper)

    def _note_gaps(self, conn: sqlite3.Connection, box_id: str, from_seq: int,
                   seqs: list[int], now: str) -> list[str]:
        """Sequence numbers the box skipped inside [from_seq, last] are gone from the box.

        Only what lies beyond what this hub has acknowledged can be a gap: at or below its
        own mark every number was received (or reported missing) already, so a resend that
        starts below it is duplicates, however much the box has pruned since. Beyond it, a
        hole the box says was acknowledged before (its hello's ``acked_seq``; ahead of the
        hub's mark only after the hub was restored from a backup) was pruned on the box after
        its retention period: lost with the backup rather than deleted on the box, so it is
        noted as ``missing`` (reason ``pruned``) and shown to the supervisors as a ``pruned``
        integrity alert that says so, without marking the chain broken (the box's claim is
        what makes it so; a hub that was never restored should have it checked). Any other
        hole is a gap.
        """
        acked, box_acked = conn.execute(
            "select contiguous_seq, box_acked_seq from boxes where box_id = ?",
            (box_id,)).fetchone()
        first, last = max(from_seq, acked + 1), seqs[-1]
        if first > last:
            return []
        known = set(seqs)
        for table in ("records", "missing"):  # a hole reported once is not a new alert
            known.update(row[0] for row in conn.execute(
                f"select seq from {table} where box_id = ? and seq between ? and ?",
                (box_id, first, last)))
        holes = [s for s in range(first, last + 1) if s not in known]
        messages = []
        for start, end in _runs(holes):
            pruned_end = min(end, box_acked)
            if start <= pruned_end:
                self._missing(conn, box_id, start, pruned_end, "pruned")
                log.warning("box %s no longer holds records %d-%d: acknowledged before this"
                            " hub's database was restored, then pruned on the box; they are"
                            " lost with the backup", box_id, start, pruned_end)
                self._tamper(conn, box_id, start, pruned_end, "pruned",
                             f"箱体 {box_id} 的记录 {start}–{pruned_end} 此前已被中心确认，箱体已按"
                             "保留期清理，无法补发（中心数据库从备份恢复后随备份丢失）；"
                             "如中心未做过恢复，请核查该箱体", now, chain=False)
            if end > box_acked:
                start = max(start, box_acked + 1)
                self._missing(conn, box_id, start, end, "gap")
                detail = f"箱体 {box_id} 的记录 {start}–{end} 缺失（链断裂），疑似被删除"
                self._tamper(conn, box_id, start, end, "gap", detail, now)
                messages.append(detail)
        return messages

    @staticmethod
    def _missing(conn: sqlite3.Connection, box_id: str, first: int, last: int,
                 reason: str) -> None:
        conn.executemany("insert or ignore into missing (box_id, seq, reason) values (?, ?, ?)",
                         [(box_id, s, reason) for s in range(first, last + 1)])

    def _tamper(self, conn, box_id, first, last, kind, detail, now, chain: bool = True) -> None:
        """An integrity alert for the supervisors; ``chain``: the box's chain is marked broken."""
        conn.execute("insert into tamper_alerts (box_id, first_seq, last_seq, kind, detail,"
                     " raised_at) values (?, ?, ?, ?, ?, ?)",
                     (box_id, first, last, kind, detail, now))
        if chain:
            conn.execute("update boxes set chain_state = ? where box_id = ?",
                         (f"{kind} {first}-{last}", box_id))

    def _advance(self, conn: sqlite3.Connection, box_id: str, now: str,
                 tamper: list[str]) -> int:
        """Move the contiguous mark and verify the hash chain as far as records allow."""
        contiguous, chain_seq, chain_hash_value = conn.execute(
            "select contiguous_seq, chain_seq, chain_hash from boxes where box_id = ?",
            (box_id,)).fetchone()
        prev = chain_hash_value or GENESIS
        rows = conn.execute(
            "select seq, body, hash from records where box_id = ? and seq > ? order by seq",
            (box_id, chain_seq))
        expected = chain_seq + 1
        for seq, body, digest in rows:
            if seq != expected:
                reported = conn.execute(
                    "select count(*) from missing where box_id = ? and seq between ? and ?",
                    (box_id, expected, seq - 1)).fetchone()[0]
                if reported < seq - expected:
                    break  # not all reported missing: the rest has not arrived yet
                prev = digest  # after a reported gap, resume from the box's own hash
            elif chain_hash(prev, body.encode()) != digest:
                detail = f"箱体 {box_id} 的记录 {seq} 内容与哈希链不符，疑似被篡改"
                self._tamper(conn, box_id, seq, seq, "changed", detail, now)
                tamper.append(detail)
                prev = digest
            else:
                prev = digest
            expected = seq + 1
        chain_seq = expected - 1
        contiguous = max(contiguous, chain_seq)
        conn.execute("update boxes set contiguous_seq = ?, chain_seq = ?, chain_hash = ?"
                     " where box_id = ?", (contiguous, chain_seq, prev, box_id))
        return contiguous

    # -- config pushed to boxes ---------------------------------------------------------
    def publish_config(self, doc: dict) -> None:
        with self.transaction() as conn:
            conn.execute("insert into config_docs (kind, doc_version, doc, published_at)"
                         " values (?, ?, ?, ?)",
                         (doc["kind"], doc["doc_version"], json.dumps(doc, ensure_ascii=False),
                          utc_iso()))

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
            cursor = conn.execute("insert into commands (box_id, kind, body, created_at)"
                                  " values (?, ?, ?, ?)",
                                  (box_id, kind, json.dumps(body, ensure_ascii=False), utc_iso()))
            return cursor.lastrowid

    def pending_commands(self) -> list[dict[str, Any]]:
        return self.query("select id, box_id, kind, body, created_at from commands"
                          " where done_at is null order by id")

    def command_done(self, command_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("update commands set done_at = ? where id = ?", (utc_iso(), command_id))


def _add_columns(conn: sqlite3.Connection) -> None:
    """Bring a hub database made by an older release up to the current columns."""
    for table, column, definition in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"pragma table_info({table})")}
        if column not in present:
            conn.execute(f"alter table {table} add column {column} {definition}")


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs
