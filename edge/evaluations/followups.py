"""The bad-review (差评) workflow: 回访, 整改, one extension, 追评 and 申诉复核.

Every counted rating of level 1 or 2 opens a follow-up item. Its deadlines are working days
counted the house way (the opening day is not counted; a limit of N ends with the Nth working
day after it). Each step validates first and raises a named :class:`FollowUpError` with a Chinese
message, inside the write transaction, so a refused step changes nothing. Every accepted step
is an append-only ``review_audit`` row and a ``review_followup`` record for the hub.

Example::

    followups = FollowUpService(store, WorkCalendar(), EvaluationSection())
    followups.record_return_call(17, by="王主任", note="已电话联系，群众反映排队时间长")
    followups.record_rectification(17, by="王主任", note="高峰期增开两个窗口")
    followups.check_overdue(datetime.now(timezone.utc))   # opens 差评回访超期 / 差评整改超期 alerts
    followups.worklist(date(2026, 11, 1), date(2026, 12, 1))   # the 差评整改 list: open + November
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from edge.config import EvaluationSection
from edge.evaluations.rows import emit_rating, fetch_one, local_date, rated_between
from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision import Finding, open_alert
from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.evaluations import LEVEL_NAMES

log = logging.getLogger(__name__)

AWAITING_CALL = "待回访"
RECTIFYING = "整改中"
RECTIFIED = "已整改"
INVALIDATED = "已撤销"  # an appeal found the review 恶意 or 误评
VERDICTS = ("恶意", "误评")
RULE_CALL_OVERDUE = "差评回访超期"
RULE_RECTIFY_OVERDUE = "差评整改超期"
OPEN_STATES = (AWAITING_CALL, RECTIFYING)
# The audit trail's actions, as the pages name them.
ACTION_NAMES = {"opened": "生成差评任务", "return_call": "回访", "rectification": "整改",
                "extension": "延期", "follow_up_review": "追评", "appeal": "申诉复核"}
# What the to-do list shows of a rating: never the citizen's name or phone.
LISTED_RATING_COLUMNS = ("level", "channel", "case_no", "window_no", "staff_id", "staff_name",
                         "dept_code", "rated_at")


class FollowUpError(Exception):
    """A follow-up step was refused; the message says why, in Chinese."""


class ReviewNotFound(FollowUpError):
    """No follow-up item exists for this rating."""


class MissingField(FollowUpError):
    """A required field (who, a note, a reason) is empty."""


class StepOutOfOrder(FollowUpError):
    """The step needs an earlier step first (整改 needs 回访)."""


class StepAlreadyDone(FollowUpError):
    """The step can happen once and already did."""


class ExtensionRefused(FollowUpError):
    """The extension is over the limit or not the first one."""


class ReviewInvalidated(FollowUpError):
    """An appeal already found the review invalid; the workflow is over."""


@dataclass(frozen=True)
class FollowUp:
    """One bad review's follow-up item, as stored."""

    rating_id: int
    state: str
    opened_on: str
    return_call_due: str | None
    rectify_due: str | None
    extension_days: int
    return_called_at: str | None
    return_call_note: str | None
    rectified_at: str | None
    rectify_note: str | None
    extended_at: str | None
    extension_reason: str | None
    follow_up_level: int | None
    follow_up_text: str | None
    follow_up_at: str | None
    appeal_verdict: str | None
    appeal_reason: str | None
    appeal_approved_by: str | None
    appealed_at: str | None
    updated_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FollowUp:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def overdue(self, today: dt.date) -> list[str]:
        """The overdue rules (差评回访超期, 差评整改超期) that apply on ``today``."""
        return overdue_rules(self.state, self.return_call_due, self.rectify_due,
                             today.isoformat())

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def next_steps(self) -> tuple[str, ...]:
        """The steps the workflow allows now, as audit actions: ``return_call`` while 待回访,
        ``rectification`` while 整改中, one ``extension`` before 已整改, and ``appeal`` until
        an appeal succeeded. Who may take them is the caller's business."""
        if self.state == INVALIDATED:
            return ()
        steps = {AWAITING_CALL: ["return_call"], RECTIFYING: ["rectification"]}.get(self.state, [])
        if self.state != RECTIFIED and not self.extension_days:
            steps.append("extension")
        return (*steps, "appeal")


def overdue_rules(state: str, return_call_due: str | None, rectify_due: str | None,
                  day: str) -> list[str]:
    """The overdue rules that apply on ``day`` (ISO) to a follow-up in ``state`` with these
    due days: 差评回访超期 while still 待回访, 差评整改超期 while the work is open."""
    late = []
    if state == AWAITING_CALL and return_call_due and day > return_call_due:
        late.append(RULE_CALL_OVERDUE)
    if state in OPEN_STATES and rectify_due and day > rectify_due:
        late.append(RULE_RECTIFY_OVERDUE)
    return late


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise MissingField(f"请填写{what}")
    return text


def _audit(tx: Tx, rating_id: int, action: str, actor: str, detail: dict[str, Any]) -> None:
    """Append the audit row and queue the follow-up's new state for the hub."""
    at = iso(tx.now)
    tx.conn.execute(
        "insert into review_audit (rating_id, action, actor, at, detail) values (?, ?, ?, ?, ?)",
        (rating_id, action, actor, at, json.dumps(detail, ensure_ascii=False)))
    row = fetch_one(tx.conn, "select * from review_followups where rating_id = ?", (rating_id,))
    state = {k: v for k, v in (row or {}).items() if v is not None}
    tx.emit("review_followup", {"action": action, "actor": actor, "at": at, "detail": detail,
                                "followup": state})


def open_followup(tx: Tx, rating_id: int, policy: EvaluationSection,
                  calendar: WorkCalendar) -> None:
    """Open the follow-up item of a new bad review (called in the rating's transaction)."""
    opened_on = local_date(tx.now)
    call_due = rectify_due = None
    try:
        call_due = calendar.add_workdays(opened_on, policy.return_call_working_days).isoformat()
        rectify_due = calendar.add_workdays(opened_on, policy.rectify_working_days).isoformat()
    except CalendarUnknownYear as exc:
        # Fail closed: no guessed deadline; the alert tells the hall to load the calendar.
        open_alert(tx, Finding(f"review:{rating_id}", "日历缺失", "red",
                               f"差评 #{rating_id} 无法计算回访、整改期限：缺少 {exc.year} 年工作日历"))
    tx.conn.execute(
        "insert into review_followups (rating_id, state, opened_on, return_call_due, rectify_due,"
        " updated_at) values (?, ?, ?, ?, ?, ?)",
        (rating_id, AWAITING_CALL, opened_on.isoformat(), call_due, rectify_due, iso(tx.now)))
    _audit(tx, rating_id, "opened", "system",
           {"return_call_due": call_due, "rectify_due": rectify_due})


class FollowUpService:
    """The steps the hall manager's pages call; each is one transaction or nothing."""

    def __init__(self, store: Store, calendar: WorkCalendar, policy: EvaluationSection):
        self.store = store
        self.calendar = calendar
        self.policy = policy

    # -- reading ------------------------------------------------------------------------
    def get(self, rating_id: int) -> FollowUp:
        rows = self.store.query("select * from review_followups where rating_id = ?",
                                (rating_id,))
        if not rows:
            raise ReviewNotFound(f"没有找到差评 #{rating_id} 的跟进记录")
        return FollowUp.from_row(rows[0])

    def find(self, state: str | None = None) -> list[FollowUp]:
        """Follow-up items, all or in one state (e.g. 待回访), oldest first."""
        sql, params = "select * from review_followups", ()
        if state:
            sql, params = sql + " where state = ?", (state,)
        return [FollowUp.from_row(r) for r in self.store.query(sql + " order by rating_id", params)]

    def worklist(self, since: dt.date, until: dt.date, *, state: str | None = None,
                 overdue_on: dt.date | None = None) -> list[tuple[dict[str, Any], FollowUp]]:
        """The bad reviews a hall works on: every open one (待回访, 整改中) whatever its date,
        and the closed ones rated on local days ``since`` up to, not including, ``until``.
        Open ones first, oldest first. Optionally only one ``state``, or only those overdue on
        ``overdue_on``. Each comes as (the rating's listed columns, its follow-up)."""
        clauses, params = rated_between(since, until)
        columns = ", ".join(f"r.{column}" for column in LISTED_RATING_COLUMNS)
        marks = ", ".join("?" for _ in OPEN_STATES)
        rows = self.store.query(
            f"select f.*, {columns}, f.state in ({marks}) as is_open"
            " from review_followups f join ratings r on r.id = f.rating_id"
            f" where f.state in ({marks}) or ({' and '.join(clauses)})"
            " order by is_open desc, r.rated_at, f.rating_id",
            [*OPEN_STATES, *OPEN_STATES, *params])
        found = [({c: row[c] for c in LISTED_RATING_COLUMNS}, FollowUp.from_row(row))
                 for row in rows]
        return [(rating, item) for rating, item in found
                if state in (None, item.state) and (overdue_on is None or item.overdue(overdue_on))]

    def audit(self, rating_id: int) -> list[dict[str, Any]]:
        """The audit trail of one review, oldest first."""
        rows = self.store.query("select * from review_audit where rating_id = ? order by id",
                                (rating_id,))
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return rows

    # -- steps --------------------------------------------------------------------------
    def record_return_call(self, rating_id: int, *, by: str, note: str) -> FollowUp:
        """回访: the call to the citizen, due within 1 working day (configurable)."""
        actor, text = _text(by, "回访人"), _text(note, "回访情况")

        def apply(tx: Tx, row: FollowUp) -> dict[str, Any]:
            self._not_invalidated(row)
            if row.state != AWAITING_CALL:
                raise StepAlreadyDone(f"差评 #{rating_id} 已登记过回访")
            return {"state": RECTIFYING, "return_called_at": iso(tx.now), "return_call_note": text}

        return self._step(rating_id, "return_call", actor, {"note": text}, apply)

    def record_rectification(self, rating_id: int, *, by: str, note: str) -> FollowUp:
        """整改: what was changed; closes the item. Needs the 回访 first."""
        actor, text = _text(by, "整改登记人"), _text(note, "整改措施")

        def apply(tx: Tx, row: FollowUp) -> dict[str, Any]:
            self._not_invalidated(row)
            if row.state == AWAITING_CALL:
                raise StepOutOfOrder(f"差评 #{rating_id} 尚未回访，请先登记回访再登记整改")
            if row.state == RECTIFIED:
                raise StepAlreadyDone(f"差评 #{rating_id} 已登记过整改")
            return {"state": RECTIFIED, "rectified_at": iso(tx.now), "rectify_note": text}

        return self._step(rating_id, "rectification", actor, {"note": text}, apply)

    def extend(self, rating_id: int, *, by: str, days: int, reason: str) -> FollowUp:
        """延期: push the 整改 deadline once, by at most 15 working days (configurable)."""
        actor, why = _text(by, "批准人"), _text(reason, "延期理由")
        limit = self.policy.max_extension_working_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= limit:
            raise ExtensionRefused(f"延期天数须为 1–{limit} 个工作日，收到 {days!r}")

        def apply(tx: Tx, row: FollowUp) -> dict[str, Any]:
            self._not_invalidated(row)
            if row.state == RECTIFIED:
                raise StepAlreadyDone(f"差评 #{rating_id} 已整改完毕，无需延期")
            if row.extension_days:
                raise ExtensionRefused(f"差评 #{rating_id} 的整改期限已延长过一次，不能再次延期")
            opened = dt.date.fromisoformat(row.opened_on)
            try:
                due = self.calendar.add_workdays(opened, self.policy.rectify_working_days + days)
            except CalendarUnknownYear as exc:
                raise ExtensionRefused(f"缺少 {exc.year} 年工作日历，无法计算延期后的期限") from None
            return {"extension_days": days, "rectify_due": due.isoformat(),
                    "extended_at": iso(tx.now), "extension_reason": why}

        return self._step(rating_id, "extension", actor, {"days": days, "reason": why}, apply)

    def add_follow_up_review(self, rating_id: int, *, level: int, text: str | None = None,
                             by: str = "群众") -> FollowUp:
        """追评: the citizen's one further review; the original rating is kept as it was."""
        actor = _text(by, "追评人")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise MissingField(f"追评等级须为 1–5，收到 {level!r}")
        words = (text or "").strip() or None

        def apply(tx: Tx, row: FollowUp) -> dict[str, Any]:
            self._not_invalidated(row)
            if row.follow_up_level is not None:
                raise StepAlreadyDone(f"差评 #{rating_id} 已有追评，每次评价只能追评一次")
            return {"follow_up_level": level, "follow_up_text": words,
                    "follow_up_at": iso(tx.now)}

        detail = {"level": level, "level_name": LEVEL_NAMES[level], "text": words}
        return self._step(rating_id, "follow_up_review", actor, detail, apply)

    def appeal(self, rating_id: int, *, verdict: str, reason: str, approved_by: str,
               by: str) -> FollowUp:
        """申诉复核: an approved appeal marks the review 恶意 or 误评; it stays stored but uncounted."""
        actor, why = _text(by, "申诉登记人"), _text(reason, "申诉理由")
        approver = _text(approved_by, "复核批准人")
        if verdict not in VERDICTS:
            raise MissingField(f"复核结论须为 {' 或 '.join(VERDICTS)}，收到 {verdict!r}")

        def apply(tx: Tx, row: FollowUp) -> dict[str, Any]:
            self._not_invalidated(row)
            tx.conn.execute("update ratings set counted = 0, invalid_reason = ? where id = ?",
                            (verdict, rating_id))
            emit_rating(tx, rating_id)
            return {"state": INVALIDATED, "appeal_verdict": verdict, "appeal_reason": why,
                    "appeal_approved_by": approver, "appealed_at": iso(tx.now)}

        detail = {"verdict": verdict, "reason": why, "approved_by": approver}
        return self._step(rating_id, "appeal", actor, detail, apply)

    @staticmethod
    def _not_invalidated(row: FollowUp) -> None:
        if row.state == INVALIDATED:
            raise ReviewInvalidated(f"差评 #{row.rating_id} 已经申诉复核认定为{row.appeal_verdict}，"
                                    "流程已结束")

    def _step(self, rating_id: int, action: str, actor: str, detail: dict[str, Any],
              apply: Callable[[Tx, FollowUp], dict[str, Any]]) -> FollowUp:
        def run(tx: Tx) -> FollowUp:
            row = fetch_one(tx.conn, "select * from review_followups where rating_id = ?",
                            (rating_id,))
            if row is None:
                raise ReviewNotFound(f"没有找到差评 #{rating_id} 的跟进记录")
            updates = apply(tx, FollowUp.from_row(row))
            updates["updated_at"] = iso(tx.now)
            assignments = ", ".join(f"{column} = ?" for column in updates)
            tx.conn.execute(f"update review_followups set {assignments} where rating_id = ?",
                            [*updates.values(), rating_id])
            _audit(tx, rating_id, action, actor, detail)
            return FollowUp.from_row(fetch_one(
                tx.conn, "select * from review_followups where rating_id = ?", (rating_id,)))

        return self.store.write(run)

    # -- scheduled pass -----------------------------------------------------------------
    def check_overdue(self, at: dt.datetime) -> int:
        """Open an alert for every follow-up past a deadline on ``at``'s local day; returns
        how many alerts are new. Running it again opens nothing new."""
        today = local_date(at)
        findings = []
        rows = self.store.query(
            "select f.*, r.window_no, r.staff_name, r.dept_code, r.level"
            " from review_followups f join ratings r on r.id = f.rating_id"
            " where f.state in (?, ?)", (AWAITING_CALL, RECTIFYING))
        for row in rows:
            item = FollowUp.from_row(row)
            who = f"窗口 {row['window_no']}" if row["window_no"] else row["dept_code"] or "未知部门"
            if row["staff_name"]:
                who += f"，{row['staff_name']}"
            for rule in item.overdue(today):
                due = item.return_call_due if rule == RULE_CALL_OVERDUE else item.rectify_due
                step = "回访" if rule == RULE_CALL_OVERDUE else "整改"
                findings.append(Finding(
                    f"review:{item.rating_id}", rule, "red",
                    f"差评 #{item.rating_id}（{who}，{LEVEL_NAMES[row['level']]}）{step}期限 "
                    f"{due} 已过，尚未完成", dept_code=row["dept_code"]))
        if not findings:
            return 0
        return self.store.write(lambda tx: sum(bool(open_alert(tx, f)) for f in findings))
