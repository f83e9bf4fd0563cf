"""Supervision rules (预警纠错): case lights become alerts, cards and notifications.

A rule is a small named function from a case (facts, evaluated status, catalogue item) to a
detail text, or None. The engine runs the enabled rules after every ingest (touched cases) and
on a schedule (every open case, plus the 重点监察 monthly counts), against the same deadline
engine that computes the lights. It keeps one alert per (subject, rule): a second pass over
unchanged data writes nothing. In the same transaction it issues the cards that are due
(edge/supervision/notices.py) and queues the notifications (edge/supervision/notify/).

When a condition no longer holds, its alert is marked: a yellow warning still open or
acknowledged is resolved by "system"; anything else (red, or already explained or escalated)
only gets ``cleared_at`` and an audit entry, because people still have to explain and close it.

Example::

    engine = RuleEngine(store, board, cards=CardDesk(board, CardSettings()))
    result = engine.check(at=datetime(2026, 11, 9, 9, 0, tzinfo=LOCAL_TZ))
    print("\\n".join(result.lines()))
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from edge.cases import CaseBoard
from edge.store import Store, Tx, iso
from edge.supervision.alerts import (
    ACTIVE_STATES,
    SYSTEM,
    Finding,
    alert_row,
    change_alert,
    open_alert,
)
from edge.supervision.config import RULE_NAMES
from edge.supervision.focus import FOCUS_RULE, FocusCounter, FocusSettings, focus_findings
from edge.supervision.notices import (
    DEADLINE_NOTICE,
    CardDesk,
    Notice,
    district_label,
    notice_sms_text,
)
from edge.supervision.notify import NotificationQueue
from edge.supervision.schedule import Scheduler, next_run
from standard.calendar import CalendarUnknownYear
from standard.deadlines import CaseFacts, CaseStatus, local_day
from standard.records import LOCAL_TZ, STAGE_RANK, CatalogueItem

log = logging.getLogger(__name__)
_ACTIVE = "(" + ", ".join(f"'{state}'" for state in ACTIVE_STATES) + ")"


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


class _Judged(NamedTuple):
    """A case as the engine last judged it; valid for days judged_on <= day < until."""

    digest: int  # hash of the facts JSON it was judged from
    findings: tuple[Finding, ...]
    labels: tuple[str, str] | None  # (district, item name) for notification texts
    judged_on: int  # ordinal of the local day
    until: int


_NEVER = dt.date.max.toordinal() + 1


def _recheck_on(case: CaseView, today: dt.date, board: CaseBoard,
                within: int) -> dt.date | None:
    """The first later day on which the case's findings can change without a new event.

    That is the day its status can change (``CaseStatus.changes_on``), which covers 临近时限
    while its window (``within`` working days) is no wider than the yellow light's; a wider
    window can bring the day forward. None: only a new event can change them.
    """
    status = case.status
    left, changes_on = status.remaining_working_days, status.changes_on
    if (changes_on is None or left is None or left < 0
            or within <= max(board.settings.yellow_within_working_days, 0)):
        return changes_on
    calendar = board.calendar
    try:
        if left > within:
            start = calendar.subtract_workdays_ordinal(status.deadline.toordinal(), within)
        else:  # its text counts the days
            start = calendar.add_workdays_ordinal(today.toordinal(), 1)
    except CalendarUnknownYear:
        start = today.toordinal() + 1
    return min(changes_on, dt.date.fromordinal(start))


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
    """超期: past the promised deadline (承诺时限)."""
    late = [r for r in case.status.reasons if r.startswith("已超过承诺时限")]
    return f"{late[0]}（承诺办结日期{case.status.deadline}）" if late else None


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
        gaps = [r for r in case.status.reasons if r.startswith("工作日历缺少")]
        return "；".join(gaps) or case.status.error
    return None


CASE_RULES: dict[str, CaseRule] = {rule.name: rule for rule in (
    CaseRule("临近时限", "yellow", "承诺办结日期前不超过规定工作日仍未办结（黄灯预警）", near_deadline),
    CaseRule("环节临近时限", "yellow", "当前环节即将超过该环节时限（黄灯预警）", stage_near_limit),
    CaseRule("超期", "red", "超过承诺时限仍未办结或超期办结（红灯）", overdue),
    CaseRule("超法定时限", "red", "超过法定时限（红灯，较超期更为严重）", over_legal_limit),
    CaseRule("环节超时", "red", "某一环节超过该环节时限，即使办件总体未超期（红灯）", stage_overtime),
    CaseRule("违规收费", "red", "收费金额与事项目录标准不符，或对不收费事项收费（红灯）", fee_mismatch),
    CaseRule("程序异常", "red", "环节缺失、顺序颠倒、办结后仍有操作或未受理即办结（红灯）", procedure_anomaly),
    CaseRule("无理由拒绝", "red", "不予受理或不予许可未说明理由（红灯）", refusal_without_reason),
    CaseRule("日历缺失", "red", "时限落在工作日历未覆盖的年份，无法计算（红灯）", calendar_gap),
)}
RULE_DESCRIPTIONS = {name: rule.description for name, rule in CASE_RULES.items()}
RULE_DESCRIPTIONS[FOCUS_RULE] = "部门当月不予许可、不予受理、补正比率远高于全区中位数（黄灯预警）"
assert set(RULE_DESCRIPTIONS) == set(RULE_NAMES), "update RULE_NAMES in edge/supervision/config.py"


@dataclass
class PassResult:
    """What one pass did (the CLI prints ``lines()``)."""

    at: dt.datetime
    checked: int = 0
    opened: list[Finding] = field(default_factory=list)
    reopened: list[Finding] = field(default_factory=list)
    cleared: list[tuple[str, str]] = field(default_factory=list)  # (subject, rule)
    notices: list[Notice] = field(default_factory=list)
    notifications: int = 0

    @property
    def created(self) -> int:
        return len(self.opened) + len(self.reopened) + len(self.notices)

    def lines(self) -> list[str]:
        out = [f"opened  {f.level:<6} {f.rule:<8} {f.subject}  {f.detail}" for f in self.opened]
        out += [f"reopened {f.level:<6} {f.rule:<8} {f.subject}  {f.detail}" for f in self.reopened]
        out += [f"card    {'yellow' if n.kind == DEADLINE_NOTICE else 'red':<6} {n.number}  "
                f"case:{n.case_no}  {n.kind} due {n.due_on}" for n in self.notices]
        out += [f"cleared {rule:<8} {subject}" for subject, rule in self.cleared]
        out.append(f"checked {self.checked} cases at {self.at.astimezone(LOCAL_TZ).isoformat()}: "
                   f"opened {len(self.opened)}, reopened {len(self.reopened)}, cards "
                   f"{len(self.notices)}, cleared {len(self.cleared)}, notifications queued "
                   f"{self.notifications}")
        return out


@dataclass
class _Plan:
    open: list[Finding] = field(default_factory=list)
    reopen: list[Finding] = field(default_factory=list)
    recur: list[int] = field(default_factory=list)
    clear: list[int] = field(default_factory=list)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # case_no -> (district, item)

    def __bool__(self) -> bool:
        return bool(self.open or self.reopen or self.recur or self.clear)


class RuleEngine:
    """Runs the rules; ``check`` is exactly what the schedule and ``edge check`` run."""

    def __init__(self, store: Store, board: CaseBoard, rules: Sequence[CaseRule] | None = None,
                 *, settings: RuleSettings | None = None, focus: FocusSettings | None = None,
                 cards: CardDesk | None = None, queue: NotificationQueue | None = None,
                 on_queued: Callable[[], None] | None = None, interval_seconds: float = 60.0,
                 day_start: dt.time = dt.time(8, 30)):
        self.store = store
        self.board = board
        self.rules = tuple(CASE_RULES.values()) if rules is None else tuple(rules)
        self.settings = settings or RuleSettings()
        self.focus = focus
        self.cards = cards
        self.queue = queue
        self.on_queued = on_queued
        self.interval_seconds = interval_seconds
        self.day_start = day_start
        self._focus = FocusCounter(focus) if focus is not None else None
        self._lock = threading.Lock()  # one pass at a time: a pass reads, decides, then writes
        # case_no -> how it was judged, for the catalogue, calendar and light settings in
        # _memo_basis: a case whose facts are unchanged is not parsed or judged again until the
        # day its findings can change.
        self._memo: dict[str, _Judged] = {}
        self._memo_basis: tuple = (None, None, None)

    @property
    def dept_names(self) -> dict[str, str]:
        return {item.dept_code: item.dept_name for item in self.board.catalogue.values()}

    def check(self, at: dt.datetime, case_nos: set[str] | None = None) -> PassResult:
        """One pass over open cases (or just ``case_nos``) as of the aware moment ``at``."""
        result = PassResult(at)
        if case_nos is not None and not case_nos:
            return result
        with self._lock:
            self._check(at, case_nos, result)
        if result.notifications and self.on_queued:
            self.on_queued()
        return result

    def _check(self, at: dt.datetime, case_nos: set[str] | None, result: PassResult) -> None:
        today = local_day(at)
        plan = _Plan()
        findings: dict[tuple[str, str], Finding] = {}
        with self.store.read() as db:
            conn = db.conn
            evaluated = self._judge_all(conn, case_nos, today, plan, findings)
            if case_nos is None and self._focus is not None:
                counts = self._focus.counts(conn, today)
                for finding in focus_findings(counts, self._focus.settings, self.dept_names):
                    findings[(finding.subject, finding.rule)] = finding
            _diff(plan, findings, self._existing(conn, case_nos), evaluated)
            card_work = self.cards is not None and any(self.cards.work(conn, today, case_nos))
        result.checked = len(evaluated)
        if plan or card_work:
            self.store.write(lambda tx: self._apply(tx, plan, at, today, case_nos, result))

    def _judge_all(self, conn, case_nos: set[str] | None, today: dt.date, plan: _Plan,
                   findings: dict[tuple[str, str], Finding]) -> set[str]:
        """Run the rules on every case in scope; returns the case numbers judged."""
        board = self.board
        basis = (board.catalogue, board.calendar, board.settings)
        if any(new is not old for new, old in zip(basis, self._memo_basis)):
            self._memo, self._memo_basis = {}, basis
        day = today.toordinal()
        memo = self._memo if case_nos is not None else {}  # a full pass drops finished cases
        for case_no, text in self._rows(conn, case_nos):
            digest = hash(text)
            known = self._memo.get(case_no)
            if (known is None or known.digest != digest
                    or not known.judged_on <= day < known.until):
                known = self._judge(CaseFacts.from_json(text), today, digest)
            memo[case_no] = known
            for finding in known.findings:
                findings[(finding.subject, finding.rule)] = finding
            if known.labels:
                plan.labels[case_no] = known.labels
        if case_nos is None:
            self._memo = memo
        return set(memo) if case_nos is None else {c for c in case_nos if c in memo}

    def _judge(self, facts: CaseFacts, today: dt.date, digest: int) -> _Judged:
        item = self.board.catalogue.get(facts.item_code)
        case = CaseView(facts, self.board.status(facts, today), item)
        found = []
        for rule in self.rules:
            detail = rule.check(case, self.settings)
            if detail:
                found.append(Finding(f"case:{facts.case_no}", rule.name, rule.level, detail,
                                     facts.case_no, facts.dept_code))
        labels = (facts.district_code, item.name if item else facts.item_code) if found else None
        until = _recheck_on(case, today, self.board, self.settings.near_deadline_working_days)
        return _Judged(digest, tuple(found), labels, today.toordinal(),
                       until.toordinal() if until else _NEVER)

    def _rows(self, conn, case_nos: set[str] | None):
        if case_nos is None:
            # Open cases, and finished ones whose alerts may still clear or persist.
            return conn.execute(
                "select case_no, facts from cases where is_open = 1 or case_no in (select case_no"
                " from alerts where case_no is not null and cleared_at is null"
                f" and state in {_ACTIVE})")
        marks = ",".join("?" * len(case_nos))
        return conn.execute(f"select case_no, facts from cases where case_no in ({marks})",
                            list(case_nos))

    def _existing(self, conn, case_nos: set[str] | None) -> dict[tuple[str, str], tuple]:
        sql = "select subject, rule, id, state, cleared_at, case_no from alerts"
        if case_nos is None:
            rows = conn.execute(sql + " where subject like 'case:%' or subject like 'dept:%'")
        else:
            marks = ",".join("?" * len(case_nos))
            rows = conn.execute(sql + f" where case_no in ({marks})", list(case_nos))
        return {(s, r): (i, state, cleared, case_no) for s, r, i, state, cleared, case_no in rows}

    def _apply(self, tx: Tx, plan: _Plan, at: dt.datetime, today: dt.date,
               case_nos: set[str] | None, result: PassResult) -> None:
        now = iso(at)
        for finding in plan.open:
            alert_id = open_alert(tx, finding, at)
            if alert_id is not None:
                result.opened.append(finding)
                self._warn(tx, alert_id, finding, plan, at, result)
        for finding in plan.reopen:
            alert = _row(tx, finding)
            if alert and alert["state"] == "resolved":
                change_alert(tx, alert, at=now, actor=SYSTEM, action="reopen", note=finding.detail,
                             state="open", detail=finding.detail, cleared_at=None)
                result.reopened.append(finding)
                self._warn(tx, alert["id"], finding, plan, at, result)
        for alert_id in plan.recur:
            alert = alert_row(tx.conn, alert_id)
            if alert["state"] in ACTIVE_STATES and alert["cleared_at"]:
                change_alert(tx, alert, at=now, actor=SYSTEM, action="recur",
                             note="情形再次出现", cleared_at=None)
        for alert_id in plan.clear:
            alert = alert_row(tx.conn, alert_id)
            if alert["state"] not in ACTIVE_STATES or alert["cleared_at"]:
                continue
            if alert["level"] == "yellow" and alert["state"] in ("open", "acknowledged"):
                change_alert(tx, alert, at=now, actor=SYSTEM, action="resolve",
                             note="预警情形已消除", state="resolved", cleared_at=now)
            else:  # people still have to explain and close it
                change_alert(tx, alert, at=now, actor=SYSTEM, action="clear",
                             note="情形已消除，仍需说明理由并办结", cleared_at=now)
            result.cleared.append((alert["subject"], alert["rule"]))
        if self.cards is not None:
            self._issue_cards(tx, at, today, case_nos, result)

    def _issue_cards(self, tx: Tx, at: dt.datetime, today: dt.date, case_nos: set[str] | None,
                     result: PassResult) -> None:
        need_yellow, need_red = self.cards.work(tx.conn, today, case_nos)
        for alert in need_yellow:
            self._notify_card(tx, alert, self.cards.issue_yellow(tx, alert, at), at, result)
        for alert in need_red:
            self._notify_card(tx, alert, self.cards.issue_red(tx, alert, at), at, result)

    def _notify_card(self, tx: Tx, alert: dict, notice: Notice | None, at: dt.datetime,
                     result: PassResult) -> None:
        if notice is None:
            return
        result.notices.append(notice)
        if self.queue is not None:
            result.notifications += self.queue.add(
                tx, alert_id=alert["id"], dept_code=alert["dept_code"],
                text=notice_sms_text(notice), at=at, notice_number=notice.number)

    def _warn(self, tx: Tx, alert_id: int, finding: Finding, plan: _Plan, at: dt.datetime,
              result: PassResult) -> None:
        """A yellow light tells the department's contact person (red ones do so via cards)."""
        if self.queue is None or finding.level != "yellow":
            return
        district, item = plan.labels.get(finding.case_no or "", (None, None))
        where = f"【{district_label(district)}电子监察】" if district else "【电子监察】"
        dept = self.dept_names.get(finding.dept_code or "", finding.dept_code or "")
        what = f"办件{finding.case_no}（{item}）" if finding.case_no else ""
        text = f"{where}{dept}：{what}{finding.rule}，{finding.detail}，请及时处理。"
        result.notifications += self.queue.add(tx, alert_id=alert_id, dept_code=finding.dept_code,
                                               text=text, at=at)

    def scheduler(self, clock: Callable[[], dt.datetime]) -> Scheduler:
        return Scheduler(lambda at: self.check(at), clock, self.interval_seconds, self.day_start,
                         self.board.calendar)


def _row(tx: Tx, finding: Finding) -> dict | None:
    found = tx.conn.execute("select id from alerts where subject = ? and rule = ?",
                            (finding.subject, finding.rule)).fetchone()
    return alert_row(tx.conn, found[0]) if found else None


def _diff(plan: _Plan, findings: dict, existing: dict, evaluated: set[str]) -> None:
    """Compare this pass's findings with the stored alerts; fills ``plan``."""
    for key, finding in findings.items():
        known = existing.get(key)
        if known is None:
            plan.open.append(finding)
        elif known[1] == "resolved":
            plan.reopen.append(finding)
        elif known[1] in ACTIVE_STATES and known[2]:
            plan.recur.append(known[0])
    for key, (alert_id, state, cleared_at, case_no) in existing.items():
        if (case_no in evaluated and key not in findings and state in ACTIVE_STATES
                and not cleared_at):
            plan.clear.append(alert_id)


__all__ = ["CASE_RULES", "CaseRule", "Finding", "PassResult", "RuleEngine", "RuleSettings",
           "Scheduler", "next_run", "open_alert"]
