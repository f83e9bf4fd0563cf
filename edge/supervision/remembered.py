"""Each open case's last verdict, kept on disk in compact form: a pass judges only what moves.

The rule engine keeps, per open case, the findings it last judged and the local days they hold
for (``judged_on <= day < until``, see ``recheck_on``). The pass over open cases asks SQLite for
the cases without a valid verdict (new, changed, or whose findings can change today) and judges
only those; the rest are taken from their verdicts, of which only the 5% or so with findings
are read at all. So a pass over unchanged cases, the first pass after a restart and the next
day's pass neither read nor parse the 100,000 facts documents (bench/bench_rules.py).

A verdict row exists only while it matches the case's facts: triggers on ``cases`` delete it
whenever a case's facts change, however they change (ingest, a refold, a hand-made update), and
it is written, in the transaction that applies the pass's alerts, only if the case is not marked
to be judged again: every feed that changes a case's facts marks it in the same transaction
(edge/backlog.py), so a case changed after the pass read it keeps no verdict of its old facts.
It is used only under the basis it was judged against (catalogue, calendar, light and rule
settings, enabled rules: ``basis_fingerprint``, kept in ``meta``); under another basis every
open case is judged again. A marked case whose verdict still holds is not judged again either.

Example::

    verdicts = RememberedVerdicts(store)
    if verdicts.usable(conn, fingerprint):
        stale = verdicts.stale(conn, day)    # [(case_no, facts)]: judge these
        found = verdicts.found(conn, day)    # [(case_no, verdict)]: findings still valid
    store.write(lambda tx: verdicts.save(tx, fingerprint, [(case_no, digest, judged_on,
                                                           until, verdict)], forget=[]))
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable
from typing import Any

import orjson

from edge.store import Store
from edge.storeschema import get_meta, set_meta
from edge.storetx import Tx

SCHEMA = """
create table if not exists case_verdicts (
    case_no text primary key, digest integer not null, judged_on integer not null,
    until integer not null, verdict text) without rowid;
create trigger if not exists case_verdicts_changed after update of facts on cases
    when old.facts is not new.facts begin
    delete from case_verdicts where case_no = new.case_no; end;
create trigger if not exists case_verdicts_added after insert on cases begin
    delete from case_verdicts where case_no = new.case_no; end;
create trigger if not exists case_verdicts_removed after delete on cases begin
    delete from case_verdicts where case_no = old.case_no; end;
"""
BASIS_KEY = "verdicts_basis"
# Part of every fingerprint: verdicts kept before the triggers above existed are not trusted.
FORMAT = 2


def facts_digest(text: str) -> int:
    """A stable 63-bit digest of a facts text (Python's ``hash`` changes at every start).

    Two fast checksums side by side: this detects a changed case, it is not a seal.
    """
    data = text.encode("utf-8")
    return (zlib.crc32(data) << 31) ^ zlib.adler32(data) ^ len(data)


def basis_fingerprint(*parts: Any) -> str:
    """A digest of what verdicts are judged against (reprs of settings, names, fingerprints)."""
    return hashlib.sha256(repr((FORMAT, parts)).encode("utf-8")).hexdigest()[:16]


def encode_verdict(findings: tuple, labels: tuple[str, str] | None) -> str | None:
    """Compact JSON of a case's findings (None for a case without any, the usual one)."""
    if not findings and labels is None:
        return None
    return orjson.dumps([labels, [(f.subject, f.rule, f.level, f.detail, f.case_no, f.dept_code)
                                  for f in findings]]).decode("utf-8")


def decode_verdict(text: str | None, finding_type) -> tuple[tuple, tuple[str, str] | None]:
    if text is None:
        return (), None
    labels, findings = orjson.loads(text)
    return (tuple(finding_type(*fields) for fields in findings),
            tuple(labels) if labels else None)


class RememberedVerdicts:
    """Reads and writes ``case_verdicts`` (a no-op on a store opened without its schema)."""

    def __init__(self, store: Store):
        self.store = store
        self._present: bool | None = None

    def _available(self, conn) -> bool:
        if self._present is None:
            self._present = conn.execute("select 1 from sqlite_master where type = 'table'"
                                         " and name = 'case_verdicts'").fetchone() is not None
        return self._present

    def usable(self, conn, fingerprint: str) -> bool:
        """Whether the stored verdicts were judged under ``fingerprint``."""
        return self._available(conn) and get_meta(conn, BASIS_KEY) == fingerprint

    def stale(self, conn, day: int) -> sqlite3.Cursor:
        """``(case_no, facts)`` of the open cases without a verdict valid on ``day``."""
        return conn.execute(
            "select c.case_no, c.facts from cases c left join case_verdicts v"
            " on v.case_no = c.case_no where c.is_open = 1"
            " and (v.case_no is null or ?1 < v.judged_on or ?1 >= v.until)", (day,))

    def found(self, conn, day: int) -> sqlite3.Cursor:
        """``(case_no, verdict)`` of the open cases whose verdict on ``day`` has findings."""
        return conn.execute(
            "select v.case_no, v.verdict from case_verdicts v join cases c"
            " on c.case_no = v.case_no where v.verdict is not null and c.is_open = 1"
            " and v.judged_on <= ?1 and ?1 < v.until", (day,))

    def valid_for(self, conn, case_nos: Iterable[str], day: int) -> dict[str, str | None]:
        """``{case_no: verdict}`` of these cases whose verdict is valid on ``day``."""
        return dict(conn.execute(
            "select case_no, verdict from case_verdicts where case_no in"
            " (select value from json_each(?1)) and judged_on <= ?2 and ?2 < until",
            (json.dumps(list(case_nos)), day)))

    def save(self, tx: Tx, fingerprint: str,
             rows: Iterable[tuple[str, int, int, int, str | None]],
             forget: Iterable[str]) -> None:
        """Upsert ``(case_no, digest, judged_on, until, verdict)`` rows, each only if the case
        is not marked to be judged (remove the pass's own marks first: a case marked since it
        was read is judged again); drop the verdicts of ``forget``."""
        conn = tx.conn
        if not self._available(conn):
            return
        if get_meta(conn, BASIS_KEY) != fingerprint:
            conn.execute("delete from case_verdicts")  # judged under another basis
            set_meta(conn, BASIS_KEY, fingerprint)
        # With no case marked (the pass over open cases, once the backlog is done) the check
        # per row is moot: without it the first pass's 100,000 upserts take about 40% less.
        marked = conn.execute("select exists (select 1 from cases_to_judge)").fetchone()[0]
        conn.executemany(
            "insert or replace into case_verdicts (case_no, digest, judged_on, until, verdict)"
            + (" select ?1, ?2, ?3, ?4, ?5 where not exists"
               " (select 1 from cases_to_judge where case_no = ?1)" if marked else
               " values (?1, ?2, ?3, ?4, ?5)"),
            rows)
        conn.execute("delete from case_verdicts where case_no in (select value from json_each(?))",
                     (json.dumps(list(forget)),))
