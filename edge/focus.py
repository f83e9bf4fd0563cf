"""重点监察: monthly counts of 不予许可, 不予受理 and 补正 per department, so unusual rates stand out.

For each kind, a department's rate is its count over the cases it took in that month (distinct
cases with a 申请, 受理 or 不予受理 event; never less than the count itself). A department is
flagged (a yellow 重点监察 alert, subject ``dept:<code>:<YYYY-MM>:<kind>``) when it has at least
``min_count`` such events and its rate is at least ``factor`` times the median rate of the
district's departments, and above it.

Example::

    for row in focus_counts(conn, date(2026, 11, 20), FocusSettings()):
        print(row.dept_code, row.kind, row.count, f"{row.rate:.0%}", row.flagged)
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from edge.supervision import Finding
from standard.records import LOCAL_TZ

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


def focus_counts(conn, day: dt.date, settings: FocusSettings) -> list[FocusCount]:
    """Counts, rates and flags for the local month that contains ``day``."""
    first, following = month_bounds(day)
    types = sorted(set(INTAKE_EVENTS) | {KIND_EVENTS[kind] for kind in settings.kinds})
    marks = ",".join("?" * len(types))
    # Timestamps carry their own offset, so select a day either side and judge exactly below.
    rows = conn.execute(
        "select e.event_type, e.occurred_at, e.case_no, c.dept_code from case_events e"
        f" join cases c on c.case_no = e.case_no where e.event_type in ({marks})"
        " and e.occurred_at >= ? and e.occurred_at < ?",
        (*types, (first - dt.timedelta(days=1)).isoformat(),
         (following + dt.timedelta(days=1)).isoformat()))
    counts: dict[str, Counter] = defaultdict(Counter)
    intake: dict[str, set[str]] = defaultdict(set)
    wanted = {KIND_EVENTS[kind]: kind for kind in settings.kinds}
    for event_type, occurred_at, case_no, dept_code in rows:
        local = dt.datetime.fromisoformat(occurred_at).astimezone(LOCAL_TZ).date()
        if not first <= local < following:
            continue
        if event_type in INTAKE_EVENTS:
            intake[dept_code].add(case_no)
        if event_type in wanted:
            counts[dept_code][wanted[event_type]] += 1
    depts = sorted(set(intake) | set(counts))
    month = first.strftime("%Y-%m")
    out = []
    for kind in settings.kinds:
        rates = {}
        for dept in depts:
            count = counts[dept][kind]
            rates[dept] = count / max(len(intake[dept]), count, 1)
        median = statistics.median(rates.values()) if rates else 0.0
        for dept in depts:
            count, rate = counts[dept][kind], rates[dept]
            flagged = (count >= settings.min_count and rate > median
                       and rate >= settings.factor * median)
            out.append(FocusCount(dept, month, kind, count, len(intake[dept]), rate, median,
                                  flagged))
    return out


def focus_findings(conn, day: dt.date, settings: FocusSettings,
                   dept_names: dict[str, str]) -> list[Finding]:
    """A yellow 重点监察 finding for each flagged department and kind."""
    findings = []
    for row in focus_counts(conn, day, settings):
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
