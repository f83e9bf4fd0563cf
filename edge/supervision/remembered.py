"""Each open case's last verdict, kept on disk in compact form, so a restart judges nothing twice.

The rule engine remembers, per open case, the findings it last judged and the local days they
hold for (``judged_on <= day < until``, see ``recheck_on``), keyed by a stable digest of the
facts text. In memory that saves a pass over unchanged cases from parsing and judging them
again; ``case_verdicts`` keeps the same memory across a restart, so the first pass after one
reads 100,000 small rows instead of parsing 100,000 JSON documents and running the deadline
engine on each (bench/bench_rules.py, "after a restart").

A verdict is used only when the case's facts still have the digest it was judged from, and
only under the basis it was judged against (catalogue, calendar, light and rule settings,
enabled rules: ``basis_fingerprint``, kept in ``meta``). Rows are written in the transaction
that applies the pass's alerts, so they never run ahead of what the alerts say.

Example::

    verdicts = RememberedVerdicts(store)
    stored = verdicts.load(fingerprint)      # {case_no: (digest, judged_on, until, verdict)}
    store.write(lambda tx: verdicts.save(tx, fingerprint, [(case_no, judged)], forget=[]))
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from typing import Any

from edge.store import Store, Tx, get_meta, set_meta

SCHEMA = """
create table if not exists case_verdicts (
    case_no text primary key, digest integer not null, judged_on integer not null,
    until integer not null, verdict text) without rowid;
"""
BASIS_KEY = "verdicts_basis"


def facts_digest(text: str) -> int:
    """A stable 63-bit digest of a facts text (Python's ``hash`` changes at every start).

    Two fast checksums side by side: this detects a changed case, it is not a seal.
    """
    data = text.encode("utf-8")
    return (zlib.crc32(data) << 31) ^ zlib.adler32(data) ^ len(data)


def basis_fingerprint(*parts: Any) -> str:
    """A digest of what verdicts are judged against (reprs of settings, names, fingerprints)."""
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def encode_verdict(findings: tuple, labels: tuple[str, str] | None) -> str | None:
    """Compact JSON of a case's findings (None for a case without any, the usual one)."""
    if not findings and labels is None:
        return None
    return json.dumps([labels, [[f.subject, f.rule, f.level, f.detail, f.case_no, f.dept_code]
                                for f in findings]], ensure_ascii=False, separators=(",", ":"))


def decode_verdict(text: str | None, finding_type) -> tuple[tuple, tuple[str, str] | None]:
    if text is None:
        return (), None
    labels, findings = json.loads(text)
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

    def load(self, conn, fingerprint: str) -> dict[str, tuple[int, int, int, str | None]]:
        """The stored verdicts of open cases, if judged under ``fingerprint``; else none."""
        if not self._available(conn) or get_meta(conn, BASIS_KEY) != fingerprint:
            return {}
        return {case_no: (digest, judged_on, until, verdict)
                for case_no, digest, judged_on, until, verdict in conn.execute(
                    "select v.case_no, v.digest, v.judged_on, v.until, v.verdict"
                    " from case_verdicts v join cases c on c.case_no = v.case_no"
                    " where c.is_open = 1")}

    def save(self, tx: Tx, fingerprint: str, rows: Iterable[tuple[str, int, int, int, str | None]],
             forget: Iterable[str]) -> None:
        """Upsert ``(case_no, digest, judged_on, until, verdict)`` rows; drop ``forget``."""
        conn = tx.conn
        if not self._available(conn):
            return
        if get_meta(conn, BASIS_KEY) != fingerprint:
            conn.execute("delete from case_verdicts")  # judged under another basis
            set_meta(conn, BASIS_KEY, fingerprint)
        conn.executemany("insert or replace into case_verdicts (case_no, digest, judged_on,"
                         " until, verdict) values (?, ?, ?, ?, ?)", rows)
        conn.execute("delete from case_verdicts where case_no in (select value from json_each(?))",
                     (json.dumps(list(forget)),))
