"""What the device health page reads from the store: sizes, outbox backlog, refused records.

Every query here avoids scanning the big tables (outbox, cases, events): the page is opened often.

Example::

    health = store_health(box.store)
    health.outbox_unacked, health.db_bytes
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class StoreHealth:
    db_bytes: int
    wal_bytes: int
    outbox_rows: int
    outbox_unacked: int  # not yet acknowledged by the hub
    oldest_unacked_at: str | None
    quarantine_rows: int
    last_event_at: str | None
    chain_seq: int
    cases: int = 0  # every case the box holds (the hall board keeps only the recent ones)
    hub_ahead: int | None = None  # the hub acked beyond this store: relaying held (序号异常)
    rebase_pending: bool = False  # re-initialised, waiting for the hub to say where to go on
    damage: str | None = None  # what PRAGMA quick_check found (standard/storecheck.py), or None
    checked_at: str | None = None  # when it last ran


def store_health(store, watch=None) -> StoreHealth:
    """Sizes on disk, the outbox backlog, the intake counters and the database's integrity
    (``watch``: the box's StoreWatch); cheap at any size.

    Outbox sequence numbers have no gaps (the relay prunes acknowledged rows from the front),
    so counts come from the first and last numbers instead of a scan.
    """
    def size(suffix: str) -> int:
        try:
            return store.path.with_name(store.path.name + suffix).stat().st_size
        except OSError:
            return 0

    one = store.query(
        "select (select min(seq) from outbox) as first, (select max(seq) from outbox) as last,"
        " coalesce((select cast(value as integer) from meta where key = 'relay_acked_seq'), 0)"
        "   as acked,"
        " (select count(*) from quarantine) as quarantine_rows,"
        " (select received_at from case_events order by rowid desc limit 1) as last_event_at,"
        " (select value from meta where key = 'chain_seq') as chain_seq,"
        " (select value from meta where key = 'relay_hub_ahead') as hub_ahead,"
        " (select value from meta where key = 'rebase') as rebase,"
        " (select coalesce(max(rowid), 0) from cases) as cases")[0]  # no deletes: a count
    first, last, acked = one["first"], one["last"], one["acked"]
    rows = 0 if last is None else last - first + 1
    unacked = 0 if last is None else max(last - max(acked, first - 1), 0)
    oldest = None
    if unacked:
        found = store.query("select created_at from outbox where seq = ?",
                            (max(acked + 1, first),))
        oldest = found[0]["created_at"] if found else None
    checked = watch.checked_at.isoformat(timespec="seconds") if watch and watch.checked_at \
        else None
    return StoreHealth(size(""), size("-wal"), rows, unacked, oldest, one["quarantine_rows"],
                       one["last_event_at"], int(one["chain_seq"] or 0), one["cases"],
                       int(one["hub_ahead"]) if one["hub_ahead"] else None,
                       one["rebase"] == "pending", watch.problem if watch else None, checked)


def quarantine_rows(store, limit: int = 100) -> list[dict[str, Any]]:
    """The newest records the intake refused, with the reason (for technicians)."""
    return store.query(
        "select id, received_at, source, position, reason, substr(raw, 1, 400) as raw, encoding"
        " from quarantine order by id desc limit ?", (limit,))
