"""Deadlines and lights: fold a case's events into compact facts, then judge the facts at a moment.

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
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pydantic_core

from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.counting import pause_grows, pause_intervals, paused_between
from standard.records import (
    LOCAL_TZ,
    STAGE_RANK,
    TERMINAL_EVENTS,
    CaseEvent,
    CaseType,
    CatalogueItem,
    EventType,
)
from standard.shares import (
    ShareStatus,
    copy_shares,
    fold_dispatch,
    fold_share_event,
    judge_shares,
)

FACTS_VERSION = 1
CORRECTION = "补正"
UNKNOWN_ITEM = "事项目录中没有该事项："  # the reason's prefix; the code follows
# Fallback limits (working days) when a case's item is missing from the catalogue.
FALLBACK_DAYS = {CaseType.JOINT.value: 45, CaseType.FORWARDED.value: 20}
NO_LIMIT_TYPES = frozenset({CaseType.SUPPLEMENT.value, CaseType.ANSWER.value})

_TERMINAL = frozenset(EventType(event).value for event in TERMINAL_EVENTS)
_ACCEPT_RANK = STAGE_RANK[EventType.ACCEPT.value]
_IMMEDIATE = CaseType.IMMEDIATE.value
_REFUSALS = frozenset({EventType.REFUSE_INTAKE.value, EventType.REFUSE_PERMIT.value})
_DISPATCH = EventType.DISPATCH.value
_FEEDBACK = EventType.FEEDBACK.value
_JOINT = CaseType.JOINT.value
_fromiso = dt.date.fromisoformat
_fromordinal = dt.date.fromordinal


@dataclass(slots=True)
class CaseFacts:
    """Everything the lights need about one case, folded from its events (one row per case).

    Dates in ``stage_started`` and ``pauses`` are ISO local date strings; a pause is
    ``[kind, start, end or None]`` with kind "补正" or the 特别程序 kind (e.g. "听证").
    ``shares`` holds a joint case's participating departments' shares by dept_code
    (standard/shares.py); everything else is the lead department's.
    """

    case_no: str
    item_code: str
    dept_code: str
    district_code: str
    case_type: str | None = None
    stage: str | None = None
    stage_rank: int = 0
    stage_started: dict[str, str] = field(default_factory=dict)
    accepted_on: dt.date | None = None
    pauses: list[list[str | None]] = field(default_factory=list)
    extension_days: int = 0
    fees: list[str] = field(default_factory=list)
    terminal: str | None = None
    finished_on: dt.date | None = None
    anomalies: list[str] = field(default_factory=list)
    window_no: int | None = None
    staff: str | None = None
    event_count: int = 0
    shares: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON with a version field; empty and default fields are left out.

        Written out field by field (not a loop over ``__slots__``): ingest serialises every
        touched case in every chunk, and the loop cost more than the encoding.
        """
        out: dict[str, object] = {
            "version": FACTS_VERSION, "case_no": self.case_no, "item_code": self.item_code,
            "dept_code": self.dept_code, "district_code": self.district_code,
        }
        if self.case_type is not None:
            out["case_type"] = self.case_type
        if self.stage is not None:
            out["stage"] = self.stage
        if self.stage_rank:
            out["stage_rank"] = self.stage_rank
        if self.stage_started:
            out["stage_started"] = self.stage_started
        if self.accepted_on is not None:
            out["accepted_on"] = self.accepted_on.isoformat()
        if self.pauses:
            out["pauses"] = self.pauses
        if self.extension_days:
            out["extension_days"] = self.extension_days
        if self.fees:
            out["fees"] = self.fees
        if self.terminal is not None:
            out["terminal"] = self.terminal
        if self.finished_on is not None:
            out["finished_on"] = self.finished_on.isoformat()
        if self.anomalies:
            out["anomalies"] = self.anomalies
        if self.window_no:
            out["window_no"] = self.window_no
        if self.staff is not None:
            out["staff"] = self.staff
        if self.event_count:
            out["event_count"] = self.event_count
        if self.shares:
            out["shares"] = self.shares
        return _dumps(out)

    @classmethod
    def from_json(cls, text: str) -> CaseFacts:
        """Inverse of ``to_json``."""
        raw = _loads(text)
        version = raw.pop("version", None)
        if version != FACTS_VERSION:
            raise ValueError(f"case facts version {version!r} is not supported (expected 1)")
        for name in ("accepted_on", "finished_on"):
            if name in raw:
                raw[name] = _fromiso(raw[name])
        return cls(**raw)

    def copy(self) -> CaseFacts:
        """A copy whose lists and dict can be changed without touching this one."""
        return CaseFacts(
            self.case_no, self.item_code, self.dept_code, self.district_code, self.case_type,
            self.stage, self.stage_rank, self.stage_started.copy(), self.accepted_on,
            [pause.copy() for pause in self.pauses] if self.pauses else [],
            self.extension_days, self.fees.copy(), self.terminal, self.finished_on,
            self.anomalies.copy(), self.window_no, self.staff, self.event_count,
            copy_shares(self.shares) if self.shares else {},
        )


# One encoder, built once: json.dumps builds a new one for every call with these options.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# pydantic's parser (already a dependency) reads facts three times faster than json.loads;
# a full rule pass parses every open case.
_loads = pydantic_core.from_json


def _flag(facts: CaseFacts, reason: str) -> None:
    if reason not in facts.anomalies:
        facts.anomalies.append(reason)


def _open_pause(facts: CaseFacts, kind: str) -> list[str | None] | None:
    for pause in facts.pauses:
        if pause[0] == kind and pause[2] is None:
            return pause
    return None


def _is_share_event(facts: CaseFacts, event: CaseEvent, kind: str,
                    joint: Collection[str]) -> bool:
    """True when the event belongs to a participating department's share of a joint case.

    That is an event of another department than the lead's, which the catalogue lists for the
    item (``joint``), or which the lead sent the case to, or which answers (反馈), or any other
    department's event on a case reported as 联办件.
    """
    dept = event.dept_code
    return dept != facts.dept_code and (
        dept in joint or dept in facts.shares or kind == _FEEDBACK
        or facts.case_type == _JOINT)


def apply_event(facts: CaseFacts | None, event: CaseEvent,
                joint: Collection[str] = ()) -> CaseFacts:
    """Fold one event into a copy of ``facts`` (None for a case's first event).

    Events are taken in the order the platform sent them. Anomalies are recorded, never
    rejected; fees are judged later, by ``evaluate``, against the catalogue. ``joint`` is the
    item's participating department codes (``standard.shares.participants``): their events go
    to their own shares, in parallel with the lead's stages.
    """
    if facts is None:
        facts = CaseFacts(event.case_no, event.item_code, event.dept_code, event.district_code)
    elif facts.case_no != event.case_no:
        raise ValueError(f"event {event.event_id} is for case {event.case_no}, not {facts.case_no}")
    else:
        facts = facts.copy()
    kind = str(event.event_type)
    day = event.local_date
    facts.event_count += 1
    if facts.case_type is None and event.case_type is not None:
        facts.case_type = str(event.case_type)
    if kind == EventType.FEE.value:
        facts.fees.append(str(event.fee_amount))
    if (facts.shares or joint or facts.case_type == _JOINT or kind == _FEEDBACK) and \
            _is_share_event(facts, event, kind, joint):
        fold_share_event(facts.shares, event, kind, day.isoformat(),
                         facts.accepted_on is not None)
        return facts
    facts.staff = event.actor.id
    if event.window_no is not None:
        facts.window_no = event.window_no
    if facts.terminal is not None:
        _flag(facts, f"程序异常：办结后仍有{kind}")
        return facts

    rank = STAGE_RANK.get(kind)
    if rank is not None:
        if rank <= facts.stage_rank:
            _flag(facts, f"程序异常：{kind}在{facts.stage}之后上报")
        else:
            if rank > _ACCEPT_RANK and facts.accepted_on is None:
                _flag(facts, f"程序异常：未受理即{kind}")
            if rank == _ACCEPT_RANK:
                facts.accepted_on = day
            facts.stage, facts.stage_rank = kind, rank
            facts.stage_started[kind] = day.isoformat()
    elif kind in (EventType.CORRECTION_START.value, EventType.SPECIAL_START.value):
        pause_kind = CORRECTION if kind == EventType.CORRECTION_START.value else str(event.procedure_kind)
        if _open_pause(facts, pause_kind) is None:  # a repeated start keeps the first
            facts.pauses.append([pause_kind, day.isoformat(), None])
    elif kind in (EventType.CORRECTION_END.value, EventType.SPECIAL_END.value):
        pause_kind = CORRECTION if kind == EventType.CORRECTION_END.value else str(event.procedure_kind)
        pause = _open_pause(facts, pause_kind)
        if pause is None:
            _flag(facts, f"程序异常：{kind}没有对应的开始")
        else:
            pause[2] = day.isoformat()
    elif kind == EventType.EXTENSION.value:
        facts.extension_days += event.extension_days or 0
    elif kind in _REFUSALS and not event.reason:
        _flag(facts, f"无理由拒绝：{kind}未说明理由")
    elif kind == _DISPATCH and event.to_dept_code != facts.dept_code:
        fold_dispatch(facts.shares, event.to_dept_code, day.isoformat())

    if kind in _TERMINAL:
        facts.terminal = kind
        facts.finished_on = day
    return facts


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
