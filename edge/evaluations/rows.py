"""Small helpers shared by the evaluation modules: rows as dicts, the hub record, local dates.

Example::

    row = fetch_one(tx.conn, "select * from ratings where id = ?", (7,))
    emit_rating(tx, 7)   # queue the rating's current state for the hub
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from edge.storetx import Tx, iso
from standard.records import LOCAL_TZ

# Personal data stays on the box: the hub gets ratings for counting, never names or phones.
PERSONAL_COLUMNS = ("citizen_name", "citizen_phone")


def local_date(moment: dt.datetime) -> dt.date:
    """The hall's calendar day (+08:00) of an aware moment."""
    return moment.astimezone(LOCAL_TZ).date()


def day_start(day: dt.date) -> str:
    """The stored (UTC) timestamp at which the hall's local ``day`` begins, for ``rated_at``
    comparisons: ``day_start(dt.date(2026, 12, 1))`` is ``"2026-11-30T16:00:00.000+00:00"``."""
    return iso(dt.datetime.combine(day, dt.time(), LOCAL_TZ))


def rated_between(since: dt.date | None, until: dt.date | None) -> tuple[list[str], list[str]]:
    """SQL conditions on ``r.rated_at`` (ratings aliased ``r``) and their parameters: rated on
    local days from ``since`` up to, not including, ``until``; a None bound is left open."""
    clauses, params = [], []
    for bound, operator in ((since, ">="), (until, "<")):
        if bound:
            clauses.append(f"r.rated_at {operator} ?")
            params.append(day_start(bound))
    return clauses, params


def fetch_all(conn: sqlite3.Connection, sql: str,
              params: tuple | list = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def fetch_one(conn: sqlite3.Connection, sql: str,
              params: tuple | list = ()) -> dict[str, Any] | None:
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def rating_body(row: dict[str, Any]) -> dict[str, Any]:
    """The rating as the hub sees it: no personal data, tags as a list."""
    body = {k: v for k, v in row.items() if k not in PERSONAL_COLUMNS and v is not None}
    body["tags"] = json.loads(row.get("tags") or "[]")
    body["has_contact"] = any(row.get(name) for name in PERSONAL_COLUMNS)
    for flag in ("armed", "counted", "defaulted"):
        body[flag] = bool(row.get(flag))
    return body


def emit_rating(tx: Tx, rating_id: int) -> None:
    """Queue the rating's current state for the hub (on insert and on every change)."""
    row = fetch_one(tx.conn, "select * from ratings where id = ?", (rating_id,))
    if row is not None:
        tx.emit("rating", rating_body(row))


def mask_name(name: str | None) -> str | None:
    """张三丰 -> 张**: enough for staff to address a letter, not to identify anyone."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """13800138000 -> 138****8000."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def present_rating(row: dict[str, Any], reveal_personal: bool) -> dict[str, Any]:
    """A rating row for display: tags decoded, personal data masked unless revealed."""
    shown = dict(row)
    shown["tags"] = json.loads(row.get("tags") or "[]")
    if not reveal_personal:
        shown["citizen_name"] = mask_name(row.get("citizen_name"))
        shown["citizen_phone"] = mask_phone(row.get("citizen_phone"))
    return shown
