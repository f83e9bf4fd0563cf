"""Cases waiting to be judged: the rule pass's work list, kept on disk with the facts.

Whatever changes a case's facts (the platform's HTTP push, ``edge ingest`` from files, any other
feed that goes through ``edge/ingest.py``) marks the case in ``cases_to_judge`` in the same
transaction. So a crash, a restart or a load by the command line loses nothing: the next rule
pass (the running box's checker and schedule, or ``edge check``) takes the marked cases, judges
them whether they are open or finished, and removes the marks in the transaction that writes
their alerts. A case marked again meanwhile gets a new id, so its newer mark stays.

Example::

    store.write(lambda tx: mark(tx.conn, ["NH2026110001"]))
    with store.read() as db:
        rows = take(db.conn, limit=5000)          # [(id, case_no), ...]
    store.write(lambda tx: done(tx.conn, [mark_id for mark_id, _ in rows]))
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import orjson

# In edge/store.py's schema (ingest writes it on every box), repeated here for the reader:
#   cases_to_judge (id integer primary key autoincrement, case_no text not null unique)
#   judged_items (item_code text primary key, digest text not null, joint text not null)


def mark(conn: sqlite3.Connection, case_nos: Iterable[str]) -> None:
    """Mark cases to be judged again (call inside the transaction that changed them)."""
    conn.execute("insert or replace into cases_to_judge (case_no)"
                 " select value from json_each(?)", (_array(case_nos),))


def mark_where(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> int:
    """Mark the cases a query selects (one ``case_no`` column); returns how many."""
    return conn.execute(f"insert or replace into cases_to_judge (case_no) {sql}",
                        params).rowcount


def take(conn: sqlite3.Connection, limit: int, after: int = 0) -> list[tuple[int, str]]:
    """Up to ``limit`` marks with an id above ``after``, oldest first: ``[(id, case_no)]``."""
    return conn.execute("select id, case_no from cases_to_judge where id > ? order by id"
                        " limit ?", (after, limit)).fetchall()


def marks_for(conn: sqlite3.Connection, case_nos: Iterable[str]) -> list[int]:
    """The mark ids of these cases (those that are marked)."""
    return [row[0] for row in conn.execute(
        "select id from cases_to_judge where case_no in (select value from json_each(?))",
        (_array(case_nos),))]


def waiting(conn: sqlite3.Connection) -> int:
    """How many cases wait to be judged."""
    return conn.execute("select count(*) from cases_to_judge").fetchone()[0]


def done(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Remove the marks a pass has judged (a case marked again since has a new id and stays)."""
    if ids:
        conn.execute("delete from cases_to_judge where id in (select value from json_each(?))",
                     (_array(ids),))


def _array(values: Iterable) -> str:
    # orjson: ingest marks up to 20,000 cases a transaction on the writer thread, where
    # json.dumps cost ten times as much and held Python's lock from the validating thread.
    return orjson.dumps(list(values)).decode("utf-8")
