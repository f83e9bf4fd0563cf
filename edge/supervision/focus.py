"""重点监察: monthly counts of 不予许可, 不予受理 and 补正 per department, so unusual rates stand out.

For each kind, a department's rate is its count over the cases it took in that month (distinct
cases with a 申请, 受理 or 不予受理 event; never less than the count itself). A department is
flagged (a yellow 重点监察 alert, subject ``dept:<code>:<YYYY-MM>:<kind>``) when it has at least
``min_count`` such events and its rate is at least ``factor`` times the median rate of the
district's departments, and above it.

Example::

    for row in FocusCounter(FocusSettings()).counts(conn, date(2026, 11, 20)):
        print(row.dept_code, row.kind, row.count, f"{row.rate:.0%}", row.flagged)
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from edge.supervision.alerts import Finding

FOCUS_RULE = "重点监察"
# The event each kind counts; 补正 is counted when it starts.
KIND_EVENTS = {"不予许可": "不予许可", "不予受理": "不予受理", "补正": "补正开始"}
INTAKE_EVENTS = ("申请", "受理", "不予受理")


@dataclass(frozen=True)
class FocusSettings:
    kinds: tuple[str, ...] = ("不予许可", "不予受理", "补正")
    factor: float = 2.0
    min_count: int = 5


@dataclass(frozen=True)
class FocusCount:
    dept_code: str
    month: str  # YYYY-MM, local time
    kind: str
    count: int
    intake: int
    rate: float
    median: float
    flagged: bool


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    """First day of ``day``'s month and of the next month."""
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following


class FocusCounter:
    """The month's counts, kept up to date from the case events added since the last call.

    The first call of a month reads the month once; later calls read only newer rows (by
    rowid), so the every-minute pass costs next to nothing.
    """

    def __init__(self, settings: FocusSettings):
        self.settings = settings
        self._wanted = {KIND_EVENTS[kind]: kind for kind in settings.kinds}
        self._types = sorted(set(INTAKE_EVENTS) | set(self._wanted))
        self._month = ""
        self._last_rowid = 0
        self._counts: dict[str, Counter] = defaultdict(Counter)
        self._intake: dict[str, set[str]] = defaultdict(set)

    def counts(self, conn, day: dt.date) -> list[FocusCount]:
        """Counts, rates and flags for the local month that contains ``day``."""
        first, following = month_bounds(day)
        month = first.strftime("%Y-%m")
        if month != self._month:
            self._month, self._last_rowid = month, 0
            self._counts, self._intake = defaultdict(Counter), defaultdict(set)
        (last,) = conn.execute("select coalesce(max(rowid), 0) from case_events").fetchone()
        if last > self._last_rowid:
            self._read(conn, first, following, last)
        return self._rates(month)

    def _read(self, conn, first: dt.date, following: dt.date, last: int) -> None:
        marks = ",".join("?" * len(self._types))
        # "+" keeps SQLite on the rowid range; strftime converts each timestamp's own offset
        # to +08:00, so the month is exact.
        rows = conn.execute(
            "select c.dept_code, e.event_type, e.case_no from case_events e join cases c"
            " on c.case_no = e.case_no where e.rowid > ? and e.rowid <= ?"
            f" and +e.event_type in ({marks}) and +e.occurred_at >= ? and +e.occurred_at < ?"
            " and strftime('%Y-%m', e.occurred_at, '+8 hours') = ?",
            (self._last_rowid, last, *self._types, (first - dt.timedelta(days=1)).isoformat(),
             (following + dt.timedelta(days=1)).isoformat(), self._month))
        for dept_code, event_type, case_no in rows:
            if event_type in INTAKE_EVENTS:
                self._intake[dept_code].add(case_no)
            kind = self._wanted.get(event_type)
            if kind:
                self._counts[dept_code][kind] += 1
        self._last_rowid = last

    def _rates(self, month: str) -> list[FocusCount]:
        depts = sorted(set(self._intake) | set(self._counts))
        out = []
        for kind in self.settings.kinds:
            rates = {}
            for dept in depts:
                count = self._counts[dept][kind]
                rates[dept] = count / max(len(self._intake[dept]), count, 1)
            median = statistics.median(rates.values()) if rates else 0.0
            for dept in depts:
                count, rate = self._counts[dept][kind], rates[dept]
                flagged = (count >= self.settings.min_count and rate > median
                           and rate >= self.settings.factor * median)
                out.append(FocusCount(dept, month, kind, count, len(self._intake[dept]), rate,
                                      median, flagged))
        return out


def focus_counts(conn, day: dt.date, settings: FocusSettings) -> list[FocusCount]:
    """Counts, rates and flags for the local month that contains ``day`` (read afresh)."""
    return FocusCounter(settings).counts(conn, day)


def focus_findings(counts: list[FocusCount], settings: FocusSettings,
                   dept_names: dict[str, str]) -> list[Finding]:
    """A yellow 重点监察 finding for each flagged department and kind."""
    findings = []
    for row in counts:
        if not row.flagged:
            continue
        name = dept_names.get(row.dept_code, row.dept_code)
        year, month = row.month.split("-")
        detail = (f"{name}{year}年{int(month)}月{row.kind}{row.count}件，收件{row.intake}件，"
                  f"比率{row.rate:.1%}，全区部门中位数{row.median:.1%}"
                  f"（阈值：{settings.factor:g}倍且不少于{settings.min_count}件）")
        findings.append(Finding(f"dept:{row.dept_code}:{row.month}:{row.kind}", FOCUS_RULE,
                                "yellow", detail, None, row.dept_code))
    return findings
