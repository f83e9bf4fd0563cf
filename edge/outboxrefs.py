"""The outbox by reference (issue 17): rows that refer to what the store keeps anyway.

A record's text is what the hash chain covers and the relay sends, byte for byte. Two kinds of
record would copy large texts the store already keeps, and refer to them instead:

- ``case_event``: the row's ``ref`` is the event's ``event_id``, its ``body`` empty; the record
  is the envelope around the stored event's text (``case_events.body``).
- ``notice``: the row's ``ref`` is the notice's ``id``; its ``body`` holds the record's body
  without the notice's HTML page and text (a JSON array of the three pieces around them); the
  record is the envelope around those pieces with the stored ``html`` and ``text`` put back as
  JSON strings by SQLite's ``json_quote``, which writes a string as orjson does (checked when
  the store opens: ``quotes_like_orjson``; where it does not, notices are copied as before and
  queued notice rows get their text back, ``materialise_notices``).

The view ``outbox_records`` gives every row's record text (a row without ``ref`` carries its
own, as every row of an older release does). What a row refers to never changes: triggers
refuse updates and deletes of ``case_events`` and ``notices``.

Example::

    text, pieces = split_record({"html": "<p>", "n": 1, "text": "t"}, ("html", "text"))
    # text == '{"html":"<p>","n":1,"text":"t"}', pieces == '["{\\"html\\":",",\\"n\\":1,\\"text\\":","}"]'
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from edge.outboxrows import record_json

REF_KINDS = ("case_event", "notice")
NOTICE_STRINGS = ("html", "text")  # the notice's columns put back into its record
VIEW_META = "outbox_records_view"  # meta: the kinds the view reads by reference
_ENVELOPE = ("'{\"seq\":' || o.seq || ',\"kind\":\"' || o.kind || '\",\"at\":\"' || o.created_at"
             " || '\",\"body\":' || BODY || '}'")
_EVENT = "e.body"
_NOTICE = ("json_extract(o.body, '$[0]') || json_quote(n.html) || json_extract(o.body, '$[1]')"
           " || json_quote(n.text) || json_extract(o.body, '$[2]')")
# Every escape class a JSON string can need, and text that needs none.
_PROBE = "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\u00a0\ufeff南海区😀\U0010fffd"


def quotes_like_orjson(conn: sqlite3.Connection) -> bool:
    """True when this SQLite's ``json_quote`` writes a string as orjson does."""
    quoted = conn.execute("select json_quote(?)", (_PROBE,)).fetchone()[0]
    return quoted == orjson.dumps(_PROBE).decode("utf-8")


def records_view(kinds: Sequence[str]) -> str:
    """The ``outbox_records`` view reading ``kinds`` by reference."""
    body = _EVENT if "notice" not in kinds else \
        f"case o.kind when 'notice' then {_NOTICE} else {_EVENT} end"
    joins = ("left join case_events e on o.ref is not null and o.kind = 'case_event'"
             " and e.event_id = o.ref")
    if "notice" in kinds:
        joins += (" left join notices n on o.ref is not null and o.kind = 'notice'"
                  " and n.id = cast(o.ref as integer)")
    return (f"create view outbox_records (seq, kind, body, hash, created_at, size, ref) as"
            f" select o.seq, o.kind, case when o.ref is null then o.body else"
            f" {_ENVELOPE.replace('BODY', body)} end, o.hash, o.created_at,"
            f" coalesce(o.size, length(cast(o.body as blob))), o.ref"
            f" from outbox o {joins}")


def prepare_view(conn: sqlite3.Connection, get_meta, set_meta) -> None:
    """(Re)make ``outbox_records`` for what this file and this SQLite allow.

    Notices are read by reference once their table exists and ``json_quote`` writes strings as
    orjson does; that only changes when the supervision's tables first appear, or when a new
    SQLite quotes differently (its queued notice rows then get their text back first).
    """
    kinds = ["case_event"]
    has_notices = conn.execute("select 1 from sqlite_master where type = 'table'"
                               " and name = 'notices'").fetchone()
    if has_notices:
        if quotes_like_orjson(conn):
            kinds.append("notice")
        else:
            materialise_notices(conn)
    wanted = ",".join(kinds)
    present = conn.execute("select 1 from sqlite_master where name = 'outbox_records'").fetchone()
    if present and get_meta(conn, VIEW_META) == wanted:
        return
    conn.execute("drop view if exists outbox_records")
    conn.execute(records_view(kinds))
    set_meta(conn, VIEW_META, wanted)


def notices_by_reference(conn: sqlite3.Connection, get_meta) -> bool:
    """True when this store reads notice rows by reference (``prepare_view`` said so)."""
    return "notice" in (get_meta(conn, VIEW_META) or "").split(",")


def materialise_notices(conn: sqlite3.Connection) -> int:
    """Give queued notice rows their record text again (ref cleared); returns how many.

    The text is built as it was hashed: the pieces around the notice's strings as orjson
    writes them.
    """
    rows = conn.execute(
        "select o.seq, o.kind, o.created_at, o.body, n.html, n.text from outbox o"
        " join notices n on n.id = cast(o.ref as integer) where o.kind = 'notice'"
        " and o.ref is not null"
    ).fetchall()
    for seq, kind, created, pieces, html, text in rows:
        first, middle, last = orjson.loads(pieces)
        body = (first + orjson.dumps(html).decode("utf-8") + middle
                + orjson.dumps(text).decode("utf-8") + last)
        record = f'{{"seq":{seq},"kind":"{kind}","at":"{created}","body":{body}}}'
        conn.execute("update outbox set body = ?, ref = null where seq = ?", (record, seq))
    return len(rows)


def split_record(body: dict[str, Any], names: tuple[str, str]) -> tuple[str, str] | None:
    """``body``'s record text, and the JSON array of the pieces around its two string fields
    ``names`` (in the text's order); None when the text cannot be cut that way.

    The text is ``record_json(body)``; the pieces put back around the two strings as orjson
    writes them give exactly that text (checked here, for every record).
    """
    first, second = (body[name] for name in names)
    if not isinstance(first, str) or not isinstance(second, str):
        return None
    marks = [f"\x01{uuid.uuid4().hex}" for _ in names]
    skeleton = record_json({**body, names[0]: marks[0], names[1]: marks[1]})
    quoted = [orjson.dumps(mark).decode("utf-8") for mark in marks]
    if skeleton.count(quoted[0]) != 1 or skeleton.count(quoted[1]) != 1:
        return None
    head, rest = skeleton.split(quoted[0])
    middle, tail = rest.split(quoted[1])
    text = record_json(body)
    if text != head + orjson.dumps(first).decode("utf-8") + middle + \
            orjson.dumps(second).decode("utf-8") + tail:
        return None
    return text, orjson.dumps([head, middle, tail]).decode("utf-8")
