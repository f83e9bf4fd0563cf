"""Writing the outbox's rows: a record body's text, and many rows in one statement.

``Tx`` (edge/storetx.py) builds each record and its hash-chain link; this module only turns a
body into text and puts the rows in the table. A row is ``(seq, kind, body, hash, created_at,
ref, size)``: ``body`` the record text, or ``""`` when ``ref`` names the ``case_events`` row
whose body the record carries (edge/storeschema.py, ``outbox_records``); ``size`` the record's
UTF-8 bytes either way.

Example::

    record_json({"b": 1, "a": "南海"})        # '{"a":"南海","b":1}'
    insert_outbox(conn, [(7, "note", text, chain_hash_bytes, "2026-11-02T01:00:00Z", None, 60)])
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from standard.envelope import canonical_json

BULK_ROWS = 16  # rows from which a table is written by one statement over a JSON array


def record_json(body: dict[str, Any]) -> str:
    """A record body as compact JSON with sorted keys: ``canonical_json``'s text, by orjson.

    A rule pass emits thousands of alerts and notices in the writer's transaction, where json's
    encoder was a tenth of the writer's time (issue 17). The text is the same but for how a
    float's exponent is spelt (1.5e-7, not 1.5e-07): the hub hashes the bytes as sent and reads
    the values, so no second encoder has to agree. What orjson cannot write (an integer past
    64 bits) goes through ``canonical_json``.
    """
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return canonical_json(body).decode("utf-8")


OutboxRow = tuple[int, str, str, bytes, str, "str | None", int]


def insert_outbox(conn: sqlite3.Connection, rows: list[OutboxRow]) -> None:
    """Insert outbox rows ``(seq, kind, body, hash, created_at, ref, size)``.

    Many rows go in one statement over a JSON array (the hashes as one blob, 32 bytes each):
    ``executemany`` lets go of Python's lock for every row and waits to take it back, and under
    load (the rule pass in the same interpreter, a busy machine) those waits were most of a
    bulk write's time (issue 17).
    """
    if len(rows) < BULK_ROWS or rows[-1][0] - rows[0][0] != len(rows) - 1:
        conn.executemany("insert into outbox (seq, kind, body, hash, created_at, ref, size)"
                         " values (?, ?, ?, ?, ?, ?, ?)", rows)
        return
    conn.execute(
        "insert into outbox (seq, kind, body, hash, created_at, ref, size) select ? + key,"
        " value ->> 0, value ->> 1, substr(?, key * 32 + 1, 32), value ->> 2, value ->> 3,"
        " value ->> 4 from json_each(?)",
        (rows[0][0], b"".join(row[3] for row in rows),
         orjson.dumps([(kind, body, created, ref, size)
                       for _, kind, body, _, created, ref, size in rows]).decode("utf-8")))
