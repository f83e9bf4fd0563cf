"""Folding a batch of new events into their cases' facts: in memory, each case written once.

Ingest (edge/ingest.py) hands the events of one transaction, in the order they arrived. Each
touched case's facts are taken from the writer's cache of the cases written last, or read
once, folded in place event by event (no copy per event), and written once: new cases
inserted, known ones updated in the columns that change, so the ``cases`` indexes on
``item_code`` and ``is_open`` are touched only when their value is new.

The cache (``FactsCache``, in the store writer's ``Tx.memo``) saves reading and parsing facts a
chunk or request before wrote: a case's events usually arrive over days, in many chunks. It
holds the facts exactly as written; the store empties it whenever the database may differ (a
job rolled back, another connection committed), and ``refold_cases`` forgets what it rewrites.

A bug in the fold must not cost the other records: the event that raised is refused and its
case is folded again from the facts as stored plus the batch's events before it.

Example::

    batch = CaseBatch(conn, case_nos, joint=lambda code: frozenset(),
                      cache=facts_cache(tx.memo))
    for event in events:
        batch.fold(event)          # raises only for the event that cannot be folded
    batch.write(now_text)          # -> the case numbers written, in first-touched order
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

import orjson

from standard.deadlines import CaseFacts, apply_event
from standard.records import TERMINAL_EVENTS

# Cases whose facts stay in memory once written (about 1 KB each, so about 16 MB): reading
# and parsing facts written a chunk before was a sixth of the writer's time (issue 17).
CACHE_CASES = 16_384
MEMO_KEY = "casefold"


class FactsCache:
    """The facts and open flag of the cases written last, as in the database; oldest first."""

    def __init__(self, size: int = CACHE_CASES):
        self.size = size
        self._entries: OrderedDict[str, tuple[CaseFacts, int]] = OrderedDict()

    def take(self, case_no: str) -> tuple[CaseFacts, int] | None:
        """The case's facts and open flag, taken out (a batch folds into them in place)."""
        return self._entries.pop(case_no, None)

    def put(self, case_no: str, facts: CaseFacts, is_open: int) -> None:
        self._entries[case_no] = (facts, is_open)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, case_nos: Iterable[str]) -> None:
        for case_no in case_nos:
            self._entries.pop(case_no, None)

    def __len__(self) -> int:
        return len(self._entries)


def facts_cache(memo: MutableMapping[str, Any]) -> FactsCache:
    """The writer's facts cache, made on first use."""
    cache = memo.get(MEMO_KEY)
    if cache is None:
        cache = memo[MEMO_KEY] = FactsCache()
    return cache


class CaseBatch:
    """The facts of the cases one transaction touches: from the cache, else read once."""

    def __init__(self, conn: sqlite3.Connection, case_nos: list[str],
                 joint: Callable[[str], frozenset[str]], cache: FactsCache | None = None):
        self.conn = conn
        self.joint = joint
        self.cache = cache
        self.facts: dict[str, CaseFacts] = {}
        self._was_open: dict[str, int] = {}  # of the cases already stored
        missing = case_nos
        if cache is not None:
            missing = []
            for case_no in case_nos:
                entry = cache.take(case_no)
                if entry is None:
                    missing.append(case_no)
                else:
                    self.facts[case_no], self._was_open[case_no] = entry
        if missing:
            # Read and written as JSON arrays, a statement each (edge/outboxrows.py says why).
            found = conn.execute(
                "select json_group_array(json_array(case_no, facts, is_open)) from cases"
                " where case_no in (select value from json_each(?))",
                (orjson.dumps(missing).decode("utf-8"),)).fetchone()[0]
            for case_no, text, is_open in orjson.loads(found):
                self.facts[case_no] = CaseFacts.from_json(text)
                self._was_open[case_no] = is_open
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
        """The case as stored (not yet written by this batch) plus the batch's events before
        the one that failed."""
        facts = None
        if case_no in self._was_open:
            (text,) = self.conn.execute("select facts from cases where case_no = ?",
                                        (case_no,)).fetchone()
            facts = CaseFacts.from_json(text)
        for event in self._folded.get(case_no, ()):
            facts = apply_event(facts, event, self.joint(event.item_code), in_place=True)
        if facts is None:
            self.facts.pop(case_no, None)
        else:
            self.facts[case_no] = facts

    def write(self, now: str) -> list[str]:
        """Insert or update every touched case once (and cache it); returns their numbers."""
        new, reopened, same = [], [], []
        cache = self.cache
        for case_no in self._touched:
            f = self.facts[case_no]
            is_open = 0 if f.terminal in TERMINAL_EVENTS else 1
            was_open = self._was_open.get(case_no)
            if was_open is None:
                new.append((f.case_no, f.item_code, f.dept_code, f.district_code, f.case_type,
                            f.stage, is_open, f.to_json(), now))
            elif is_open != was_open:
                reopened.append((f.case_type, f.stage, is_open, f.to_json(), now, case_no))
            else:
                same.append((f.case_type, f.stage, f.to_json(), now, case_no))
            if cache is not None:
                cache.put(case_no, f, is_open)
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
