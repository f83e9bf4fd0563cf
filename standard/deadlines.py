"""Deadlines and lights: judge a case's facts (standard/facts.py) at a moment.

The counting convention (DESIGN.md, "Counting convention") is the one rule for box, hub and
portal: the 受理 day is not counted, a limit of N working days ends at the end of the N-th
working day after it, pauses (补正, 特别程序) remove the working days after their start up to and
including their end, an approved 延期 adds its days. ``docs/deadlines.md`` has worked examples.

Example::

    >>> import datetime as dt
    >>> from standard.calendar import WorkCalendar
    >>> facts = CaseFacts(case_no="NH2026000001", item_code="440605-JY-001", dept_code="NHSCJ",
    ...                   district_code="440605", case_type="承诺件",
    ...                   accepted_on=dt.date(2026, 11, 2))
    >>> status = evaluate(facts, None, WorkCalendar(),
    ...                   dt.datetime(2026, 11, 3, 10, 0, tzinfo=LOCAL_TZ), LightSettings())
    >>> status.light, status.reasons
    ('unknown', ['事项目录中没有该事项：440605-JY-001'])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.counting import pause_grows, pause_intervals, paused_between
from standard.facts import CORRECTION, FACTS_VERSION, CaseFacts, apply_event
from standard.records import LOCAL_TZ, STAGE_RANK, CaseType, CatalogueItem
from standard.shares import ShareStatus, judge_shares

# CaseFacts and apply_event live in standard/facts.py; callers keep importing them from here.
__all__ = ["CORRECTION", "FACTS_VERSION", "UNKNOWN_ITEM", "CaseFacts", "CaseStatus",
           "LightSettings", "apply_event", "evaluate", "evaluate_many", "evaluate_on",
           "local_day"]

UNKNOWN_ITEM = "事项目录中没有该事项："  # the reason's prefix; the code follows
# Fallback limits (working days) when a case's item is missing from the catalogue.
FALLBACK_DAYS = {CaseType.JOINT.value: 45, CaseType.FORWARDED.value: 20}
NO_LIMIT_TYPES = frozenset({CaseType.SUPPLEMENT.value, CaseType.ANSWER.value})

_IMMEDIATE = CaseType.IMMEDIATE.value
_fromiso = dt.date.fromisoformat
_fromordinal = dt.date.fromordinal


@dataclass(slots=True)
class LightSettings:
    """Thresholds for yellow lights, in working days (the box's ``[lights]`` section)."""

    yellow_within_working_days: int = 1
    stage_yellow_within_working_days: int = 0


@dataclass(slots=True)
class CaseStatus:
    """A case judged at one moment."""

    case_no: str
    deadline: dt.date | None
    legal_deadline: dt.date | None
    remaining_working_days: int | None
    light: str  # green | yellow | red | unknown
    reasons: list[str]
    error: str | None = None
    outcome: str | None = None  # None while open; early | on_time | late once finished
    stage: str | None = None
    # The first later day on which light, reasons or deadlines can change without a new
    # event (None: only an event can change them). remaining_working_days still counts down
    # every working day while it is above the yellow window.
    changes_on: dt.date | None = None
    # A joint case's participating departments (standard/shares.py); empty for other cases.
    # The fields above are the lead department's own.
    departments: list[ShareStatus] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: dates as ISO strings; ``departments`` only for a joint case."""
        out: dict[str, object] = {
            "case_no": self.case_no,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "legal_deadline": self.legal_deadline.isoformat() if self.legal_deadline else None,
            "remaining_working_days": self.remaining_working_days,
            "light": self.light,
            "reasons": list(self.reasons),
            "error": self.error,
            "outcome": self.outcome,
            "stage": self.stage,
        }
        if self.departments:
            out["departments"] = [share.to_dict() for share in self.departments]
        return out


class _UnknownLimit(Exception):
    """No catalogue item and no fallback limit for the case type."""


def _limits_for(case_type: str | None, item: CatalogueItem | None) -> tuple[int, int] | None:
    """(promised, legal) working days for a case, or None when the case type has no limit.

    即办件 have a promised limit of 0: due on the 受理 day (or the next working day).
    Raises _UnknownLimit when nothing gives a limit.
    """
    if case_type in NO_LIMIT_TYPES:
        return None
    if case_type == _IMMEDIATE:
        return 0, (item.legal_days if item is not None else 0)
    if item is not None:
        return item.promised_days, item.legal_days
    if case_type in FALLBACK_DAYS:
        return FALLBACK_DAYS[case_type], FALLBACK_DAYS[case_type]
    raise _UnknownLimit


def _fee_reason(facts: CaseFacts, item: CatalogueItem) -> str | None:
    charged = sum((Decimal(fee) for fee in facts.fees), Decimal(0))
    standard = Decimal(item.fee_yuan)
    if charged == standard:
        return None
    return f"违规收费：收取{charged:.2f}元，标准{item.fee_yuan}元"


def _stage_reasons(
    facts: CaseFacts, stage_days: dict, calendar: WorkCalendar, spans: list[tuple[int, int]],
    day: int, is_open: bool, settings: LightSettings, red: list[str], yellow: list[str],
) -> tuple[int, int] | None:
    """环节超时 (red) and 环节临近时限 (yellow, current stage of an open case only).

    Returns when the current stage's reasons of an open case can next change, as
    ``(ordinal, n)`` for "n working days after ordinal": the next working day when a reason
    already counts its days, else the day its count reaches a limit. None when they cannot.
    """
    started = sorted((STAGE_RANK[name], name, start) for name, start in facts.stage_started.items())
    wake = None
    for index, (_rank, name, start) in enumerate(started):
        limit = stage_days.get(name)
        if limit is None:
            continue
        current = index + 1 == len(started)
        begin = _fromiso(start).toordinal()
        end = day if current else _fromiso(started[index + 1][2]).toordinal()
        paused = paused_between(calendar, spans, begin, end) if spans else 0
        used = calendar.count_workdays_ordinal(begin, end) - paused
        warn_at = limit - settings.stage_yellow_within_working_days
        if used > limit:
            red.append(f"环节超时：{name}已用{used}个工作日，时限{limit}个工作日")
        elif current and is_open and used >= warn_at:
            yellow.append(f"环节临近时限：{name}已用{used}个工作日，时限{limit}个工作日")
        elif current and is_open:
            wake = (begin, min(warn_at, limit + 1) + paused)
            continue
        if current and is_open:
            wake = (day, 1)
    return wake


def _deadlines(facts: CaseFacts, limits: tuple[int, int], calendar: WorkCalendar,
               spans: list[tuple[int, int]], day: int) -> tuple[int, int | None]:
    """(promised, legal) deadline ordinals as of ``day``; legal is None in an unknown year."""
    accepted = facts.accepted_on.toordinal()
    paused = paused_between(calendar, spans, accepted, day) if spans else 0
    added = facts.extension_days + paused
    due = calendar.add_workdays_ordinal(accepted, limits[0] + added)
    # The legal limit only matters once the (shorter) promised one has passed, so a legal
    # deadline in a year the calendar does not know yet is no reason to fail.
    try:
        legal_due = calendar.add_workdays_ordinal(accepted, limits[1] + added)
    except CalendarUnknownYear:
        legal_due = None
    return due, legal_due


def _next_change(
    facts: CaseFacts, calendar: WorkCalendar, today: int, due: int | None, legal_due: int | None,
    left: int | None, stage_wake: tuple[int, int] | None, settings: LightSettings,
) -> dt.date | None:
    """The first day after ``today`` on which an open case's status can change by itself.

    The status only moves on working days, except that the day after a deadline is already
    past it. With no pause running and outside the yellow windows, it stays as it is (but
    for the remaining count) until the promised deadline or the current stage's limit nears.
    """
    if due is None and stage_wake is None:
        return None
    if today in (due, legal_due):
        return _fromordinal(today + 1)
    window = max(settings.yellow_within_working_days, 0)
    try:
        if (facts.pauses and pause_grows(facts.pauses, today)) or (left is not None and left <= window):
            return _fromordinal(calendar.add_workdays_ordinal(today, 1))
        wakes = [calendar.add_workdays_ordinal(*stage_wake)] if stage_wake else []
        if due is not None:
            wakes.append(calendar.subtract_workdays_ordinal(due, window))
        return _fromordinal(min(wakes))
    except CalendarUnknownYear:
        return _fromordinal(today + 1)


def evaluate_on(
    facts: CaseFacts, item: CatalogueItem | None, calendar: WorkCalendar, today: dt.date,
    settings: LightSettings,
) -> CaseStatus:
    """``evaluate`` on the hall's local day ``today`` (callers judging many cases at once)."""
    red: list[str] = []
    unknown: list[str] = []
    yellow: list[str] = []
    is_open = facts.terminal is None
    day = (today if is_open else (facts.finished_on or today)).toordinal()
    case_type = facts.case_type or (item.case_type if item is not None else None)
    if item is None:  # fail closed: whatever the fallback limits say, the case is not judged
        unknown.append(f"{UNKNOWN_ITEM}{facts.item_code}")
    try:
        limits = _limits_for(case_type, item)
    except _UnknownLimit:
        limits = None

    deadline = legal_deadline = remaining = outcome = error = changes_on = None
    departments: list[ShareStatus] = []
    try:
        time_red: list[str] = []
        time_yellow: list[str] = []
        spans = pause_intervals(facts.pauses, day) if facts.pauses else []
        due = legal_due = stage_wake = None
        if facts.accepted_on is not None and limits is not None:
            due, legal_due = _deadlines(facts, limits, calendar, spans, day)
            deadline = _fromordinal(due)
            legal_deadline = _fromordinal(legal_due) if legal_due is not None else None
            if day <= due:
                remaining = calendar.count_workdays_ordinal(day, due)
            else:
                late = calendar.count_workdays_ordinal(due, day)
                remaining = -late
                time_red.append(f"已超过承诺时限{late}个工作日" if late
                                else f"已超过承诺时限（{deadline}截止）")
                if legal_due is not None and day > legal_due:
                    time_red.append("已超过法定时限")
            if not is_open:
                outcome = "early" if day < due else "on_time" if day == due else "late"
            elif day <= due and remaining <= settings.yellow_within_working_days:
                time_yellow.append(f"临近承诺时限：剩余{remaining}个工作日")
        if item is not None and item.stage_days and facts.stage_started:
            stage_wake = _stage_reasons(facts, item.stage_days, calendar, spans, day, is_open,
                                        settings, time_red, time_yellow)
        red.extend(time_red)
        yellow.extend(time_yellow)
        if is_open:
            changes_on = _next_change(facts, calendar, day, due, legal_due, remaining, stage_wake,
                                      settings)
    except CalendarUnknownYear as exc:
        deadline = legal_deadline = remaining = outcome = None
        error = str(exc)
        unknown.append(f"工作日历缺少{exc.year}年数据，无法计算时限")
        changes_on = _fromordinal(day + 1) if is_open else None
    if facts.shares or (item is not None and item.joint_depts):
        departments, share_wake = judge_shares(
            facts.shares, facts.pauses, facts.accepted_on, None if is_open else facts.finished_on,
            item, calendar, today.toordinal(), settings.yellow_within_working_days)
        if is_open and share_wake is not None:
            wake_on = _fromordinal(share_wake)
            changes_on = wake_on if changes_on is None else min(changes_on, wake_on)

    if item is not None and facts.fees:
        fee_reason = _fee_reason(facts, item)
        if fee_reason:
            red.append(fee_reason)
    red.extend(facts.anomalies)

    if red:
        light = "red"
    elif unknown:
        light = "unknown"
    elif yellow and is_open:
        light = "yellow"
    else:
        light = "green"
    return CaseStatus(
        facts.case_no, deadline, legal_deadline, remaining, light,
        red + unknown + (yellow if is_open else []), error, outcome, facts.stage, changes_on,
        departments,
    )


def local_day(at: dt.datetime) -> dt.date:
    """The hall's local date (+08:00) of an aware moment."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at needs a time zone, e.g. datetime(..., tzinfo=LOCAL_TZ)")
    return at.astimezone(LOCAL_TZ).date()


def evaluate(
    facts: CaseFacts, item: CatalogueItem | None, calendar: WorkCalendar, at: dt.datetime,
    settings: LightSettings,
) -> CaseStatus:
    """Judge one case at the aware moment ``at``: deadline, remaining working days, light, reasons.

    Never raises for data problems: an unknown item or calendar year gives light "unknown".
    """
    return evaluate_on(facts, item, calendar, local_day(at), settings)


def evaluate_many(
    rows: Iterable[tuple[CaseFacts, CatalogueItem | None]], calendar: WorkCalendar,
    at: dt.datetime, settings: LightSettings,
) -> list[CaseStatus]:
    """``evaluate`` for many cases at one moment."""
    today = local_day(at)
    return [evaluate_on(facts, item, calendar, today, settings) for facts, item in rows]
