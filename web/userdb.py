"""A users database in a SQLite file of its own: the two calls ``UserStore`` needs of a store.

The box keeps its users inside its own store (``edge/store.py`` has ``write`` and ``query``);
the hub's users (``hub/users.py``) live in a file of their own, through this. Writes take one
lock, so there is one writer at a time, each in one ``begin immediate`` transaction; the file
is 0600 in a 0700 folder whatever the umask.

Example::

    db = FileDatabase(Path("data/users.db"))
    db.write(lambda tx: tx.conn.execute("create table if not exists t (x)"))
    db.query("select count(*) as n from t")   # [{'n': 0}]
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from standard.files import private_sqlite


class _Tx:
    """What a write function receives from a path-backed UserStore: ``tx.conn``, like edge's Tx."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn


class FileDatabase:
    """A SQLite file with the two calls UserStore needs; one writer at a time."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._private = False

    def _connect(self) -> sqlite3.Connection:
        if not self._private:  # users.db: 0600 in a 0700 folder, whatever the umask
            private_sqlite(self.path)
            self._private = True
        conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        conn.execute("pragma journal_mode=wal")
        return conn

    def write(self, fn: Callable[[Any], Any]) -> Any:
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("begin immediate")
                result = fn(_Tx(conn))
                conn.execute("commit")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("rollback")
                raise
            finally:
                conn.close()

    def query(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        conn = self._connect()
        try:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            conn.close()
