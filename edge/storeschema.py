"""The box database's tables, and bringing a file made by an older release up to date.

``prepare`` runs on the writer's connection when the store opens (edge/store.py).

The outbox by reference (issue 17, edge/outboxrefs.py): a platform event's or a notice's
outbox row refers to what the store keeps instead of copying it (``ref``); the view
``outbox_records`` gives every row's record text, exactly the bytes its hash covers and the
relay sends. ``size`` is the record's length in UTF-8 bytes (NULL on older rows: their body's
length). ``case_events`` rows never change nor go (triggers refuse; notices likewise).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable

from edge.outboxrefs import prepare_view

SCHEMA_VERSION = 1
OUTBOX_BYTES = "outbox_bytes"  # meta: UTF-8 bytes of the outbox rows the hub has not acked
SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists case_events (
    event_id text primary key, case_no text not null, event_type text not null,
    occurred_at text not null, received_at text not null, body text not null);
create index if not exists case_events_case on case_events(case_no);
create table if not exists cases (
    case_no text primary key, item_code text not null, dept_code text not null,
    district_code text not null, case_type text, stage text, is_open integer not null,
    facts text not null, updated_at text not null);
create index if not exists cases_open on cases(is_open);
create index if not exists cases_item on cases(item_code);
create table if not exists cases_to_judge (
    id integer primary key autoincrement, case_no text not null unique);
create table if not exists judged_items (
    item_code text primary key, digest text not null, joint text not null);
create table if not exists quarantine (
    id integer primary key, received_at text not null, source text not null,
    position integer, reason text not null, raw text not null,
    encoding text not null default 'utf-8');
create trigger if not exists case_events_no_update before update on case_events
    begin select raise(abort, 'case_events is append-only (the outbox refers to it)'); end;
create trigger if not exists case_events_no_delete before delete on case_events
    begin select raise(abort, 'case_events is append-only (the outbox refers to it)'); end;
create table if not exists outbox (
    seq integer primary key, kind text not null, body text not null, hash blob not null,
    created_at text not null, ref text, size integer);
create table if not exists alerts (
    id integer primary key, subject text not null, rule text not null, level text not null,
    state text not null, detail text not null, opened_at text not null, updated_at text not null,
    case_no text, dept_code text, card text, card_due text, cleared_at text, liability text);
-- One live alert per subject and rule; a withdrawn one (已撤销) leaves room for a new finding.
create unique index if not exists alerts_live on alerts(subject, rule) where state <> 'withdrawn';
create table if not exists alert_events (
    id integer primary key, alert_id integer not null, at text not null, actor text not null,
    action text not null, from_state text, to_state text, note text);
create index if not exists alert_events_alert on alert_events(alert_id);
create trigger if not exists alert_events_no_update before update on alert_events
    begin select raise(abort, 'alert_events is append-only'); end;
create trigger if not exists alert_events_no_delete before delete on alert_events
    begin select raise(abort, 'alert_events is append-only'); end;
"""
# Columns added since the first release: (table, column, definition), added to older files.
ADDED_COLUMNS = (("quarantine", "encoding", "text not null default 'utf-8'"),
                 ("alerts", "liability", "text"),  # 过错责任 outcome (issue 14)
                 ("outbox", "ref", "text"),  # the outbox by reference (issue 17)
                 ("outbox", "size", "integer"))
# Bytes of outbox rows: the record's size, kept on the row (an older row: its body's length).
ROW_BYTES = "coalesce(size, length(cast(body as blob)))"


def prepare(conn: sqlite3.Connection, box_id: str, extra_schema: Iterable[str] = ()) -> None:
    """Create or upgrade the tables; note the box id and the outbox's size the first time."""
    upgrading = conn.execute("select 1 from sqlite_master where name = 'cases'").fetchone() \
        and not conn.execute("select 1 from sqlite_master where name = 'cases_to_judge'"
                             ).fetchone()
    conn.executescript(SCHEMA)
    if upgrading:  # a store from before edge/backlog.py: judge every case once
        conn.execute("insert into cases_to_judge (case_no) select case_no from cases")
    _add_columns(conn)
    _unpin_alerts(conn)
    for script in extra_schema:
        conn.executescript(script)
    prepare_view(conn, get_meta, set_meta)
    if get_meta(conn, "box_id") is None:
        set_meta(conn, "box_id", box_id)
        set_meta(conn, "schema_version", str(SCHEMA_VERSION))
    if get_meta(conn, OUTBOX_BYTES) is None:  # a file from before the counter: count once
        acked = int(get_meta(conn, "relay_acked_seq", "0"))
        used = conn.execute(f"select coalesce(sum({ROW_BYTES}), 0) from outbox"
                            " where seq > ?", (acked,)).fetchone()[0]
        set_meta(conn, OUTBOX_BYTES, str(used))


def _add_columns(conn: sqlite3.Connection) -> None:
    """Bring a box database made by an older release up to the current columns."""
    for table, column, definition in ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"pragma table_info({table})")}
        if column not in present:
            conn.execute(f"alter table {table} add column {column} {definition}")


_PINNED = re.compile(r",\s*unique\s*\(\s*subject\s*,\s*rule\s*\)", re.IGNORECASE)


def _unpin_alerts(conn: sqlite3.Connection) -> None:
    """A file made before withdrawn verdicts could be followed by a new alert kept one alert per
    (subject, rule) in the table's own constraint: rebuild the table once without it (ids,
    rows and the partial index ``alerts_live`` kept), in one transaction."""
    (sql,) = conn.execute("select sql from sqlite_master where type = 'table' and name = 'alerts'"
                          ).fetchone()
    if not _PINNED.search(sql):
        return
    columns = ", ".join(row[1] for row in conn.execute("pragma table_info(alerts)"))
    indexes = [row[0] for row in conn.execute(
        "select sql from sqlite_master where type = 'index' and tbl_name = 'alerts'"
        " and sql is not null")]
    conn.execute("begin immediate")
    try:
        conn.execute(_PINNED.sub("", sql).replace("alerts", "alerts_unpinned", 1))
        conn.execute(f"insert into alerts_unpinned ({columns}) select {columns} from alerts")
        conn.execute("drop table alerts")
        conn.execute("alter table alerts_unpinned rename to alerts")
        for index in indexes:
            conn.execute(index)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("select value from meta where key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "insert into meta (key, value) values (?, ?) "
        "on conflict(key) do update set value = excluded.value",
        (key, value),
    )
