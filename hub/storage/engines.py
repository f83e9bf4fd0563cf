"""The hub's two database engines behind one small interface.

- :class:`SqliteEngine`, the embedded default (one file, ``data/hub.db``): one writer
  connection under a lock (the Datasette model), per-thread read-only connections.
- :class:`PostgresEngine` (``[database] url = "postgresql://..."``): per-thread connections
  (psycopg 3), a writer and an autocommit reader each, so that several threads and several hub
  processes write at once; each box's batches are serialised by an advisory lock on the box.
  A connection the server dropped (a restart) is replaced on the next use.

Both hand out, inside :meth:`transaction`, a connection with ``execute(sql, params)`` and
``executemany(sql, rows)`` returning a cursor (``fetchone``, ``fetchall``, ``rowcount``), taking
SQL in the one spelling of hub/storage/dialect.py.

Example::

    engine = engine_for("postgresql://hub@db.example/hub")
    engine.open()
    with engine.transaction() as conn:
        conn.execute("insert into hub_meta (key, value) values (?, ?)", ("k", "v"))
    engine.query("select value from hub_meta where key = ?", ("k",))
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.storage.dialect import Dialect, PostgresDialect

log = logging.getLogger(__name__)
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SYNCHRONOUS = "full"  # the hub acks after commit; bench/bench_durable.py measures it


class StorageError(RuntimeError):
    """The hub's database cannot be opened or used (named, with what to do)."""


class DatabaseUnavailable(StorageError):
    """The database server cannot be reached (down, restarting, wrong address)."""


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "the database cannot serve now" (down, restarting, locked, full)."""
    errors: tuple[type[BaseException], ...] = (DatabaseUnavailable, sqlite3.OperationalError)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return errors
    return (*errors, psycopg.OperationalError)


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def engine_for(target: str | Path, *, read_only: bool = False,
               allowed: tuple[tuple[str, ...], tuple[str, ...]] | None = None) -> Engine:
    """A PostgreSQL engine for a ``postgresql://`` URL, else SQLite on the file ``target``.

    ``allowed`` (SQLite): (tables it may read, tables it may write); any other read or write
    is refused by SQLite itself. PostgreSQL restricts a process through its role instead.
    """
    if is_postgres_url(target):
        return PostgresEngine(str(target), read_only=read_only)
    return SqliteEngine(Path(target), read_only=read_only, allowed=allowed)


class Engine:
    """What the store needs from a database engine."""

    dialect: Dialect
    name: str
    read_only: bool = False

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def transaction(self):  # -> ContextManager[connection]
        raise NotImplementedError

    def query(self, sql: str, params: Sequence | dict = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def script(self, conn, ddl: str) -> None:
        """Run DDL statements (already in this engine's spelling) inside a transaction."""
        raise NotImplementedError

    def lock_box(self, conn, box_id: str) -> None:
        """Serialise writers of one box's batches until the transaction ends."""

    def columns(self, conn, table: str) -> set[str]:
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError


# -- SQLite -----------------------------------------------------------------------------
class SqliteEngine(Engine):
    name = "sqlite"

    def __init__(self, path: Path, *, read_only: bool = False,
                 allowed: tuple[tuple[str, ...], tuple[str, ...]] | None = None):
        self.path = Path(path)
        self.read_only = read_only
        self.allowed = allowed
        self.dialect = Dialect()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._local = threading.local()

    @property
    def description(self) -> str:
        return str(self.path)

    def open(self) -> None:
        if self.read_only:
            if not self.path.exists():
                raise StorageError(f"{self.path}: no hub database yet; run 'hallwatch hub serve'"
                                   " or 'hallwatch hub migrate' first")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.allowed is not None and not self.path.exists():
            raise StorageError(f"{self.path}: no hub database yet; run 'hallwatch hub serve'"
                               " or 'hallwatch hub migrate' first")
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._restrict(conn)
        conn.execute("pragma journal_mode=wal")
        # full: the WAL is fsynced at each commit, so the hub's ack to a box (sent after the
        # batch's commit) holds through a power cut; the box prunes what the hub acked.
        conn.execute(f"pragma synchronous={SQLITE_SYNCHRONOUS}")
        conn.execute("pragma busy_timeout=5000")
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The single writer: one transaction at a time, committed or rolled back whole."""
        if self.read_only:
            raise StorageError("this hub process opened the database read-only")
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StorageError("the hub store is not open (HubStore.open() first)")
            conn.execute("begin immediate")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    def query(self, sql: str, params: Sequence | dict = ()) -> list[dict[str, Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True,
                                   check_same_thread=False)
            conn.execute("pragma busy_timeout=5000")
            self._restrict(conn)
            self._local.conn = conn
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def _restrict(self, conn: sqlite3.Connection) -> None:
        if self.allowed is None:
            return
        reads, writes = set(self.allowed[0]), set(self.allowed[1])
        checks = {sqlite3.SQLITE_READ: reads, sqlite3.SQLITE_INSERT: writes,
                  sqlite3.SQLITE_UPDATE: writes, sqlite3.SQLITE_DELETE: writes}

        def authorize(action, table, _column, _db, _trigger) -> int:
            if action in checks:
                allowed = table in checks[action] or (table or "").startswith("sqlite_")
                return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
            if action in _SCHEMA_CHANGES:
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        conn.set_authorizer(authorize)

    def script(self, conn, ddl: str) -> None:
        # executescript() would commit the migration's transaction; run statement by statement.
        for statement in _statements(ddl):
            conn.execute(statement)

    def columns(self, conn, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"pragma table_info({table})")}


_SCHEMA_CHANGES = frozenset(getattr(sqlite3, name) for name in dir(sqlite3) if name.startswith(
    ("SQLITE_CREATE_", "SQLITE_DROP_", "SQLITE_ALTER_TABLE")))


def _statements(script: str) -> Iterator[str]:
    """Split a script on ``;`` at the end of complete statements (triggers stay whole)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip():
        yield pending


# -- PostgreSQL -------------------------------------------------------------------------
class _PgConnection:
    """A psycopg connection that takes the dialect's SQL (``?`` placeholders)."""

    __slots__ = ("raw",)

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, params: Sequence | dict = ()):
        cursor = self.raw.cursor()
        cursor.execute(PostgresDialect().prepare(sql), _params(params))
        return cursor

    def executemany(self, sql: str, rows):
        cursor = self.raw.cursor()
        cursor.executemany(PostgresDialect().prepare(sql), [_params(row) for row in rows])
        return cursor

    def copy_rows(self, table: str, columns: Sequence[str], rows) -> None:
        with self.raw.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as stream:
            for row in rows:
                stream.write_row(row)


def insert_new(conn, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows that cannot conflict (the caller holds the box's lock and skipped the
    rows held): ``COPY`` on PostgreSQL, several times faster than an insert per row;
    ``executemany`` of an ``insert ... on conflict do nothing`` on SQLite."""
    if not rows:
        return
    if isinstance(conn, _PgConnection):
        conn.copy_rows(table, columns, rows)
        return
    conn.executemany(f"insert into {table} ({', '.join(columns)})"
                     f" values ({', '.join('?' * len(columns))}) on conflict do nothing", rows)


def insert_or_skip(conn, table: str, columns: Sequence[str], pg_types: Sequence[str],
                   rows: list[tuple]) -> None:
    """Insert rows, skipping those whose key is held already (``on conflict do nothing``):
    on PostgreSQL one statement over arrays (``unnest``), not a statement per row (for the
    staff index, about a third of a PostgreSQL receiver's apply: bench_hub_province)."""
    if not rows:
        return
    if isinstance(conn, _PgConnection):
        arrays = ", ".join(f"?::{kind}[]" for kind in pg_types)
        conn.execute(f"insert into {table} ({', '.join(columns)}) select * from"
                     f" unnest({arrays}) on conflict do nothing",
                     [list(column) for column in zip(*rows)])
        return
    conn.executemany(f"insert into {table} ({', '.join(columns)})"
                     f" values ({', '.join('?' * len(columns))}) on conflict do nothing", rows)


def _params(params):
    return params if isinstance(params, dict) else tuple(params)


class PostgresEngine(Engine):
    name = "postgresql"
    CONNECT_TIMEOUT = 5

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        self.dialect = PostgresDialect()
        self._local = threading.local()
        self._all: weakref.WeakSet = weakref.WeakSet()
        self._all_lock = threading.Lock()
        self._closed = False

    @property
    def description(self) -> str:
        return _redacted(self.url)

    def _connect(self, autocommit: bool):
        import psycopg

        try:
            raw = psycopg.connect(self.url, autocommit=autocommit,
                                  connect_timeout=self.CONNECT_TIMEOUT,
                                  application_name="hallwatch-hub")
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {self.description}: "
                               f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"
                               ) from exc
        if self.read_only:
            raw.execute("set default_transaction_read_only = on")
        _no_jit(raw)
        with self._all_lock:
            self._all.add(raw)
        return raw

    def _conn(self, slot: str, autocommit: bool):
        raw = getattr(self._local, slot, None)
        if raw is None or raw.closed or raw.broken:
            if raw is not None:
                log.warning("PostgreSQL connection lost; reconnecting to %s", self.description)
                raw.close()
            raw = self._connect(autocommit)
            setattr(self._local, slot, raw)
        return raw

    def open(self) -> None:
        self._closed = False
        self._conn("reader", True)  # fail early, with the server's reason

    def close(self) -> None:
        self._closed = True
        with self._all_lock:
            connections = list(self._all)
            self._all = weakref.WeakSet()
        for raw in connections:
            try:
                raw.close()
            except Exception:  # noqa: BLE001 - closing what may already be gone
                pass
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[_PgConnection]:
        if self.read_only:
            raise StorageError("this hub process opened the database read-only")
        raw = self._conn("writer", True)
        with raw.transaction():
            yield _PgConnection(raw)

    def query(self, sql: str, params: Sequence | dict = ()) -> list[dict[str, Any]]:
        import psycopg

        for attempt in (1, 2):
            raw = self._conn("reader", True)
            try:
                cursor = raw.execute(self.dialect.prepare(sql), _params(params))
                if cursor.description is None:
                    return []
                names = [d.name for d in cursor.description]
                return [dict(zip(names, row)) for row in cursor.fetchall()]
            except psycopg.OperationalError:
                if attempt == 2 or not (raw.broken or raw.closed):
                    raise
                time.sleep(0.2)  # a restarting server: one more try on a new connection
        raise AssertionError("unreachable")

    def script(self, conn: _PgConnection, ddl: str) -> None:
        conn.raw.execute(ddl)

    def lock_box(self, conn: _PgConnection, box_id: str) -> None:
        conn.raw.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (box_id,))

    def columns(self, conn: _PgConnection, table: str) -> set[str]:
        return {row[0] for row in conn.raw.execute(
            "select column_name from information_schema.columns"
            " where table_schema = current_schema() and table_name = %s", (table,))}


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def _no_jit(raw) -> None:
    """JIT compiling off: the hub's queries are short, and compiling a big plan's expressions
    took longer than running it (0.8 s of a 2.3 s case count at 5 million records). A server
    without JIT (an older PostgreSQL, openGauss) keeps its default."""
    import psycopg

    try:
        raw.execute("set jit = off")
    except psycopg.errors.UndefinedObject:
        raw.rollback()
    else:
        if not raw.autocommit:
            raw.commit()  # a session setting; no transaction left open
