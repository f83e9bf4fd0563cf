"""Each source's state in the box's store: its watermark, counts, errors, and the files loaded.

The watermark is written by :func:`advance` *inside the transaction that stores the rows*, so
the two are committed together or not at all: after a crash the pull starts again from the
last committed row, never skipping one and never reading a committed one twice. Everything
else here (errors, the last poll) is for the health page and ``hallwatch edge status``.

Example::

    store.write(lambda tx: advance(tx, "nh-zjk", "database", 1042, rows=500, accepted=498,
                                   newest_at="2026-11-02T09:15:00+08:00"))
    load_watermark(store, "nh-zjk")  # 1042
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from edge.store import Store
from edge.storetx import Tx, iso

INTEGRATION_SCHEMA = """
create table if not exists integration_sources (
    name text primary key, kind text not null, watermark text, watermark_shown text,
    rows_read integer not null default 0, accepted integer not null default 0,
    duplicates integer not null default 0, rejected integer not null default 0,
    files_done integer not null default 0, files_failed integer not null default 0,
    newest_at text, last_poll_at text, caught_up_at text, behind integer not null default 0,
    failures integer not null default 0, last_error text, last_error_at text, updated_at text);
create table if not exists integration_files (
    id integer primary key, source text not null, name text not null, status text not null,
    loaded_at text not null, accepted integer not null, duplicates integer not null,
    rejected integer not null, report text not null);
create table if not exists platform_counts (
    day text not null, origin text not null, item_code text not null, count integer not null,
    received_at text not null, primary key (day, origin, item_code));
create table if not exists reconciliations (
    id integer primary key, day text not null, origin text not null, at text not null,
    matched integer not null, items text not null);
create index if not exists reconciliations_day on reconciliations(day);
create index if not exists case_events_occurred on case_events(occurred_at);
"""


# -- the watermark ----------------------------------------------------------------------------
def encode_watermark(value: Any) -> str:
    """A column value as JSON that keeps its type (an int stays an int, a time a time)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"a watermark cannot be {value!r}")
    if isinstance(value, int):
        return json.dumps({"type": "int", "value": value})
    if isinstance(value, Decimal):
        return json.dumps({"type": "decimal", "value": str(value)})
    if isinstance(value, float):
        return json.dumps({"type": "float", "value": repr(value)})
    if isinstance(value, dt.datetime):
        return json.dumps({"type": "datetime", "value": value.isoformat()})
    if isinstance(value, dt.date):
        return json.dumps({"type": "date", "value": value.isoformat()})
    return json.dumps({"type": "str", "value": str(value)}, ensure_ascii=False)


def decode_watermark(text: str | None) -> Any:
    if text is None:
        return None
    data = json.loads(text)
    kind, value = data["type"], data["value"]
    readers = {"int": int, "decimal": Decimal, "float": float, "str": str,
               "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat}
    return readers[kind](value)


def _source_row(tx: Tx, name: str, kind: str) -> None:
    tx.conn.execute("insert into integration_sources (name, kind, updated_at) values (?, ?, ?)"
                    " on conflict(name) do nothing", (name, kind, iso(tx.now)))


def advance(tx: Tx, name: str, kind: str, watermark: Any, *, rows: int, accepted: int,
            newest_at: str | None) -> None:
    """Move the watermark past ``rows`` rows, in the transaction that stores them."""
    _source_row(tx, name, kind)
    tx.conn.execute(
        "update integration_sources set watermark = ?, watermark_shown = ?,"
        " rows_read = rows_read + ?, accepted = accepted + ?,"
        " newest_at = coalesce(max(newest_at, ?), newest_at, ?), updated_at = ? where name = ?",
        (encode_watermark(watermark), str(watermark)[:60], rows, accepted, newest_at, newest_at,
         iso(tx.now), name))


def load_watermark(store: Store, name: str) -> Any:
    """The committed watermark of a source; None before its first batch."""
    rows = store.query("select watermark from integration_sources where name = ?", (name,))
    return decode_watermark(rows[0]["watermark"]) if rows else None


def note_poll(tx: Tx, name: str, kind: str, *, duplicates: int = 0, rejected: int = 0,
              behind: bool = False, accepted: int = 0, read: int = 0) -> None:
    """A poll went through: clear the error, count what was refused, say if rows still wait.

    ``accepted`` and ``read`` are for sources whose rows are not committed with a watermark
    (files); a 中间库 batch counts them in :func:`advance`.
    """
    _source_row(tx, name, kind)
    now = iso(tx.now)
    tx.conn.execute(
        "update integration_sources set duplicates = duplicates + ?, rejected = rejected + ?,"
        " accepted = accepted + ?, rows_read = rows_read + ?, behind = ?, failures = 0,"
        " last_poll_at = ?, caught_up_at = case when ? then caught_up_at else ? end,"
        " updated_at = ? where name = ?",
        (duplicates, rejected, accepted, read, int(behind), now, int(behind), now, now, name))


def note_failure(tx: Tx, name: str, kind: str, error: str) -> int:
    """A poll failed (the database unreachable, say); returns the failures in a row."""
    _source_row(tx, name, kind)
    now = iso(tx.now)
    tx.conn.execute(
        "update integration_sources set failures = failures + 1, last_error = ?,"
        " last_error_at = ?, last_poll_at = ?, updated_at = ? where name = ?",
        (error[:500], now, now, now, name))
    return tx.conn.execute("select failures from integration_sources where name = ?",
                           (name,)).fetchone()[0]


def note_file(tx: Tx, name: str, file_name: str, status: str, *, accepted: int,
              duplicates: int, rejected: int, report: str) -> None:
    _source_row(tx, name, "folder")
    column = "files_done" if status == "done" else "files_failed"
    tx.conn.execute(f"update integration_sources set {column} = {column} + 1 where name = ?",
                    (name,))
    tx.conn.execute(
        "insert into integration_files (source, name, status, loaded_at, accepted, duplicates,"
        " rejected, report) values (?, ?, ?, ?, ?, ?, ?, ?)",
        (name, file_name, status, iso(tx.now), accepted, duplicates, rejected, report))


# -- what the health page and `edge status` show ----------------------------------------------
@dataclass
class SourceState:
    name: str
    kind: str
    watermark: str | None
    rows_read: int
    accepted: int
    duplicates: int
    rejected: int
    files_done: int
    files_failed: int
    newest_at: str | None
    last_poll_at: str | None
    caught_up_at: str | None
    behind: bool
    failures: int
    last_error: str | None
    last_error_at: str | None

    def lag_seconds(self, now: dt.datetime) -> float | None:
        """How far behind the platform the box may be: since the last poll that caught up."""
        if self.caught_up_at is None:
            return None
        return max(0.0, (now - dt.datetime.fromisoformat(self.caught_up_at)).total_seconds())

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        data = dict(vars(self))
        lag = self.lag_seconds(now)
        data["lag_seconds"] = None if lag is None else round(lag, 1)
        return data


def source_states(store: Store) -> list[SourceState]:
    """Every source the box has polled, by name."""
    rows = store.query(
        "select name, kind, watermark_shown as watermark, rows_read, accepted, duplicates,"
        " rejected, files_done, files_failed, newest_at, last_poll_at, caught_up_at, behind,"
        " failures, last_error, last_error_at from integration_sources order by name")
    return [SourceState(**{**row, "behind": bool(row["behind"])}) for row in rows]


def recent_files(store: Store, name: str, limit: int = 5) -> list[dict[str, Any]]:
    return store.query("select name, status, loaded_at, accepted, duplicates, rejected"
                       " from integration_files where source = ? order by id desc limit ?",
                       (name, limit))
