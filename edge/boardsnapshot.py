"""The hall board's snapshot: every open and recently finished case evaluated once, and how a
snapshot is built for a day and then brought up to date from the newer case events.

``edge/board.py`` (``HallBoard``) decides when to build or update one and answers the pages
from it. A snapshot is never changed once published (readers on other threads need no lock):
an update copies what it changes. It holds the open cases and those finished in the last
``RECENT_DAYS``, never the whole history (``python -m bench.bench_memory``).

Example::

    snap = build_snapshot(board, local_day(now), events_mark(board.store), now)
    later = update_snapshot(board, snap, events_mark(board.store), now)
    [c.row.case_no for c in later.open_ordered[:10]]   # the most urgent open cases
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.cases import CaseBoard, CaseRow
from standard.deadlines import CaseFacts

WINDOW_SCAN_ROWS = 50_000  # a cold start reads window activity from this many recent events
_LIGHT_ORDER = {"red": 0, "unknown": 1, "yellow": 2, "green": 3}
FINISHED = "finished"  # the day counts' key for the cases that ended that day
RECENT_DAYS = 92  # finished cases kept on the board: the charts' longest period, and a margin


@dataclass(frozen=True, slots=True)
class BoardCase:
    """One evaluated case plus what the board needs beyond ``CaseRow``."""

    row: CaseRow
    is_open: bool
    window_no: int | None
    key: tuple  # urgency: open first, then red, unknown, yellow, green; fewest days left first
    accepted_on: dt.date | None = None  # the local day of 受理
    finished_on: dt.date | None = None  # the local day the case ended (办结, 不予受理 ...)
    staff: str | None = None  # the staff id of the case's latest event


@dataclass(frozen=True, slots=True)
class WindowActivity:
    """The latest platform event that named a window: who worked there, on which case."""

    window_no: int
    staff_id: str
    staff_name: str
    case_no: str
    event_type: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class Snapshot:
    """Never changed once published, except ``memo``: views derived from it, on demand."""

    day: dt.date
    mark: int  # every case_events row up to this rowid is included
    cases: dict[str, BoardCase]  # the open cases and those finished in the last RECENT_DAYS
    ordered: list[BoardCase]  # every case of the board, most urgent first
    open_ordered: list[BoardCase]  # the open ones (what pages show by default)
    open_counts: Counter  # lights of the open ones
    day_counts: Counter  # (local day, day_state or FINISHED) → cases, for the charts
    windows: dict[int, WindowActivity]
    built_at: float  # time.monotonic()
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def view(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per snapshot (two threads may both compute; both agree)."""
        try:
            return self.memo[key]
        except KeyError:
            value = self.memo[key] = compute()
            return value


def urgency(row: CaseRow, is_open: bool) -> tuple:
    remaining = row.remaining_working_days
    return (not is_open, _LIGHT_ORDER.get(row.light, 9),
            remaining if remaining is not None else 10**6, row.case_no)


def events_mark(store) -> int:
    """The newest ``case_events`` rowid: a snapshot built now includes every event up to it."""
    with store.read() as db:
        return db.conn.execute("select coalesce(max(rowid), 0) from case_events").fetchone()[0]


def build_snapshot(board: CaseBoard, day: dt.date, mark: int, at: dt.datetime) -> Snapshot:
    """A new day's snapshot: the open cases and the recently finished ones, evaluated at ``at``."""
    since = (day - dt.timedelta(days=RECENT_DAYS)).isoformat()
    with board.store.read() as db:  # one case at a time: the history is never held whole
        cases = {c.row.case_no: c for c in (_evaluate(board, text, at) for (text,) in
                 db.conn.execute("select facts from cases where is_open = 1"
                                 " or json_extract(facts, '$.finished_on') >= ?", (since,)))}
    ordered = sorted(cases.values(), key=_key)
    open_ordered = [c for c in ordered if c.is_open]
    windows = _window_activity(board.store, max(0, mark - WINDOW_SCAN_ROWS), mark, {})
    return Snapshot(day, mark, cases, ordered, open_ordered,
                    Counter(c.row.light for c in open_ordered),
                    Counter(key for c in ordered for key in _day_keys(c)), windows,
                    time.monotonic())


def update_snapshot(board: CaseBoard, old: Snapshot, mark: int, at: dt.datetime) -> Snapshot:
    """``old`` with the cases of the events after its mark, through ``mark``, evaluated again
    (``old`` itself is left as it was)."""
    with board.store.read() as db:
        texts = [text for (text,) in db.conn.execute(
            "select facts from cases where case_no in (select case_no from case_events"
            " where rowid > ? and rowid <= ?)", (old.mark, mark))]
    cases = dict(old.cases)
    ordered, open_ordered = list(old.ordered), list(old.open_ordered)
    counts, days = Counter(old.open_counts), Counter(old.day_counts)
    since = old.day - dt.timedelta(days=RECENT_DAYS)
    for case in (_evaluate(board, text, at) for text in texts):
        previous = cases.pop(case.row.case_no, None)
        if previous is not None:
            days.subtract(_day_keys(previous))
            _remove(ordered, previous)
            if previous.is_open:
                _remove(open_ordered, previous)
                counts[previous.row.light] -= 1
        if not case.is_open and (case.finished_on is None or case.finished_on < since):
            continue  # an old case's late event: it stays off the board, in SQLite
        cases[case.row.case_no] = case
        days.update(_day_keys(case))
        bisect.insort(ordered, case, key=_key)
        if case.is_open:
            bisect.insort(open_ordered, case, key=_key)
            counts[case.row.light] += 1
    windows = _window_activity(board.store, old.mark, mark, old.windows)
    return Snapshot(old.day, mark, cases, ordered, open_ordered, +counts, +days, windows,
                    time.monotonic())


def _evaluate(board: CaseBoard, text: str, at: dt.datetime) -> BoardCase:
    facts = CaseFacts.from_json(text)
    row = board._row(facts, at)
    is_open = facts.terminal is None
    return BoardCase(row, is_open, facts.window_no, urgency(row, is_open),
                     facts.accepted_on, facts.finished_on, facts.staff)


def _window_activity(store, after: int, through: int,
                     known: dict[int, WindowActivity]) -> dict[int, WindowActivity]:
    windows = dict(known)
    with store.read() as db:
        rows = db.conn.execute(
            "select json_extract(body, '$.window_no'), json_extract(body, '$.actor.id'),"
            " json_extract(body, '$.actor.name'), case_no, event_type, occurred_at"
            " from case_events where rowid > ? and rowid <= ?"
            " and json_extract(body, '$.window_no') is not null order by rowid",
            (after, through)).fetchall()
    for window_no, staff_id, name, case_no, event_type, occurred in rows:
        moment = dt.datetime.fromisoformat(occurred)
        previous = windows.get(window_no)
        if previous is None or moment >= previous.occurred_at:
            windows[window_no] = WindowActivity(window_no, staff_id, name, case_no,
                                                event_type, moment)
    return windows


def day_state(case: BoardCase) -> str:
    """An open case's light now, else its outcome: early, on_time, late, or "other" for a case
    that ended without one (no deadline known)."""
    if case.is_open:
        return case.row.light
    return case.row.outcome or "other"


def _day_keys(case: BoardCase) -> list[tuple[dt.date, str]]:
    """What ``case`` adds to the day counts: its 受理 day with ``day_state``, its end day."""
    keys = [] if case.accepted_on is None else [(case.accepted_on, day_state(case))]
    return keys if case.finished_on is None else keys + [(case.finished_on, FINISHED)]


def _key(case: BoardCase) -> tuple:
    return case.key


def _remove(ordered: list[BoardCase], case: BoardCase) -> None:
    """Remove ``case`` from a list sorted by urgency (keys are unique: they end in case_no)."""
    index = bisect.bisect_left(ordered, case.key, key=_key)
    if index < len(ordered) and ordered[index] is case:
        del ordered[index]
    else:  # not where its key says: a bug, but never leave a stale row behind
        ordered.remove(case)
