"""Joint cases (联办件): each participating department's share, folded and judged on its own clock.

The lead department (牵头部门, the case's ``dept_code``) takes the case; the catalogue item lists
the participating departments (``joint_depts``) with their own limits. A department's clock
starts at the lead's ``分送`` to it (or at 受理 when the platform sends none) and stops at its
``反馈``; its events run in parallel with the lead's and the other shares, so they are never a
stage out of order for the lead. The counting convention is the one of every deadline: the start
day is not counted, pauses (the case's and the share's own 补正/特别程序) remove working days, an
approved 延期 of the department adds its days.

A share in the facts is a small dict (``new_share``): ``sent_on`` and ``back_on`` (ISO dates),
``stage`` (its last main stage), ``pauses``, ``extension_days``, ``anomalies`` and ``events``.

Example::

    >>> import datetime as dt
    >>> from standard.calendar import WorkCalendar
    >>> shares = {"440605ZJJ": new_share()}
    >>> fold_dispatch(shares, "440605ZJJ", "2026-11-02")
    >>> [share] = judge_shares(shares, [], dt.date(2026, 11, 2), None, None, WorkCalendar(),
    ...                        dt.date(2026, 11, 3).toordinal(), 1)[0]
    >>> share.light, share.reasons
    ('unknown', ['事项目录中没有该事项，无法判断该部门的时限'])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.counting import pause_grows, pause_intervals, paused_between
from standard.records import STAGE_RANK, CatalogueItem

CORRECTION = "补正"
FEEDBACK = "反馈"
_PAUSE_START = {"补正开始": True, "特别程序开始": False}
_PAUSE_END = {"补正结束": True, "特别程序结束": False}
_REFUSALS = frozenset({"不予受理", "不予许可"})
_fromiso = dt.date.fromisoformat
_fromordinal = dt.date.fromordinal
STATE_NAMES = {"waiting": "办理中", "done": "已反馈", "late": "超时"}


def new_share() -> dict[str, Any]:
    return {"events": 0}


def copy_shares(shares: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A copy whose shares, lists and pauses can be changed without touching ``shares``."""
    out = {}
    for dept, share in shares.items():
        copied = dict(share)
        if "pauses" in share:
            copied["pauses"] = [pause.copy() for pause in share["pauses"]]
        if "anomalies" in share:
            copied["anomalies"] = share["anomalies"].copy()
        out[dept] = copied
    return out


def _flag(share: dict[str, Any], reason: str) -> None:
    found = share.setdefault("anomalies", [])
    if reason not in found:
        found.append(reason)


def fold_dispatch(shares: dict[str, dict[str, Any]], dept: str, day: str) -> None:
    """分送 from the lead to ``dept`` on ``day`` (ISO): its clock starts (a repeat keeps the first)."""
    share = shares.setdefault(dept, new_share())
    share.setdefault("sent_on", day)


def fold_share_event(shares: dict[str, dict[str, Any]], event: Any, kind: str, day: str,
                     accepted: bool) -> None:
    """One event of a participating department (its ``dept_code``) into its share.

    ``accepted`` says whether the lead has reported 受理 yet: a 反馈 before it is flagged.
    """
    share = shares.setdefault(event.dept_code, new_share())
    share["events"] = share.get("events", 0) + 1
    if kind == FEEDBACK:
        if not accepted:
            _flag(share, "程序异常：受理前即反馈")
        share.setdefault("back_on", day)
    elif kind in STAGE_RANK:
        share["stage"] = kind
    elif kind in _PAUSE_START:
        pause_kind = CORRECTION if _PAUSE_START[kind] else str(event.procedure_kind)
        pauses = share.setdefault("pauses", [])
        if not any(p[0] == pause_kind and p[2] is None for p in pauses):
            pauses.append([pause_kind, day, None])
    elif kind in _PAUSE_END:
        pause_kind = CORRECTION if _PAUSE_END[kind] else str(event.procedure_kind)
        for pause in share.get("pauses", ()):
            if pause[0] == pause_kind and pause[2] is None:
                pause[2] = day
                break
        else:
            _flag(share, f"程序异常：{kind}没有对应的开始")
    elif kind == "延期":
        share["extension_days"] = share.get("extension_days", 0) + (event.extension_days or 0)
    elif kind in _REFUSALS and not event.reason:
        _flag(share, f"无理由拒绝：{kind}未说明理由")


@dataclass(slots=True)
class ShareStatus:
    """One participating department's share, judged at one moment."""

    dept_code: str
    dept_name: str | None
    days: int | None  # its limit in working days; None when the catalogue does not give one
    started_on: dt.date | None
    back_on: dt.date | None
    deadline: dt.date | None
    remaining_working_days: int | None
    light: str  # green | yellow | red | unknown
    state: str  # waiting | done | late
    reasons: list[str] = field(default_factory=list)
    late_days: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: dates as ISO strings."""
        return {
            "dept_code": self.dept_code, "dept_name": self.dept_name, "days": self.days,
            "started_on": self.started_on.isoformat() if self.started_on else None,
            "back_on": self.back_on.isoformat() if self.back_on else None,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "remaining_working_days": self.remaining_working_days,
            "light": self.light, "state": self.state, "reasons": list(self.reasons),
        }


def participants(item: CatalogueItem | None) -> frozenset[str]:
    """The item's participating department codes (empty for an item that is not joint)."""
    if item is None or not item.joint_depts:
        return frozenset()
    return frozenset(dept.dept_code for dept in item.joint_depts)


def judge_shares(
    shares: dict[str, dict[str, Any]], case_pauses: list, accepted_on: dt.date | None,
    finished_on: dt.date | None, item: CatalogueItem | None, calendar: WorkCalendar,
    today: int, yellow_within: int,
) -> tuple[list[ShareStatus], int | None]:
    """Every share of a case: the item's listed departments first, in catalogue order, then any
    other department that reported events. ``finished_on`` is None while the case is open.

    Returns the shares and the first later day (ordinal) on which one can change by itself.
    """
    listed = {dept.dept_code: dept for dept in item.joint_depts} if item is not None else {}
    order = list(listed) + [dept for dept in shares if dept not in listed]
    out, wake = [], None
    for dept in order:
        share = shares.get(dept) or {}
        joint = listed.get(dept)
        status, share_wake = _judge_one(
            dept, share, joint.dept_name if joint else None, joint.days if joint else None,
            case_pauses, accepted_on, finished_on, item is not None, calendar, today,
            yellow_within)
        out.append(status)
        if share_wake is not None and (wake is None or share_wake < wake):
            wake = share_wake
    return out, wake


def _judge_one(
    dept: str, share: dict[str, Any], name: str | None, days: int | None, case_pauses: list,
    accepted_on: dt.date | None, finished_on: dt.date | None, item_known: bool,
    calendar: WorkCalendar, today: int, yellow_within: int,
) -> tuple[ShareStatus, int | None]:
    started = _fromiso(share["sent_on"]) if "sent_on" in share else accepted_on
    back = _fromiso(share["back_on"]) if "back_on" in share else None
    stop = back or finished_on
    status = ShareStatus(dept, name, days, started, back, None, None, "green",
                         "done" if stop else "waiting", list(share.get("anomalies", ())))
    if not item_known:
        status.reasons.append("事项目录中没有该事项，无法判断该部门的时限")
    elif days is None:
        status.reasons.append(f"{dept}不是事项目录所列的协办部门，无法判断其时限")
    if days is None or started is None:
        status.light = ("red" if share.get("anomalies") else "unknown" if days is None
                        else "green")
        return status, None
    day = stop.toordinal() if stop else today
    pauses = case_pauses + share.get("pauses", [])
    start = started.toordinal()
    wake = None
    try:
        spans = pause_intervals(pauses, day) if pauses else []
        added = share.get("extension_days", 0) + (paused_between(calendar, spans, start, day)
                                                   if spans else 0)
        due = calendar.add_workdays_ordinal(start, days + added)
        status.deadline = _fromordinal(due)
        if day <= due:
            left = calendar.count_workdays_ordinal(day, due)
        else:
            status.late_days = calendar.count_workdays_ordinal(due, day)
            left = -status.late_days
            status.state = "late"
            status.reasons.insert(0, _late_reason(status, stop is not None and back is not None))
        status.remaining_working_days = left
        if stop is None and 0 <= left <= yellow_within:
            status.reasons.append(f"临近办理时限：剩余{left}个工作日")
        if stop is None:
            wake = _share_wake(calendar, pauses, day, due, left, yellow_within)
    except CalendarUnknownYear as exc:
        status.deadline = status.remaining_working_days = None
        status.reasons.append(f"工作日历缺少{exc.year}年数据，无法计算时限")
        status.light = "red" if share.get("anomalies") else "unknown"
        return status, (today + 1 if stop is None else None)
    if status.state == "late" or share.get("anomalies"):
        status.light = "red"
    elif stop is None and status.remaining_working_days <= yellow_within:
        status.light = "yellow"
    return status, wake


def _late_reason(status: ShareStatus, fed_back: bool) -> str:
    late = status.late_days
    if fed_back:
        return f"反馈晚于办理时限{late}个工作日（时限{status.days}个工作日，{status.deadline}截止）"
    if late:
        return f"已超过办理时限{late}个工作日（时限{status.days}个工作日，{status.deadline}截止）"
    return f"已超过办理时限（时限{status.days}个工作日，{status.deadline}截止）"


def _share_wake(calendar: WorkCalendar, pauses: list, day: int, due: int, left: int,
                window: int) -> int:
    """The first later day on which a waiting share's light or reasons can change by itself."""
    if day == due:
        return day + 1
    if left < 0 or left <= window or (pauses and pause_grows(pauses, day)):
        return calendar.add_workdays_ordinal(day, 1)
    return calendar.subtract_workdays_ordinal(due, max(window, 0))
