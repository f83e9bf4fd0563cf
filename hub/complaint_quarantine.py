"""The 12345 intake's quarantine: every ticket record the hub refused, with why and its raw form.

A record of ``POST /api/v1/complaints`` that cannot be decoded, validated or stored, a ticket
re-posted with different content, and a body that cannot be cut into records at all (kept
whole, ``position`` -1) are kept here, in the transaction that answers the request. The raw
form is the text as sent, or base64 when it is not valid UTF-8 or holds a NUL, which
PostgreSQL's text cannot (``encoding``), so nothing the 12345 system sends can fail the write
that keeps it (standard/bodies.py). ``district_code`` is
the record's own district when it names a known one, so a district sees its own refusals;
refusals with no district are the city's (departments see none).

Example::

    with store.transaction() as conn:
        keep(conn, "2026-11-20T01:12:00+00:00", [Rejection(3, [{"field": "kind", ...}], raw)])
    recent(store, Scope.city())    # [{"position": 3, "reason": "kind: ...", ...}]
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hub.services import Scope
from standard.bodies import Rejection, kept_form, safe_text
from standard.districts import DISTRICTS

# Created by migration 16 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = """
create table if not exists complaint_quarantine (
    id integer primary key, received_at text not null, position integer not null,
    ticket_no text, district_code text, reason text not null, raw text not null,
    encoding text not null);
create index if not exists complaint_quarantine_district
    on complaint_quarantine(district_code, id);
"""
MAX_BODY_KEPT = 1_000_000  # bytes of a body that could not be cut into records
_NAMES = 64  # characters of a ticket number kept from a refused record


def keep(conn, at: str, rejected: list[Rejection]) -> None:
    """Keep the refused records in ``conn``'s transaction."""
    rows = []
    for rejection in rejected:
        text, encoding = kept_form(rejection.raw)
        if "\x00" in text:  # PostgreSQL's text cannot hold NUL: kept as base64 on both engines
            text = base64.b64encode(text.encode("utf-8")).decode("ascii")
            encoding = "base64"
        ticket, district = _names(rejection.raw)
        rows.append((at, rejection.index, ticket and _printable(ticket), district,
                     _printable(rejection.reason), text, encoding))
    if rows:
        conn.executemany(
            "insert into complaint_quarantine (received_at, position, ticket_no, district_code,"
            " reason, raw, encoding) values (?, ?, ?, ?, ?, ?, ?)", rows)


def _printable(text: str) -> str:
    """A reason or ticket number as both engines store it (no lone surrogate, no NUL)."""
    return safe_text(text).replace("\x00", "\\x00")


def keep_body(store, at: str, body: bytes, reason: str) -> None:
    """Keep a body that could not be cut into records at all, in its own transaction."""
    rejection = Rejection(-1, [{"field": "(body)", "message": reason}], body[:MAX_BODY_KEPT])
    with store.transaction() as conn:
        keep(conn, at, [rejection])


def _names(raw: str | bytes) -> tuple[str | None, str | None]:
    """(ticket_no, district_code) read from a refused record when it has them, for the lists."""
    if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
        return None, None
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(record, dict):
        return None, None
    ticket, district = record.get("ticket_no"), record.get("district_code")
    ticket = ticket[:_NAMES] if isinstance(ticket, str) else None
    return ticket, district if isinstance(district, str) and district in DISTRICTS else None


def scope_condition(scope: Scope) -> tuple[str, list[Any]]:
    """The rows of the 12345 intake a scope sees, by ``district_code``: the city every one, a
    district its own, a department none (it has no 12345 intake); (SQL condition, params)."""
    if scope.role == "city":
        return "1 = 1", []
    if scope.role == "district" and scope.districts:
        return f"district_code in ({', '.join('?' * len(scope.districts))})", \
            list(scope.districts)
    return "1 = 0", []


def count(store, scope: Scope) -> int:
    where, params = scope_condition(scope)
    return store.query(f"select count(*) as n from complaint_quarantine where {where}",
                       params)[0]["n"]


def recent(store, scope: Scope, limit: int = 20) -> list[dict[str, Any]]:
    """The latest refusals the scope may see, newest first (raw form cut to 200 characters)."""
    where, params = scope_condition(scope)
    rows = store.query(
        "select id, received_at, position, ticket_no, district_code, reason, raw, encoding"
        f" from complaint_quarantine where {where} order by id desc limit ?", [*params, limit])
    for row in rows:
        row["raw"] = row["raw"][:200]
    return rows
