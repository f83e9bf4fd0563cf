"""Projections applied a batch at a time, with the same rows as record by record.

On PostgreSQL each statement is a round trip (0.15–0.3 ms), and a per-record projection
issued about five per record: that, not the fold in Python, was the hub's cost
(bench/notes/apply-profile-before.txt). Here a batch's rows for one table go as one
``executemany`` (psycopg sends it as one pipeline; SQLite runs it without re-preparing).

- :func:`run` executes statements in their order, sending each run of consecutive statements
  with the same SQL as one ``executemany``: exactly what executing them one by one does.
- :func:`record_by_record` and :func:`batch_wise` make the two forms of an applier from one
  function that lists a record's statements.
- :class:`Deltas` adds up an aggregate table's changes per key, so a batch writes each key
  once; a key a record-by-record run would have touched is written even when its sum is zero
  (that run would have created the row).

Example::

    run(conn, [("insert into t (a) values (?)", (1,)), ("insert into t (a) values (?)", (2,))])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Statement = tuple[str, tuple]
Statements = Callable[[Any, Any, str, dict[str, Any]], Iterable[Statement]]
CHUNK = 500  # keys per ``in (...)`` list: well under either engine's parameter limit


def run(conn, statements: Iterable[Statement]) -> None:
    """Execute ``statements`` in order, consecutive ones with the same SQL as one executemany."""
    sql, rows = None, []
    for text, params in statements:
        if text != sql:
            _flush(conn, sql, rows)
            sql, rows = text, []
        rows.append(params)
    _flush(conn, sql, rows)


def _flush(conn, sql: str | None, rows: list[tuple]) -> None:
    if sql is None or not rows:
        return
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    else:
        conn.executemany(sql, rows)


def record_by_record(statements: Statements) -> Callable:
    """The applier ``(ctx, conn, box_id, record)`` that executes one record's statements."""

    def apply(ctx, conn, box_id: str, record: dict[str, Any]) -> None:
        run(conn, statements(ctx, conn, box_id, record))

    apply.__doc__ = statements.__doc__
    return apply


def batch_wise(statements: Statements) -> Callable:
    """The applier ``(ctx, conn, box_id, records)`` that executes a batch's statements."""

    def apply_many(ctx, conn, box_id: str, records: list[dict[str, Any]]) -> None:
        run(conn, (statement for record in records
                   for statement in statements(ctx, conn, box_id, record)))

    return apply_many


def chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def marks(values: list) -> str:
    """``?, ?, ?`` for an ``in (...)`` list of ``values``."""
    return ", ".join("?" * len(values))


class Deltas:
    """Changes to an aggregate table, summed per key in the order keys were first touched.

    ``add(key, extra, vector)`` adds ``vector``; ``extra`` is the row's non-key columns as
    the first change to touch the key gives them (an upsert inserts them, never updates them).
    """

    def __init__(self, width: int):
        self.width = width
        self._rows: dict[tuple, tuple[tuple, list[int]]] = {}

    def add(self, key: tuple, extra: tuple, vector: Iterable[int]) -> None:
        entry = self._rows.get(key)
        if entry is None:
            entry = self._rows[key] = (extra, [0] * self.width)
        sums = entry[1]
        for index, value in enumerate(vector):
            sums[index] += value

    def rows(self) -> list[tuple]:
        """(*key, *extra, *sums) per key, in the order the keys were first touched."""
        return [(*key, *extra, *sums) for key, (extra, sums) in self._rows.items()]
