"""Folding a batch of new events into their cases' facts: in memory, each case written once.

Ingest (edge/ingest.py) hands the events of one transaction, in the order they arrived. Each
touched case's facts are read once, folded in place event by event (no copy per event), and
written once: new cases inserted, known ones updated in the columns that change, so the
``cases`` indexes on ``item_code`` and ``is_open`` are touched only when their value is new.

A bug in the fold must not cost the other records: the event that raised is refused and its
case is folded again from the facts as read plus the batch's events before it.

Example::

    batch = CaseBatch(conn, joint=lambda code: frozenset())
    for event in events:
        batch.fold(event)          # raises only for the event that cannot be folded
    batch.write(now_text)          # -> the case numbers written, in first-touched order
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from standard.deadlines import CaseFacts, apply_event
from standard.records import TERMINAL_EVENTS


class CaseBatch:
    """The facts of the cases one transaction touches, read on first use."""

    def __init__(self, conn: sqlite3.Connection, case_nos: list[str],
                 joint: Callable[[str], frozenset[str]]):
        self.conn = conn
        self.joint = joint
        self._stored: dict[str, str] = {}  # case_no -> facts text, of the known cases
        self._was_open: dict[str, int] = {}
        # Read and written as JSON arrays, a statement each (edge/outboxrows.py says why).
        found = conn.execute(
            "select json_group_array(json_array(case_no, facts, is_open)) from cases"
            " where case_no in (select value from json_each(?))",
            (orjson.dumps(case_nos).decode("utf-8"),)).fetchone()[0]
        for case_no, text, is_open in orjson.loads(found):
            self._stored[case_no], self._was_open[case_no] = text, is_open
        self.facts: dict[str, CaseFacts] = {no: CaseFacts.from_json(text)
                                            for no, text in self._stored.items()}
        self._folded: dict[str, list[Any]] = {}  # case_no -> events folded in this batch
        self._touched: dict[str, None] = {}

    def fold(self, event: Any) -> None:
        """Fold one event into its case; on an exception the case is as before the call."""
        case_no = event.case_no
        try:
            self.facts[case_no] = apply_event(self.facts.get(case_no), event,
                                              self.joint(event.item_code), in_place=True)
        except Exception:
            self._restore(case_no)
            raise
        self._folded.setdefault(case_no, []).append(event)
        self._touched[case_no] = None

    def _restore(self, case_no: str) -> None:
        text = self._stored.get(case_no)
        facts = CaseFacts.from_json(text) if text is not None else None
        for event in self._folded.get(case_no, ()):
            facts = apply_event(facts, event, self.joint(event.item_code), in_place=True)
        if facts is None:
            self.facts.pop(case_no, None)
        else:
            self.facts[case_no] = facts

    def write(self, now: str) -> list[str]:
        """Insert or update every touched case once; returns their numbers."""
        new, reopened, same = [], [], []
        for case_no in self._touched:
            f = self.facts[case_no]
            is_open = 0 if f.terminal in TERMINAL_EVENTS else 1
            if case_no not in self._stored:
                new.append((f.case_no, f.item_code, f.dept_code, f.district_code, f.case_type,
                            f.stage, is_open, f.to_json(), now))
            elif is_open != self._was_open[case_no]:
                reopened.append((f.case_type, f.stage, is_open, f.to_json(), now, case_no))
            else:
                same.append((f.case_type, f.stage, f.to_json(), now, case_no))
        conn = self.conn
        if new:
            conn.execute(
                "insert into cases (case_no, item_code, dept_code, district_code, case_type,"
                " stage, is_open, facts, updated_at) select value ->> 0, value ->> 1,"
                " value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,"
                " value ->> 8 from json_each(?)", (_array(new),))
        if reopened:
            conn.execute(
                "update cases set case_type = v.value ->> 0, stage = v.value ->> 1,"
                " is_open = v.value ->> 2, facts = v.value ->> 3, updated_at = v.value ->> 4"
                " from json_each(?) as v where cases.case_no = v.value ->> 5",
                (_array(reopened),))
        if same:
            conn.execute(
                "update cases set case_type = v.value ->> 0, stage = v.value ->> 1,"
                " facts = v.value ->> 2, updated_at = v.value ->> 3"
                " from json_each(?) as v where cases.case_no = v.value ->> 4", (_array(same),))
        return list(self._touched)



def _array(rows: list[tuple]) -> str:
    return orjson.dumps(rows).decode("utf-8")
