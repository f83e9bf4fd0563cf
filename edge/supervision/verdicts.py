"""The rules themselves: what a judged case is found to be (a finding per rule and subject).

A rule is a small named function from a case (facts, status on the pass's day, catalogue item)
to a detail text, or None. :func:`case_findings` runs the enabled rules on the case as the lead
department's and, for a joint case (联办件), on each participating department's share: a late
share is that department's own 超期 (subject ``case:<no>:dept:<code>``, its ``dept_code``), so
its cards and notices go to it, not to the lead.

Example::

    case = CaseView(facts, board.status(facts, today), catalogue.get(facts.item_code))
    findings = case_findings(case, CASE_RULES.values(), RuleSettings())
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from edge.supervision.alerts import Finding
from edge.supervision.config import RULE_NAMES
from edge.supervision.focus import FOCUS_RULE
from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.deadlines import UNKNOWN_ITEM, CaseFacts, CaseStatus
from standard.records import STAGE_RANK, CatalogueItem
from standard.shares import ShareStatus

CALENDAR_GAP = "工作日历缺少"  # how a reason names a year the calendar does not know


@dataclass(frozen=True)
class RuleSettings:
    """Thresholds from ``[rules]`` (see edge/supervision/config.py)."""

    near_deadline_working_days: int = 1
    required_stages: tuple[str, ...] = ("受理", "承办", "审核", "批准")
    skip_check_exempt_case_types: frozenset[str] = frozenset({"即办件"})


class CaseView(NamedTuple):
    """What a rule sees: a case's facts, its status on the pass's day, its catalogue item.

    Rules depend on the day only through ``status``, and on ``remaining_working_days`` only
    within ``near_deadline_working_days``: the engine re-judges a case when either can change.
    """

    facts: CaseFacts
    status: CaseStatus
    item: CatalogueItem | None


@dataclass(frozen=True)
class CaseRule:
    name: str
    level: str  # yellow | red
    description: str  # Chinese, shown to supervisors
    check: Callable[[CaseView, RuleSettings], str | None]


def _reasons(case: CaseView, prefix: str) -> list[str]:
    reasons = case.status.reasons
    if not reasons:  # most cases: no need to build anything
        return []
    return [reason.removeprefix(prefix) for reason in reasons if reason.startswith(prefix)]


def near_deadline(case: CaseView, settings: RuleSettings) -> str | None:
    """临近时限: an open case with 0..N working days left before its promised deadline."""
    left = case.status.remaining_working_days
    within = settings.near_deadline_working_days
    if case.facts.terminal is None and left is not None and 0 <= left <= within:
        return f"距承诺办结日期{case.status.deadline}还剩{left}个工作日"
    return None


def stage_near_limit(case: CaseView, settings: RuleSettings) -> str | None:
    """环节临近时限: the current stage is about to pass its own limit."""
    return "；".join(_reasons(case, "环节临近时限：")) or None


def overdue(case: CaseView, settings: RuleSettings) -> str | None:
    """超期: an open case past the promised deadline (承诺时限)."""
    if case.facts.terminal is not None:
        return None
    late = [r for r in case.status.reasons if r.startswith("已超过承诺时限")]
    return f"{late[0]}（承诺办结日期{case.status.deadline}）" if late else None


def finished_late(case: CaseView, settings: RuleSettings) -> str | None:
    """超期办结: finished after the promised deadline; it stays, nothing later can cure it."""
    status = case.status
    if status.outcome != "late":
        return None
    late = -status.remaining_working_days
    by = f"超过承诺时限{late}个工作日" if late else "晚于承诺办结日期"
    return f"{case.facts.finished_on}{case.facts.terminal}，{by}（承诺办结日期{status.deadline}）"


def over_legal_limit(case: CaseView, settings: RuleSettings) -> str | None:
    """超法定时限: past the legal limit (法定时限), graver than 超期."""
    if "已超过法定时限" in case.status.reasons:
        return f"已超过法定时限（法定办结日期{case.status.legal_deadline}）"
    return None


def stage_overtime(case: CaseView, settings: RuleSettings) -> str | None:
    """环节超时: a stage past its own limit, even when the case as a whole is on time."""
    return "；".join(_reasons(case, "环节超时：")) or None


def fee_mismatch(case: CaseView, settings: RuleSettings) -> str | None:
    """违规收费: fees differ from the catalogue standard (or any fee on a free item)."""
    return "；".join(_reasons(case, "违规收费：")) or None


def skipped_stages(case: CaseView, settings: RuleSettings) -> list[str]:
    """Required stages the case went past without reporting them (受理 → 批准 skips 审核)."""
    facts = case.facts
    case_type = facts.case_type or (case.item.case_type if case.item else None)
    if case_type in settings.skip_check_exempt_case_types:
        return []
    return [stage for stage in settings.required_stages
            if STAGE_RANK[stage] < facts.stage_rank and stage not in facts.stage_started]


def procedure_anomaly(case: CaseView, settings: RuleSettings) -> str | None:
    """程序异常: a stage out of order, skipped, reported after the end, or 办结 without 受理."""
    found = _reasons(case, "程序异常：")
    found += [f"跳过{stage}环节" for stage in skipped_stages(case, settings)]
    return "；".join(found) or None


def refusal_without_reason(case: CaseView, settings: RuleSettings) -> str | None:
    """无理由拒绝: 不予受理 or 不予许可 without a written reason."""
    return "；".join(_reasons(case, "无理由拒绝：")) or None


def calendar_gap(case: CaseView, settings: RuleSettings) -> str | None:
    """日历缺失: the deadline falls in a year the working-day calendar does not know."""
    if case.status.error and "calendar" in case.status.error:
        gaps = [r for r in case.status.reasons if r.startswith(CALENDAR_GAP)]
        return "；".join(gaps) or case.status.error
    return None


def item_missing(case: CaseView, settings: RuleSettings) -> str | None:
    """事项缺失: the case's item is not in the catalogue, so it cannot be judged (fails closed)."""
    if case.item is None:
        return f"{UNKNOWN_ITEM}{case.facts.item_code}，办件的时限和收费无法判断，请更新事项目录"
    return None


CASE_RULES: dict[str, CaseRule] = {rule.name: rule for rule in (
    CaseRule("临近时限", "yellow", "承诺办结日期前不超过规定工作日仍未办结（黄灯预警）", near_deadline),
    CaseRule("环节临近时限", "yellow", "当前环节即将超过该环节时限（黄灯预警）", stage_near_limit),
    CaseRule("超期", "red", "超过承诺时限仍未办结；联办件的协办部门超过本部门时限（红灯）", overdue),
    CaseRule("超期办结", "red", "办结时已超过承诺时限，记录保留、不能消除（红灯）", finished_late),
    CaseRule("超法定时限", "red", "超过法定时限（红灯，较超期更为严重）", over_legal_limit),
    CaseRule("环节超时", "red", "某一环节超过该环节时限，即使办件总体未超期（红灯）", stage_overtime),
    CaseRule("违规收费", "red", "收费金额与事项目录标准不符，或对不收费事项收费（红灯）", fee_mismatch),
    CaseRule("程序异常", "red", "环节缺失、顺序颠倒、办结后仍有操作或未受理即办结（红灯）", procedure_anomaly),
    CaseRule("无理由拒绝", "red", "不予受理或不予许可未说明理由（红灯）", refusal_without_reason),
    CaseRule("日历缺失", "red", "时限落在工作日历未覆盖的年份，无法计算（红灯）", calendar_gap),
    CaseRule("事项缺失", "red", "办件的事项不在事项目录中，或联办件的协办部门未列在该事项中，无法判断"
             "（红灯，事项目录更新后自动消除）", item_missing),
)}
RULE_DESCRIPTIONS = {name: rule.description for name, rule in CASE_RULES.items()}
RULE_DESCRIPTIONS[FOCUS_RULE] = "部门当月不予许可、不予受理、补正比率远高于全区中位数（黄灯预警）"
assert set(RULE_DESCRIPTIONS) == set(RULE_NAMES), "update RULE_NAMES in edge/supervision/config.py"


STANDARD_RULES = frozenset(id(rule) for rule in CASE_RULES.values())


def standard_only(rules: Iterable[CaseRule]) -> bool:
    """Whether every rule is one of ``CASE_RULES`` (then :func:`quiet` may be used)."""
    return all(id(rule) in STANDARD_RULES for rule in rules)


def quiet(case: CaseView, settings: RuleSettings) -> bool:
    """True when no rule of ``CASE_RULES`` can find anything in the case: the usual case, told
    without calling eleven rules. Every rule but two reads a reason of ``status`` (an unknown
    item, a calendar gap and a late finish each give one), a share gives its own findings;
    what is left is 临近时限 on the remaining days and the stages 程序异常 finds skipped."""
    status = case.status
    if status.reasons or status.departments:
        return False
    left = status.remaining_working_days
    if (left is not None and 0 <= left <= settings.near_deadline_working_days
            and case.facts.terminal is None):
        return False
    return not skipped_stages(case, settings)


def share_subject(case_no: str, dept_code: str) -> str:
    """The alert subject of a participating department's share of a joint case."""
    return f"case:{case_no}:dept:{dept_code}"


def _share_details(share: ShareStatus, is_open: bool, within: int,
                   item_code: str | None) -> Iterable[tuple[str, str]]:
    """(rule, detail) for one participating department's share. ``item_code``: the case's
    item when the catalogue knows it (an unknown item is the case's own 事项缺失)."""
    who = share.dept_name or share.dept_code
    if item_code is not None and share.days is None:  # fails closed, as an unknown item does
        yield "事项缺失", (f"事项目录中的{item_code}未列出协办部门{who}及其办理时限，"
                           "该部门的时限无法判断，请更新事项目录")
    if share.state == "late":
        yield "超期", f"协办部门{who}{share.reasons[0]}"
    left = share.remaining_working_days
    if is_open and share.state == "waiting" and left is not None and 0 <= left <= within:
        yield "临近时限", f"协办部门{who}距办理期限{share.deadline}还剩{left}个工作日"
    gaps = [r for r in share.reasons if r.startswith(CALENDAR_GAP)]
    if gaps:  # its deadline falls in a year the calendar does not know: never guessed
        yield "日历缺失", f"协办部门{who}：" + "；".join(gaps)
    for prefix, rule in (("程序异常：", "程序异常"), ("无理由拒绝：", "无理由拒绝")):
        found = [r.removeprefix(prefix) for r in share.reasons if r.startswith(prefix)]
        if found:
            yield rule, f"协办部门{who}：" + "；".join(found)


def case_findings(case: CaseView, rules: Iterable[CaseRule],
                  settings: RuleSettings) -> list[Finding]:
    """Every finding of the enabled ``rules`` on the case and on each of its shares."""
    facts = case.facts
    found = []
    enabled = {}
    for rule in rules:
        enabled[rule.name] = rule
        detail = rule.check(case, settings)
        if detail:
            found.append(Finding(f"case:{facts.case_no}", rule.name, rule.level, detail,
                                 facts.case_no, facts.dept_code))
    is_open = facts.terminal is None
    known = case.item.item_code if case.item is not None else None
    for share in case.status.departments:
        for name, detail in _share_details(share, is_open, settings.near_deadline_working_days,
                                           known):
            rule = enabled.get(name)
            if rule is not None:
                found.append(Finding(share_subject(facts.case_no, share.dept_code), name,
                                     rule.level, detail, facts.case_no, share.dept_code))
    return found


def recheck_on(case: CaseView, today: dt.date, calendar: WorkCalendar, yellow_within: int,
               within: int) -> dt.date | None:
    """The first later day on which the case's findings can change without a new event.

    That is the day its status can change (``CaseStatus.changes_on``), which covers 临近时限
    while its window (``within`` working days) is no wider than the yellow light's
    (``yellow_within``); a wider window can bring the day forward, for the lead's deadline and
    each waiting share's. None: only a new event can change them.
    """
    status = case.status
    changes_on = status.changes_on
    if changes_on is None or within <= max(yellow_within, 0):
        return changes_on
    clocks = [(status.remaining_working_days, status.deadline)]
    clocks += [(share.remaining_working_days, share.deadline) for share in status.departments
               if share.state == "waiting"]
    for left, deadline in clocks:
        if left is None or left < 0 or deadline is None:
            continue
        try:
            if left > within:
                start = calendar.subtract_workdays_ordinal(deadline.toordinal(), within)
            else:  # its text counts the days
                start = calendar.add_workdays_ordinal(today.toordinal(), 1)
        except CalendarUnknownYear:
            start = today.toordinal() + 1
        changes_on = min(changes_on, dt.date.fromordinal(start))
    return changes_on
