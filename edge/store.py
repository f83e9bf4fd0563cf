"""The box's SQLite store: one writer thread, read-only connections for everyone else.

Every write goes through :meth:`Store.write`, which runs a function inside one transaction on
the writer thread (the Datasette model). Anything the box makes that the hub must see is added
to the outbox *in that same transaction* with :meth:`Tx.emit`, which assigns the next sequence
number and extends the hash chain (``Tx``, the transaction and its outbox, is edge/storetx.py).
So a record is either committed with its outbox row, or neither exists. WAL checkpoints run on their own thread (edge/checkpointer.py), so a commit
never waits for one.

Durable answers: the store runs ``synchronous=full``, so a commit is on disk (the WAL fsynced)
before :meth:`Store.write` returns, and so before the platform, an evaluator key or the hub
is told anything was accepted. The fsync is paid once per *group*: the writer takes every job
waiting in its queue (up to ``GROUP_MAX``), runs each under its own savepoint in one
transaction and commits them together, so concurrent requests share one fsync. A job that
fails rolls back to its savepoint alone; a job's future is answered only after the commit.

People first: jobs run in the order they were submitted, except that a *bulk* job
(``bulk=True``: the platform's records, the rule passes' alerts) waits while any other job is
queued, and a group holds at most one bulk job. A key press, a sign-in or a click on an alert
then waits for at most one bulk job in progress, not for a platform's backlog (issue 22).

Example::

    store = Store(Path("data/box.db"), box_id="440605-01", marker=Path("box.store.json"))
    store.open()   # StoreLost if box.store.json says a database was made and it is gone
    store.write(lambda tx: tx.emit("note", {"text": "hello"}))
    with store.read() as db:
        print(db.execute("select count(*) from outbox").fetchone())
    store.close()
"""

from __future__ import annotations

import datetime as dt
import itertools
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from edge.checkpointer import Checkpointer
from edge.storeidentity import StoreLost, bind, check_file, remedy
from edge.storeschema import get_meta, prepare, set_meta
from edge.storetx import ChainHead, StoreError, StoreFull, Tx, iso, utc_now
from standard.envelope import GENESIS
from standard.files import private_dir, private_sqlite

T = TypeVar("T")

EARLIEST_YEAR = 2025  # no real record predates this build; an earlier clock is wrong
CLOCK_SLACK = dt.timedelta(minutes=5)  # NTP steps of a few seconds are not a problem
# The writer checkpoints by itself only when the WAL passes this many pages (64 MiB with 4 KiB
# pages): when the checkpointer cannot keep up with a bulk load.
WAL_BACKSTOP_PAGES = 16_384
GROUP_MAX = 64  # jobs committed together (one fsync); each under its own savepoint
BULK_GROUP_MAX = 1  # bulk jobs in one group: what a click may have to wait for (issue 22)
SYNCHRONOUS = "full"  # what answers promise; bench/bench_durable.py compares it with normal


_STOP = object()
_FIRST, _BULK = 0, 1  # job priorities: lower runs first, in submission order within one


class Store:
    """The box database. Call :meth:`open` before use and :meth:`close` at the end."""

    def __init__(
        self,
        path: Path,
        *,
        box_id: str,
        clock: Callable[[], dt.datetime] = utc_now,
        marker: Path | None = None,
    ):
        self.path = Path(path)
        self.box_id = box_id
        self.marker = marker  # box.store.json: the box has made its database (storeidentity)
        self.clock = clock
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()  # (priority, order, job)
        self._submitted = itertools.count()  # keeps submission order within a priority
        self._writer: threading.Thread | None = None
        self._checkpointer: Checkpointer | None = None
        self._local = threading.local()
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self.extra_schema: list[str] = []
        self.clock_problem: str | None = None
        self.outbox_quota: int | None = None  # bytes of unacked outbox rows (the relay's quota)
        self._memo: dict[str, Any] = {}  # Tx.memo, the writer thread's
        self._data_version: int | None = None

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> Store:
        """Start the writer (idempotent: a second call returns the open store)."""
        if self._writer is not None and self._writer.is_alive():
            return self
        check_file(self.path, self.marker)  # never start over by itself: StoreLost
        private_dir(self.path.parent, tighten=True)  # 0700: personal data
        self._checkpointer = Checkpointer(self.path)
        self._writer = threading.Thread(target=self._run, name=f"store-writer:{self.path.name}",
                                        daemon=True)
        self._writer.start()
        self._ready.wait(timeout=30)
        if isinstance(self._open_error, StoreLost):
            raise self._open_error
        if self._open_error:
            raise StoreError(f"cannot open {self.path}: {self._open_error}. "
                             f"{remedy(self.path, self.marker)}")
        self._checkpointer.start()
        return self

    def close(self) -> None:
        if self._writer and self._writer.is_alive():
            self._put(_BULK, next(self._submitted), _STOP)  # after every job queued
            self._writer.join(timeout=30)
        if self._checkpointer is not None:
            self._checkpointer.stop()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------
    def write(self, fn: Callable[[Tx], T], *, timeout: float | None = 60,
              bulk: bool = False) -> T:
        """Run ``fn(tx)`` in one transaction on the writer thread and return its result."""
        return self.submit(fn, bulk=bulk).result(timeout=timeout)

    def submit(self, fn: Callable[[Tx], T], *, bulk: bool = False) -> Future:
        """Queue ``fn(tx)`` for the writer; jobs run in the order they were submitted.

        A ``bulk`` job (a platform's records) runs only when no other job is queued: people's
        writes go first. Bulk jobs keep their order among themselves.
        """
        future: Future = Future()
        self._put(_BULK if bulk else _FIRST, next(self._submitted), (fn, future))
        return future

    def _put(self, priority: int, order: int, job: object) -> None:
        self._jobs.put((priority, order, job))

    def _connect_writer(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        private_sqlite(self.path)  # 0600 before the first write; -wal and -shm follow its mode
        db = sqlite_utils.Database(conn)
        conn.execute("pragma journal_mode=wal")
        # WAL + full: each commit fsyncs the WAL, so an answer given after it survives a power
        # cut (normal would survive only a crash of the program).
        conn.execute(f"pragma synchronous={SYNCHRONOUS}")
        conn.execute("pragma busy_timeout=5000")
        conn.execute(f"pragma wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
        prepare(conn, self.box_id, self.extra_schema)
        bind(conn, self.marker, self.box_id)
        return db

    def _load_head(self, conn: sqlite3.Connection) -> ChainHead:
        seq = int(get_meta(conn, "chain_seq", "0"))
        digest = get_meta(conn, "chain_hash")
        return ChainHead(seq, bytes.fromhex(digest) if digest else GENESIS)

    def _run(self) -> None:
        try:
            db = self._connect_writer()
        except BaseException as exc:  # reported by open()
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        stopping = False
        while not stopping:
            group, stopping = self._next_group()
            if group:
                self._commit_group(db, group)
        db.conn.close()

    def _next_group(self) -> tuple[list[tuple[Callable, Future]], bool]:
        """The jobs to commit together: the next one, and whatever else is already waiting.

        A group holds people's writes or one bulk job (and the people's writes that came
        while it was forming): a write waits for at most one platform request's records, or one
        rule pass's alerts, before its own group.
        """
        first, _, job = self._jobs.get()
        if job is _STOP:
            return [], True
        group = [job]
        bulk = 1 if first == _BULK else 0  # bulk jobs in the group so far
        while len(group) < GROUP_MAX:
            try:
                priority, order, job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is _STOP:  # queued after every bulk job: none is left behind
                return group, True
            if priority == _BULK:  # never joining people's writes, and few a group
                if not bulk or bulk >= BULK_GROUP_MAX:
                    self._put(priority, order, job)  # back in its place, for the next group
                    break
                bulk += 1
            group.append(job)
        return group, False

    def _commit_group(self, db: sqlite_utils.Database, group: list) -> None:
        """Run each job under its own savepoint in one transaction; answer after the commit."""
        conn = db.conn
        outcomes: list[tuple[Future, bool, Any]] = []
        started = 0
        try:
            conn.execute("begin immediate")
            self._check_memo(conn)
            for fn, future in group:
                started += 1
                if not future.set_running_or_notify_cancel():
                    continue
                conn.execute("savepoint job")
                try:
                    # The chain head and last stamp are read inside the transaction, under the
                    # write lock: a CLI command writing to a running box's file extends the
                    # same chain instead of forking it.
                    tx = Tx(db, self._load_head(conn), self._stamp(conn), self.outbox_quota,
                            self._memo)
                    result = fn(tx)
                    tx.flush()
                    conn.execute("release job")
                    outcomes.append((future, True, result))
                except Exception as exc:
                    if not conn.in_transaction:
                        raise  # SQLite rolled the whole transaction back (disk full, I/O)
                    conn.execute("rollback to job")
                    conn.execute("release job")
                    self._memo.clear()  # it may hold what was just rolled back
                    outcomes.append((future, False, _translate(exc)))
            conn.execute("commit")
        except BaseException as exc:
            self._memo.clear()
            if conn.in_transaction:
                conn.execute("rollback")
            failure = _translate(exc)
            if started == 0:  # the transaction never began (busy): none of them ran
                started = len(group)
            for _, future in group[:started]:  # nothing of this group was committed
                if not future.done():
                    future.set_exception(failure)
            if group[started:]:  # not run yet: not theirs to fail
                self._commit_group(db, group[started:])
            return
        self._checkpointer.wanted()
        for future, ok, value in outcomes:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _check_memo(self, conn: sqlite3.Connection) -> None:
        """Empty ``Tx.memo`` if another connection (a CLI command on this file) has committed
        since this writer's last transaction; called under the write lock."""
        version = conn.execute("pragma data_version").fetchone()[0]
        if version != self._data_version:
            self._memo.clear()
            self._data_version = version

    def _stamp(self, conn: sqlite3.Connection) -> dt.datetime:
        """The time for this transaction's records: never before the last one stamped.

        A clock that runs backwards or is years off (a Pi without its RTC battery) must not
        reorder the record; the last good time is used instead and ``clock_problem`` says why.
        """
        now = self.clock()
        stamped = get_meta(conn, "last_stamp")
        last = dt.datetime.fromisoformat(stamped) if stamped else None
        problem = None
        if now.year < EARLIEST_YEAR:
            problem = f"box clock reads {now:%Y-%m-%d}, before {EARLIEST_YEAR}"
        elif last is not None and now < last - CLOCK_SLACK:
            problem = f"box clock went back from {iso(last)} to {iso(now)}"
        if problem:
            self.clock_problem = problem
            return last or now
        self.clock_problem = None
        if last is None or now > last:
            set_meta(conn, "last_stamp", iso(now))
        return now

    # -- reading ----------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """A read-only connection for the calling thread (reused across calls)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path.resolve()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("pragma busy_timeout=5000")
            self._local.conn = conn
        yield sqlite_utils.Database(conn)

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        """Rows as dicts, on this thread's read connection."""
        with self.read() as db:
            cursor = db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]


def _translate(exc: BaseException) -> BaseException:
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
        return StoreFull("存储空间已满，暂不接收新记录，请稍后重试 (database or disk is full)")
    return exc


