"""The hall manager's view of the box: cases evaluated once and cached, windows, alerts, health.

Evaluating one case costs about 20 µs (its JSON facts plus the deadline engine), so a page over
100,000 cases cannot evaluate them per request. ``HallBoard`` keeps one evaluated snapshot:

- it is built once per local day, because a light depends only on the hall's date;
- after that only the cases with new events (``case_events.rowid`` above the snapshot's mark)
  are evaluated again, at most every ``refresh_seconds``, in the background while pages are
  being read; requests reuse the snapshot (a page refreshes it only when the background is
  several intervals behind, so a platform's backlog does not slow the board);
- pages filter, sort and slice the snapshot in memory, and a snapshot is never changed once
  published, so readers on other threads need no lock;
- it holds the open cases and those finished in the last ``RECENT_DAYS`` (what the lists with
  finished cases and the charts of up to 90 days show), never the whole history: a box with
  500,000 cases keeps its memory bounded (``python -m bench.bench_memory``). Older finished
  cases stay in SQLite (``hallwatch edge cases --json`` lists every case; a case's page is
  found by its number).

What a snapshot holds, and how one is built and updated, is ``edge/boardsnapshot.py``; this
module decides when, and answers the pages from it.

The box starts it as a service: ``start()`` builds the first snapshot in the background, builds
each new day's there too, and keeps it fresh while pages are being read (a box nobody looks at
does no other page work).

Example::

    hall = HallBoard(box.board, clock=box.clock)
    page = hall.case_page(CaseFilter(light="red"), page=1)
    [(c.row.case_no, c.row.light) for c in page.cases]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from edge.boardsnapshot import (
    FINISHED,
    BoardCase,
    Snapshot,
    WindowActivity,
    build_snapshot,
    events_mark,
    update_snapshot,
)
from edge.cases import CaseBoard, CaseFilter, CaseRow
from edge.memory import give_back
from standard.catalogue import departments
from standard.deadlines import CaseFacts, local_day
from standard.records import LOCAL_TZ, STAGES

log = logging.getLogger(__name__)

PER_PAGE = 100
WATCHED_SECONDS = 600  # background refreshes go on this long after the last page read
BEHIND_INTERVALS = 3  # a page refreshes itself only when the background is this far behind
STAGE_NAMES = tuple(stage.value for stage in STAGES)


@dataclass
class CasePage:
    cases: list[BoardCase]
    total: int
    page: int
    pages: int
    counts: Counter  # lights of every case matching the filter except the light itself


@dataclass(frozen=True)
class DayCases:
    """One local day: the cases received (受理) that day by ``day_state``, and how many
    cases ended that day."""

    day: dt.date
    received: Counter
    finished: int


@dataclass
class WindowView:
    window_no: int
    activity: WindowActivity | None  # today's latest, or None
    red: int = 0
    yellow: int = 0
    alerts: int = 0


class HallBoard:
    """The cached, evaluated board: the open cases and the recently finished ones."""

    def __init__(self, board: CaseBoard, *, clock: Callable[[], dt.datetime],
                 refresh_seconds: float = 2.0):
        self.board = board
        self.store = board.store
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self._read_at = float("-inf")

    # -- life cycle (a box service) ------------------------------------------------------
    def start(self) -> None:
        """Keep the snapshot fresh in the background, so that pages rarely pay for it."""
        self._stop.clear()
        self._refresher = threading.Thread(target=self._run, name="hall-board", daemon=True)
        self._refresher.start()

    def _run(self) -> None:
        while True:
            # A new day's snapshot is always built here, so the morning's first page is fast;
            # otherwise work only while someone has looked at a page lately.
            current = self._snapshot
            new_day = current is None or current.day != local_day(self.clock())
            if new_day or time.monotonic() - self._read_at < WATCHED_SECONDS:
                try:
                    self.snapshot()
                    self.case_page(CaseFilter())  # what the board and the case list show first
                    self.windows()
                    self.department_lights()
                except Exception:  # a page will try again and show the error
                    log.exception("hall board refresh failed")
            if self._stop.wait(max(self.refresh_seconds, 1.0)):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._refresher:
            self._refresher.join(timeout=30)

    # -- the snapshot ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The current snapshot, refreshed first when the store has moved on."""
        if threading.current_thread() is not self._refresher:
            self._read_at = time.monotonic()
        current = self._snapshot
        day = local_day(self.clock())
        if current is not None and current.day == day:
            if time.monotonic() - current.built_at < self._fresh_enough():
                return current
            if not self._lock.acquire(blocking=False):
                return current  # another thread is refreshing; this one is recent enough
        else:
            self._lock.acquire()
        try:
            return self._refresh(day)
        finally:
            self._lock.release()

    def _fresh_enough(self) -> float:
        """How old a snapshot a caller takes as it is.

        While the background refresher runs, a page leaves the refresh to it (a page that
        refreshed would wait for every case changed since, which under a platform's backlog is
        thousands), unless the refresher has fallen several intervals behind.
        """
        background = self._refresher is not None and self._refresher.is_alive()
        if background and threading.current_thread() is not self._refresher:
            return self.refresh_seconds * BEHIND_INTERVALS
        return self.refresh_seconds

    def _refresh(self, day: dt.date) -> Snapshot:
        old = self._snapshot
        mark = events_mark(self.store)
        if old is not None and old.day == day and old.mark == mark:
            self._snapshot = dataclasses.replace(old, built_at=time.monotonic())
        elif old is None or old.day != day:
            started = time.monotonic()
            self._snapshot = build_snapshot(self.board, day, mark, self.clock())
            give_back()  # what reading the history allocated, beyond the snapshot it keeps
            log.info("hall board: %d cases evaluated in %.2f s", len(self._snapshot.cases),
                     time.monotonic() - started)
        else:
            self._snapshot = update_snapshot(self.board, old, mark, self.clock())
        return self._snapshot

    # -- what pages ask for ----------------------------------------------------------------
    def matching(self, where: CaseFilter, snap: Snapshot | None = None) -> list[BoardCase]:
        """Every case matching ``where``, most urgent first (the list is shared: do not edit)."""
        snap = snap or self.snapshot()
        base = snap.ordered if where.include_finished else snap.open_ordered
        dept, item, stage, light = where.dept_code, where.item_code, where.stage, where.light
        if dept or item or stage:
            broad = CaseFilter(dept, item, None, stage, where.include_finished)
            base = snap.view(("cases", broad), lambda: [
                c for c in base if (not dept or c.row.dept_code == dept
                                    or any(s.dept_code == dept for s in c.row.departments))
                and (not item or c.row.item_code == item) and (not stage or c.row.stage == stage)])
        if where.text:
            base = snap.view(("search", where.text, dept, item, stage, where.include_finished),
                             lambda: self._search(base, where.text))
        if not light:
            return base
        return snap.view(("cases", where), lambda: [c for c in base if c.row.light == light])

    def _search(self, cases: list[BoardCase], text: str) -> list[BoardCase]:
        """Cases whose number or item (code or name) contains ``text``, or whose latest event
        was by the staff member with that id or a name containing it."""
        needle = text.strip().casefold()
        staff = {needle} | self.staff_ids_named(text.strip())
        return [c for c in cases if needle in c.row.case_no.casefold()
                or needle in c.row.item_code.casefold()
                or needle in (c.row.item_name or "").casefold()
                or (c.staff or "").casefold() in staff]

    def staff_ids_named(self, name: str) -> set[str]:
        """Staff ids (case-folded) that platform events gave with a name containing ``name``."""
        if not name:
            return set()
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.store.read() as db:
            rows = db.conn.execute(
                "select distinct json_extract(body, '$.actor.id') from case_events"
                " where json_extract(body, '$.actor.name') like ? escape '\\'", (pattern,))
            return {str(staff_id).casefold() for (staff_id,) in rows if staff_id is not None}

    def case_page(self, where: CaseFilter, page: int = 1, per_page: int = PER_PAGE) -> CasePage:
        """One page of matching cases, with the light counts of the filter without its light."""
        broad = dataclasses.replace(where, light=None)
        snap = self.snapshot()
        counts = snap.open_counts if broad == CaseFilter() else snap.view(
            ("counts", broad), lambda: Counter(c.row.light for c in self.matching(broad, snap)))
        found = self.matching(where, snap)
        pages = max(1, -(-len(found) // per_page))
        page = min(max(1, page), pages)
        start = (page - 1) * per_page
        return CasePage(found[start:start + per_page], len(found), page, pages, counts)

    def light_counts(self) -> Counter:
        """Lights of the open cases."""
        return self.case_page(CaseFilter(), 1, 1).counts

    def department_lights(self) -> dict[str, Counter]:
        """Open cases' lights per department code."""
        snap = self.snapshot()
        return snap.view("departments", lambda: _regroup(Counter(
            (c.row.dept_code, c.row.light) for c in self.matching(CaseFilter(), snap))))

    def urgent(self, limit: int = 10) -> list[BoardCase]:
        """The most urgent open red or yellow cases."""
        found = []
        for case in self.snapshot().ordered:
            if not case.is_open or case.row.light == "green":
                break  # ordered: open ones first, greens last among them
            if case.row.light in ("red", "yellow"):
                found.append(case)
                if len(found) == limit:
                    break
        return found

    def windows(self, configured: Iterable[int] = (),
                alert_cases: Iterable[str] = ()) -> list[WindowView]:
        """Every window (the configured ones, else the ones seen) with today's activity."""
        snap = self.snapshot()
        lights = snap.view("window_lights", lambda: _regroup(Counter(
            (c.window_no, c.row.light) for c in self.matching(CaseFilter(), snap)
            if c.window_no is not None)))
        numbers = set(configured) or set(snap.windows) | set(lights)
        views = {n: WindowView(n, None) for n in numbers}
        for number, counts in lights.items():
            if number in views:
                views[number].red, views[number].yellow = counts["red"], counts["yellow"]
        for case_no in alert_cases:
            case = snap.cases.get(case_no)
            if case is not None and case.is_open and case.window_no in views:
                views[case.window_no].alerts += 1
        for number, activity in snap.windows.items():
            if number in views and activity.occurred_at.astimezone(LOCAL_TZ).date() == snap.day:
                views[number].activity = activity
        return [views[n] for n in sorted(views)]

    def daily_cases(self, days: int) -> list[DayCases]:
        """The last ``days`` local days through today, oldest first (from the snapshot's day
        counts, which new events update like the light counts)."""
        snap = self.snapshot()
        by_day = snap.view("daily", lambda: _regroup(snap.day_counts))
        first = snap.day - dt.timedelta(days=days - 1)
        series = []
        for day in (first + dt.timedelta(days=n) for n in range(days)):
            counts = by_day.get(day, Counter())
            received = Counter({state: n for state, n in counts.items() if state != FINISHED})
            series.append(DayCases(day, received, counts[FINISHED]))
        return series

    def detail(self, case_no: str) -> CaseDetail | None:
        """One case, evaluated now, with its events, pauses, fees and catalogue item."""
        found = self.board.case(case_no, self.clock())
        if found is None:
            return None
        row, events = found
        with self.store.read() as db:
            (text,) = db.conn.execute("select facts from cases where case_no = ?",
                                      (case_no,)).fetchone()
        facts = CaseFacts.from_json(text)
        return CaseDetail(row, events, facts, self.board.catalogue.get(facts.item_code))

    def departments(self) -> dict[str, str]:
        """Department code → name, from the catalogue (joint items' participants included)."""
        return departments(self.board.catalogue)

    def items(self) -> list[tuple[str, str]]:
        return sorted((i.item_code, i.name) for i in self.board.catalogue.values())


@dataclass
class CaseDetail:
    row: CaseRow
    events: list[dict[str, Any]]
    facts: CaseFacts
    item: Any  # CatalogueItem | None


def _regroup(pairs: Counter) -> dict[Any, Counter]:
    """{(group, light): n} → {group: Counter(light: n)}."""
    result: dict[Any, Counter] = {}
    for (group, light), count in pairs.items():
        result.setdefault(group, Counter())[light] = count
    return result


# -- alerts (the lifecycle is edge/supervision/alerts.py's; the board only counts them) -------------
def active_alerts(store) -> tuple[int, list[str]]:
    """How many alerts are active (not closed or resolved), and the case number of each one
    that is on a case."""
    from edge.supervision import ACTIVE_STATES

    # One row, not one per alert: fetching a row lets go of Python's interpreter lock, and
    # while a platform pushes a backlog each row then waits its turn behind the ingest threads
    # (with thousands of alerts, the board's update took hundreds of ms; issue 22).
    marks = ",".join("?" * len(ACTIVE_STATES))
    row = store.query(f"select count(*) as total, group_concat(case_no, char(31)) as cases"
                      f" from alerts where state in ({marks})", ACTIVE_STATES)[0]
    return row["total"], row["cases"].split("\x1f") if row["cases"] else []
