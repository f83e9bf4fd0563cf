"""Monthly partitions of ``records`` on PostgreSQL, and the retention of old ones.

``records`` is partitioned by the month of each record's own time (``at``, an ISO UTC string):
``records_2026_11`` holds ``'2026-11' <= at < '2026-12'``; anything that is no such date lands
in ``records_default``. A batch's months are made before its rows are inserted
(:func:`ensure_months`, under an advisory lock, idempotent across receivers).

Retention (``[database] retention_months``) acts on whole partitions older than that many
months before the current one: ``drop`` removes them, ``archive`` detaches them and renames
them ``archived_records_2024_01``, a plain table that ``pg_dump -t`` can move to tape and
``DROP TABLE`` removes. The projections built from those records stay. SQLite keeps
everything (the embedded default holds a city's few years without trouble).

Example::

    ensure_months(engine, {"2026-11", "2026-12"})
    apply_retention(engine, keep_months=24, action="archive", today=dt.date(2026, 12, 1))
"""

from __future__ import annotations

import datetime as dt
import re
import threading

from hub.storage.engines import Engine

PARTITION_LOCK = 0x68777072  # "hwpr": held while partitions are made or dropped
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_NAME = re.compile(r"^records_(\d{4})_(\d{2})$")


def month_of(at: str) -> str | None:
    """``'2026-11'`` for ``'2026-11-26T08:00:00+00:00'``; None when ``at`` is no such date."""
    month = at[:7]
    return month if _MONTH.match(month) else None


def _next(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _table(month: str) -> str:
    return f"records_{month[:4]}_{month[5:]}"


class PartitionCache:
    """The months known to exist, so that a batch costs a set lookup, not a catalogue query."""

    def __init__(self):
        self.months: set[str] = set()
        self._lock = threading.Lock()

    def missing(self, months: set[str]) -> set[str]:
        with self._lock:
            return months - self.months

    def add(self, months: set[str]) -> None:
        with self._lock:
            self.months |= months


def ensure_months(engine: Engine, months: set[str]) -> None:
    """Create the monthly partitions of ``records`` that do not exist yet (PostgreSQL)."""
    if engine.name != "postgresql" or not months:
        return
    with engine.transaction() as conn:
        conn.execute("select pg_advisory_xact_lock(?)", (PARTITION_LOCK,))
        existing = set(partitions(engine, conn))
        for month in sorted(months - existing):
            conn.raw.execute(
                f"create table if not exists {_table(month)} partition of records"
                f" for values from ('{month}') to ('{_next(month)}')")


def partitions(engine: Engine, conn=None) -> list[str]:
    """The months that have a partition, oldest first."""
    sql = ("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
           " join pg_class p on p.oid = i.inhparent where p.relname = 'records'")
    names = ([row[0] for row in conn.execute(sql)] if conn is not None
             else [row["relname"] for row in engine.query(sql)])
    months = []
    for name in names:
        found = _NAME.match(name)
        if found:
            months.append(f"{found[1]}-{found[2]}")
    return sorted(months)


def cutoff_month(today: dt.date, keep_months: int) -> str:
    """The oldest month kept: ``keep_months`` months back from today's month, inclusive."""
    index = today.year * 12 + today.month - 1 - (keep_months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def apply_retention(engine: Engine, *, keep_months: int, action: str,
                    today: dt.date) -> list[str]:
    """Drop or archive the partitions older than the retention; returns the months done."""
    if engine.name != "postgresql" or keep_months <= 0:
        return []
    oldest_kept = cutoff_month(today, keep_months)
    done = []
    with engine.transaction() as conn:
        conn.execute("select pg_advisory_xact_lock(?)", (PARTITION_LOCK,))
        for month in partitions(engine, conn):
            if month >= oldest_kept:
                continue
            table = _table(month)
            if action == "drop":
                conn.raw.execute(f"drop table {table}")
            else:
                conn.raw.execute(f"alter table records detach partition {table}")
                conn.raw.execute(f"alter table {table} rename to archived_{table}")
            done.append(month)
    return done
