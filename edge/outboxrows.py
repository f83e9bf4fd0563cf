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
from itertools import groupby
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
    bulk write's time (issue 17). A run of rows without ``ref`` (an alert's, a notification's)
    goes in as a JSON array of the record texts alone, which SQLite parses once: the kinds
    are one byte a row of a blob (an index into a short list; a blob, since a text's
    ``substr`` walks from its start) and the size is the record's length,
    since such a row carries its whole record. Parsing each row's array again for every
    column took most of the insert's time (bench/notes/rules-writer-before.txt).
    """
    if len(rows) < BULK_ROWS or rows[-1][0] - rows[0][0] != len(rows) - 1:
        conn.executemany("insert into outbox (seq, kind, body, hash, created_at, ref, size)"
                         " values (?, ?, ?, ?, ?, ?, ?)", rows)
        return
    for (by_ref, _created), run in groupby(rows, key=lambda row: (row[5] is not None, row[4])):
        part = list(run)
        if by_ref or len(part) < BULK_ROWS:
            _insert_rows(conn, part)
        else:
            _insert_records(conn, part)


def _insert_rows(conn: sqlite3.Connection, rows: list[OutboxRow]) -> None:
    """Any rows, each as a JSON array of its columns (``ref`` and ``kept`` bodies)."""
    conn.execute(
        "insert into outbox (seq, kind, body, hash, created_at, ref, size) select ? + key,"
        " value ->> 0, value ->> 1, substr(?, key * 32 + 1, 32), value ->> 2, value ->> 3,"
        " value ->> 4 from json_each(?)",
        (rows[0][0], b"".join(row[3] for row in rows),
         orjson.dumps([(kind, body, created, ref, size)
                       for _, kind, body, _, created, ref, size in rows]).decode("utf-8")))


def _insert_records(conn: sqlite3.Connection, rows: list[OutboxRow]) -> None:
    """Rows without ``ref``, of one ``created_at``: the record texts as one JSON array."""
    kinds: dict[str, str] = {}
    codes = "".join(kinds.setdefault(row[1], chr(48 + len(kinds))) for row in rows)
    if len(kinds) > 64:  # one character a kind, from "0": more would leave the plain range
        _insert_rows(conn, rows)
        return
    conn.execute(
        "insert into outbox (seq, kind, body, hash, created_at, ref, size) select ?1 + key,"
        " json_extract(?2, '$[' || (unicode(cast(substr(?3, key + 1, 1) as text)) - 48)"
        " || ']'), value,"
        " substr(?4, key * 32 + 1, 32), ?5, null, length(cast(value as blob))"
        " from json_each(?6)",
        (rows[0][0], orjson.dumps(list(kinds)).decode("utf-8"), codes.encode("ascii"),
         b"".join(row[3] for row in rows), rows[0][4],
         orjson.dumps([row[2] for row in rows]).decode("utf-8")))
