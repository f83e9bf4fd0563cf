"""Notices as issued: their numbers, their rows and records for the hub, reading and printing.

Each notice gets the next gap-free number of its district and year (``南海电监〔2026〕17号``,
the year of the local issue date) in the issuing transaction, and is kept exactly as issued:
content, HTML and text are stored and never updated (triggers refuse). Which cases draw a card,
and what its notice says, is ``edge/supervision/notices.py`` (``CardDesk``).

Example::

    with store.read() as db:
        notice = load_notice(db.conn, "南海电监〔2026〕1号")
    print(render_notice_text(notice))              # as issued, for a terminal
    html = render_notice_html(notice)              # A4, print-ready, no external assets
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from edge.outboxrefs import NOTICE_STRINGS, notices_by_reference, split_record
from edge.outboxrows import record_json
from edge.storeschema import get_meta
from edge.storetx import Tx
from standard.districts import hall_name, short_name
from standard.notice_layout import render_notice_page
from standard.notice_layout import render_notice_text as render_document_text

DEADLINE_NOTICE = "限期办理通知书"
RECTIFY_NOTICE = "整改建议书"


@dataclass(frozen=True)
class Notice:
    """A notice as issued; ``html`` and ``text`` are what was sent, byte for byte."""

    number: str
    kind: str
    district_code: str
    year: int
    seq: int
    alert_id: int
    case_no: str | None
    dept_code: str | None
    issued_at: str
    issued_on: str
    due_on: str | None
    content: dict[str, Any]
    html: str = ""
    text: str = ""


def format_number(district_code: str, year: int, seq: int, word: str = "电监") -> str:
    """The document number.

    >>> format_number("440605", 2026, 17)
    '南海电监〔2026〕17号'
    """
    return f"{short_name(district_code)}{word}〔{year}〕{seq}号"


def next_seq(tx: Tx, district_code: str, year: int) -> int:
    """The next number of the district's year, taken in the caller's transaction (gap-free)."""
    return take_seqs(tx, [(district_code, year)])[0][1]


def take_seqs(tx: Tx, keys: list[tuple[str, int]]) -> list[tuple[int, int]]:
    """``next_seq`` for each ``(district, year)`` in order, one counter update per key:
    ``(year, seq)`` each, the same gap-free numbers as taking them one at a time."""
    wanted: dict[tuple[str, int], int] = {}
    for key in keys:
        wanted[key] = wanted.get(key, 0) + 1
    next_of = {}
    for (district_code, year), count in wanted.items():
        (last,) = tx.conn.execute(
            "insert into notice_counters (district_code, year, last) values (?, ?, ?)"
            " on conflict(district_code, year) do update set last = last + excluded.last"
            " returning last", (district_code, year, count)).fetchone()
        next_of[(district_code, year)] = last - count + 1
    taken = []
    for key in keys:
        taken.append((key[1], next_of[key]))
        next_of[key] += 1
    return taken


def store_notices(tx: Tx, notices: list[Notice]) -> None:
    """Keep issued notices (the ``notices`` rows, never updated) and queue their records for
    the hub, in the caller's transaction."""
    (last,) = tx.conn.execute("select coalesce(max(id), 0) from notices").fetchone()
    ids = range(last + 1, last + 1 + len(notices))
    tx.conn.executemany(
        "insert into notices (id, number, kind, district_code, year, seq, alert_id, case_no,"
        " dept_code, issued_at, issued_on, due_on, content, html, text) values"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(notice_id, n.number, n.kind, n.district_code, n.year, n.seq, n.alert_id,
          n.case_no, n.dept_code, n.issued_at, n.issued_on, n.due_on,
          json.dumps(n.content, ensure_ascii=False), n.html, n.text)
         for notice_id, n in zip(ids, notices)])
    # All of it, so the hub can reprint it too (a shallow dict: asdict would deep-copy).
    fields = [f.name for f in dataclasses.fields(Notice)]
    _emit_notices(tx, [{name: getattr(n, name) for name in fields} for n in notices], ids)


def _emit_notices(tx: Tx, bodies: list[dict[str, Any]], ids: range) -> None:
    """The notices' records for the hub, each referring to its stored row for the HTML page
    and text it would otherwise copy (edge/outboxrefs.py); copied where the store cannot."""
    if not notices_by_reference(tx.conn, get_meta):
        tx.emit_many("notice", bodies)
        return
    texts, refs, kept = [], [], []
    for body, notice_id in zip(bodies, ids):
        split = split_record(body, NOTICE_STRINGS)
        if split is None:  # a notice that cannot be cut goes whole
            texts.append(record_json(body))
            refs.append(None)
            kept.append("")
        else:
            texts.append(split[0])
            refs.append(str(notice_id))
            kept.append(split[1])
    tx.emit_json_many("notice", texts, refs=refs, kept=kept)


def load_notice(conn, number: str) -> Notice | None:
    """A stored notice by its number (``南海电监〔2026〕17号``), or None."""
    cursor = conn.execute("select number, kind, district_code, year, seq, alert_id, case_no,"
                          " dept_code, issued_at, issued_on, due_on, content, html, text"
                          " from notices where number = ?", (number,))
    row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    values[11] = json.loads(values[11])
    return Notice(*values)


# -- rendering (the layout is shared with the hub's 督办通知书: standard/notice_layout.py) ------
def notice_org(district_code: str) -> str:
    """The red line heading a district's notices: 南海区行政审批电子监察."""
    return f"{hall_name(district_code)}行政审批电子监察"


def render_notice_html(notice: Notice) -> str:
    """The notice as one self-contained, printable A4 HTML page (inline CSS, no assets)."""
    return render_notice_page(notice.content, org=notice_org(notice.district_code))


def render_notice_text(notice: Notice) -> str:
    """The notice as plain text for a terminal."""
    return render_document_text(notice.content, org=notice_org(notice.district_code))
