"""Upserts of rows that every receiver shares, made last in a transaction and in one order.

The per-day aggregates (``hub_case_daily`` by day, district, department and item;
``hub_rating_daily`` by day, district and department) are added to by every box of a
district. Two receivers (or two apply workers of one receiver, on PostgreSQL) applying batches
of different boxes of the same district took those rows' locks in the order each batch first
touched them, table after table and batch after batch of a group commit, and so deadlocked:
bench_hub_province at 40 boxes logged 15 deadlocks in 45 s, every one between two or three
``insert into hub_case_daily ... on conflict ... do update`` (one with ``hub_rating_daily``),
and the full run's receivers gave up after eight retries ("the hub database is unavailable:
deadlock detected"), leaving batches unacknowledged until the box sent them again.

Inside :func:`deferred` (``HubStore.apply_batches`` opens it around a group's batches) a
batch-wise projection hands such rows to :func:`write_last` instead of writing them; at the
end of the group they are summed per key and written table by table, in the order of their
statements' text, each table's rows sorted by key. Every transaction then takes these row
locks in one global order after everything else it writes (its boxes' own rows, which no other
receiver touches), so two of them can wait for each other but never in a circle. Outside
:func:`deferred` the rows are written at once, still sorted.

Example::

    with deferred(conn):
        write_last(conn, BUMP_DAILY, rows, key_width=4, extra_width=1)  # held
    # written here, sorted, summed per key
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# statement -> (key width, extra width, rows): the rows of the transaction being applied
_held: ContextVar[dict[str, tuple[int, int, list[tuple]]] | None] = ContextVar(
    "hub_last_writes", default=None)


@contextmanager
def deferred(conn) -> Iterator[None]:
    """Hold :func:`write_last`'s rows until the block ends without an error, then write them."""
    held: dict[str, tuple[int, int, list[tuple]]] = {}
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    for sql in sorted(held):
        key_width, extra_width, rows = held[sql]
        _write(conn, sql, _summed(rows, key_width, extra_width), key_width)


def write_last(conn, sql: str, rows: list[tuple], *, key_width: int, extra_width: int) -> None:
    """Add to shared aggregate rows: ``sql`` an additive upsert of ``(*key, *extra, *sums)``
    (``extra`` inserted with a new row, never updated). Held until :func:`deferred` ends,
    or written now, sorted by key, outside it."""
    if not rows:
        return
    held = _held.get()
    if held is None:
        _write(conn, sql, rows, key_width)
        return
    entry = held.setdefault(sql, (key_width, extra_width, []))
    if entry[:2] != (key_width, extra_width):
        raise ValueError(f"write_last: {sql[:60]!r} given with two different widths")
    entry[2].extend(rows)


def _summed(rows: list[tuple], key_width: int, extra_width: int) -> list[tuple]:
    """One row per key: the first row's key and extra columns, the sums added up."""
    fixed = key_width + extra_width
    by_key: dict[tuple, list] = {}
    for row in rows:
        found = by_key.get(row[:key_width])
        if found is None:
            by_key[row[:key_width]] = list(row)
        else:
            for index in range(fixed, len(row)):
                found[index] += row[index]
    return [tuple(row) for row in by_key.values()]


def _order(key: tuple) -> tuple:
    # A total order whatever the key columns hold (None sorts after every value).
    return tuple((value is None, str(value) if value is not None else "") for value in key)


def _write(conn, sql: str, rows: list[tuple], key_width: int) -> None:
    rows = sorted(rows, key=lambda row: _order(row[:key_width]))
    if len(rows) == 1:
        conn.execute(sql, rows[0])
    else:
        conn.executemany(sql, rows)
