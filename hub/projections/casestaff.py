"""Which staff handled a case: one row per case and staff id or name on any of its events.

办件监察's search finds a district's cases by the staff member who handled them (the
standard's ``actor``: ``{"id": "S017", "name": "李敏"}`` on every event, docs/standard/). The
hub's cases keep no staff; their events do, in the raw records. Searching those at 50 million
records would read every event, so the answer is kept on the write path: a row per case and
``who``, keyed ``(who, district_code, case_id)``, so that a staff search is one walk down the
key (a district's cases by one staff member, newest first).

``who`` is the staff id in lower case (ids are ASCII letters, digits, ``.``, ``_``, ``-``:
``S017`` is found as ``s017`` too) and the name as the platform wrote it (found exactly).
Rows are added, never removed: a case's staff are those of all its events so far. The record
by record applier (hub/projections/cases.py) and the batch-wise one (casebatch.py) write the
same rows; the cases stored before migration 15 are filled from their events and records
by a background job, in batches (hub/projections/staffbackfill.py).

These rows are for the supervisors' pages only: the portal reads no staff (hub/portal.py
grants it no read of this table).

Example::

    staff_rows("440605", "NH2026110005", {"id": "S017", "name": "李敏"})
    # [("s017", "440605", "NH2026110005"), ("李敏", "440605", "NH2026110005")]
    write_staff(conn, rows)   # after the cases' upsert
"""

from __future__ import annotations

from typing import Any

from hub.projections.batchwise import chunks, marks
from hub.storage.engines import insert_or_skip

TABLE = """
create table if not exists hub_case_staff (
    who text not null, district_code text not null, case_id bigint not null,
    primary key (who, district_code, case_id)){without_rowid};
"""
# Every stored event's actor id (lower case) and name, once per case, for the cases whose
# ids are in (?, ?] (hub/projections/staffbackfill.py walks the older cases in such ranges).
_BACKFILL = """
insert into hub_case_staff (who, district_code, case_id)
select who, district_code, case_id from (
    select lower({actor_id}) as who, c.district_code as district_code, c.id as case_id
        from hub_cases c join hub_case_events e
            on e.district_code = c.district_code and e.case_no = c.case_no
        join records r on r.box_id = e.box_id and r.seq = e.seq
        where c.id > ? and c.id <= ?
    union
    select {actor_name}, c.district_code, c.id
        from hub_cases c join hub_case_events e
            on e.district_code = c.district_code and e.case_no = c.case_no
        join records r on r.box_id = e.box_id and r.seq = e.seq
        where c.id > ? and c.id <= ?
) staff where who is not null and who != ''
on conflict do nothing
"""
_SQLITE_ACTOR = "json_extract(r.body, '$.body.actor.{}')"
_POSTGRES_ACTOR = "((r.body::jsonb) -> 'body' -> 'actor' ->> '{}')"


def table_ddl(postgres: bool) -> str:
    return TABLE.format(without_rowid="" if postgres else " without rowid")


def backfill_sql(postgres: bool) -> str:
    """The rows of the cases with ids in ``(?, ?]`` (given twice: ``(lo, hi, lo, hi)``)."""
    actor = _POSTGRES_ACTOR if postgres else _SQLITE_ACTOR
    return _BACKFILL.format(actor_id=actor.format("id"), actor_name=actor.format("name"))


def staff_keys(actor: Any) -> list[str]:
    """The ``who`` values an event's actor is found by: its id in lower case, its name."""
    if not isinstance(actor, dict):
        return []
    keys = [str(actor.get("id") or "").lower(), str(actor.get("name") or "")]
    return [key for key in dict.fromkeys(keys) if key]


def search_keys(text: str) -> tuple[str, ...]:
    """The ``who`` values a search looks up: the text as a name and as an id."""
    words = text.strip()
    return tuple(dict.fromkeys(key for key in (words.lower(), words) if key))


def staff_rows(district: str, case_no: str, actor: Any) -> list[tuple[str, str, str]]:
    """``write_staff``'s rows for one event's actor (a staff member seen before is kept)."""
    return [(who, district, case_no) for who in staff_keys(actor)]


def write_staff(conn, rows: list[tuple[str, str, str]]) -> None:
    """Add ``rows`` (``staff_rows``; their cases upserted already), once each.

    The cases' ids are read in one query per chunk of cases, and the rows inserted with plain
    values: an ``insert ... select`` per row looked its case up once per staff key and made a
    batch's apply on PostgreSQL several times slower (bench_hub_province); on PostgreSQL in
    one statement over arrays (hub/storage/engines.insert_or_skip).
    """
    rows = list(dict.fromkeys(rows))
    ids: dict[tuple[str, str], int] = {}
    for district in dict.fromkeys(district for _, district, _ in rows):
        case_nos = list(dict.fromkeys(case_no for _, d, case_no in rows if d == district))
        for chunk in chunks(case_nos):
            ids.update(((district, case_no), case_id) for case_no, case_id in conn.execute(
                f"select case_no, id from hub_cases where district_code = ?"
                f" and case_no in ({marks(chunk)})", (district, *chunk)))
    insert_or_skip(conn, "hub_case_staff", ("who", "district_code", "case_id"),
                   ("text", "text", "bigint"),
                   [(who, district, ids[district, case_no])
                    for who, district, case_no in rows if (district, case_no) in ids])
