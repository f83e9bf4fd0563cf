"""The service the web pages and commands call: list alerts, move them along, read notices.

Role checks belong to the web layer; this service checks that the alert exists, that the
action is allowed from its state, and that the text is non-empty and not too long.

Example::

    service = Supervision(store, clock=utc_now)
    alert = service.alerts(state="open")[0]
    service.acknowledge(alert.id, user="王芳", note="已转承办科室处理")
    service.alert(alert.id).events[-1].action    # 'acknowledge'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision.alerts import (
    MAX_TEXT,
    MAX_USER,
    ActionNotAllowed,
    Alert,
    AlertEvent,
    AlertNotFound,
    InvalidInput,
    NoticeNotFound,
    alert_row,
    change_alert,
)
from edge.supervision.focus import FocusSettings, focus_counts
from edge.supervision.lifecycle import (
    ACTION_TARGETS,
    Progress,
    allowed_actions,
    liability_due,
    needs_explanation,
)
from edge.supervision.noticebook import load_notice
from standard.records import LOCAL_TZ
from standard.supervision import (
    ACTION_NAMES,
    ACTIVE_STATES,
    LIABILITY_OUTCOMES,
    STATE_NAMES,
    STATES,
    liability_name,
)

MAX_BULK = 500  # alerts one bulk action may change (one page of the list is 100)

_FIELD_NAMES = {"用户": "user", "说明": "note", "理由说明": "explanation", "整改报告": "report",
                "退回理由": "reason for returning", "处理意见": "decision"}


def _clean(value: str | None, what: str, limit: int) -> str:
    """``value`` stripped; InvalidInput naming the field when it is empty or too long."""
    text = (value or "").strip()
    english = _FIELD_NAMES.get(what, what)
    if not text:
        raise InvalidInput(f"{what}不能为空 ({english} must not be empty)")
    if len(text) > limit:
        raise InvalidInput(f"{what}不能超过{limit}字 ({english} is {len(text)} characters; "
                           f"at most {limit})")
    return text


def _last_step(actions: tuple[str, ...]) -> str:
    names = ", ".join(f"'{action}'" for action in actions)
    return (f"(select e.action from alert_events e where e.alert_id = a.id and e.action in"
            f" ({names}) order by e.id desc limit 1)")


_LIST_SQL = (
    "select a.*, (select group_concat(number, ',') from (select number from notices n"
    " where n.alert_id = a.id order by n.id)) as notice_numbers,"
    f" {_last_step(('explain', 'accept_explanation', 'return_explanation'))} as explanation_step,"
    f" {_last_step(('report', 'accept_report', 'return_report'))} as report_step"
    " from alerts a")


class Supervision:
    """List alerts and move them along their lifecycle; every change is audited.

    Role checks belong to the web layer; this service checks that the alert exists, that the
    action is allowed from its state, and that the text is non-empty and at most 2000 chars.
    """

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]):
        self.store = store
        self.clock = clock

    def today(self) -> dt.date:
        """The local (+08:00) date: a card's deadline is a local date."""
        return self.clock().astimezone(LOCAL_TZ).date()

    def alerts(self, *, state: str | None = None, level: str | None = None,
               rule: str | None = None, case_no: str | None = None,
               dept_code: str | None = None, card: str | None = None,
               limit: int = 1000, offset: int = 0) -> list[Alert]:
        """Alerts matching every filter given, newest first. ``card="any"`` means carded."""
        where, params = _filters(state, level, rule, case_no, dept_code, card)
        sql = _LIST_SQL + where + " order by a.id desc limit ? offset ?"
        today = self.today()
        return [_alert(row, today) for row in self.store.query(sql, (*params, limit, offset))]

    def count(self, *, state: str | None = None, level: str | None = None,
              rule: str | None = None, case_no: str | None = None,
              dept_code: str | None = None, card: str | None = None) -> int:
        """How many alerts :meth:`alerts` would list with the same filters and no limit."""
        where, params = _filters(state, level, rule, case_no, dept_code, card)
        return self.store.query("select count(*) as n from alerts a" + where, params)[0]["n"]

    def alert(self, alert_id: int) -> Alert:
        """One alert with its full audit trail, oldest entry first."""
        rows = self.store.query(_LIST_SQL + " where a.id = ?", (alert_id,))
        if not rows:
            raise AlertNotFound(f"预警记录不存在 (alert {alert_id} not found)")
        alert = _alert(rows[0], self.today())
        alert.events = [AlertEvent(**row) for row in self.store.query(
            "select * from alert_events where alert_id = ? order by id", (alert_id,))]
        return alert

    def notice(self, number: str):
        """One notice as issued (a ``noticebook.Notice``: serve its ``html`` to print)."""

        with self.store.read() as db:
            found = load_notice(db.conn, number.strip())
        if found is None:
            raise NoticeNotFound(f"通知书不存在 (no notice numbered {number})")
        return found

    def focus_counts(self, day: dt.date, kinds: tuple[str, ...] = ("不予许可", "不予受理", "补正"),
                     factor: float = 2.0, min_count: int = 5) -> list:
        """重点监察 counts per department for the month of ``day`` (``edge.supervision.focus.FocusCount``)."""

        with self.store.read() as db:
            return focus_counts(db.conn, day, FocusSettings(kinds, factor, min_count))

    def acknowledge(self, alert_id: int, user: str, note: str) -> Alert:
        """签收: the department or hall manager has seen the alert."""
        return self._act(alert_id, "acknowledge", user, note, "说明")

    def explain(self, alert_id: int, user: str, text: str) -> Alert:
        """说明理由: the department's written explanation (a later one corrects, never replaces)."""
        return self._act(alert_id, "explain", user, text, "理由说明")

    def report(self, alert_id: int, user: str, text: str) -> Alert:
        """整改报告: the department's report on a card, what it put right and how."""
        return self._act(alert_id, "report", user, text, "整改报告")

    def accept_explanation(self, alert_id: int, user: str, note: str) -> Alert:
        """采纳说明: the hall manager or supervisor accepts the department's explanation."""
        return self._act(alert_id, "accept_explanation", user, note, "处理意见")

    def return_explanation(self, alert_id: int, user: str, note: str) -> Alert:
        """退回说明: the explanation does not hold; the department writes it again."""
        return self._act(alert_id, "return_explanation", user, note, "退回理由")

    def accept_report(self, alert_id: int, user: str, note: str) -> Alert:
        """采纳整改报告: the rectification is accepted."""
        return self._act(alert_id, "accept_report", user, note, "处理意见")

    def return_report(self, alert_id: int, user: str, note: str) -> Alert:
        """退回整改报告: the report is not enough; the department reports again."""
        return self._act(alert_id, "return_report", user, note, "退回理由")

    def liability(self, alert_id: int, user: str, outcome: str, note: str) -> Alert:
        """过错责任: after the card's deadline, the supervisor records the outcome.

        ``outcome`` is a key of ``LIABILITY_OUTCOMES`` (none, education, criticism, admonition,
        discipline); a later record corrects the earlier one, which stays in the trail.
        """
        if outcome not in LIABILITY_OUTCOMES:
            names = "、".join(f"{code} {name}" for code, name in LIABILITY_OUTCOMES.items())
            raise InvalidInput(f"过错责任认定结果 {outcome!r} 无效，可选：{names} "
                               f"(unknown liability outcome)")
        return self._act(alert_id, "liability", user, note, "说明", liability=outcome)

    def close(self, alert_id: int, user: str, note: str) -> Alert:
        """办结: the supervisor closes it; red alerts and cards need an explanation first."""
        return self._act(alert_id, "close", user, note, "说明")

    def escalate(self, alert_id: int, user: str, note: str) -> Alert:
        """上报: refer the alert to the city supervision centre."""
        return self._act(alert_id, "escalate", user, note, "说明")

    def acknowledge_many(self, alert_ids: list[int], user: str, note: str) -> BulkResult:
        """签收 many alerts at once (批量签收): one audit entry per alert, in one transaction.

        An alert that cannot be signed (not found, or not in a state that allows it) is left
        as it is and reported in ``refused``; the others are signed all the same.
        """
        return self._act_many(alert_ids, "acknowledge", user, note, "说明")

    def _act(self, alert_id: int, action: str, user: str, text: str, what: str,
             **columns: Any) -> Alert:
        user = _clean(user, "用户", MAX_USER)
        text = _clean(text, what, MAX_TEXT)
        at, today = iso(self.clock()), self.today()
        self.store.write(lambda tx: _apply(tx, alert_id, action, user, text, at, today,
                                           **columns))
        return self.alert(alert_id)

    def _act_many(self, alert_ids: list[int], action: str, user: str, text: str,
                  what: str) -> BulkResult:
        user = _clean(user, "用户", MAX_USER)
        text = _clean(text, what, MAX_TEXT)
        if len(alert_ids) > MAX_BULK:
            raise InvalidInput(f"一次最多处理 {MAX_BULK} 条预警 (at most {MAX_BULK} alerts "
                               f"at once; {len(alert_ids)} given)")
        at, today = iso(self.clock()), self.today()
        result = BulkResult()

        def apply(tx: Tx) -> None:
            for alert_id in dict.fromkeys(alert_ids):  # once each, in the order given
                try:
                    _apply(tx, alert_id, action, user, text, at, today)
                except (AlertNotFound, ActionNotAllowed) as exc:
                    result.refused[alert_id] = str(exc)
                else:
                    result.done.append(alert_id)

        self.store.write(apply)
        return result


@dataclass
class BulkResult:
    """What a bulk action did: the alerts changed, and why each other one was not."""

    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def _apply(tx: Tx, alert_id: int, action: str, user: str, text: str, at: str, today: dt.date,
           **columns: Any) -> None:
    """One lifecycle step on one alert, with its audit entry, inside ``tx``."""
    alert = alert_row(tx.conn, alert_id)
    if alert is None:
        raise AlertNotFound(f"预警记录不存在 (alert {alert_id} not found)")
    progress = Progress.from_actions(action for (action,) in tx.conn.execute(
        "select action from alert_events where alert_id = ? order by id", (alert_id,)))
    if action not in allowed_actions(alert, progress, today):
        raise ActionNotAllowed(_refusal(action, alert, progress, today))
    note = text
    if action == "liability":
        note = f"{liability_name(columns['liability'])}：{text}"
    change_alert(tx, alert, at=at, actor=user, action=action, note=note,
                 state=ACTION_TARGETS.get(action, alert["state"]), **columns)


def _filters(state: str | None, level: str | None, rule: str | None, case_no: str | None,
             dept_code: str | None, card: str | None) -> tuple[str, list[Any]]:
    """The ``where`` clause (with its leading space, or empty) and parameters of a listing."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"未知状态 {state} (unknown state; one of {', '.join(STATES)})")
    clauses, params = [], []
    for column, value in (("state", state), ("level", level), ("rule", rule),
                          ("case_no", case_no), ("dept_code", dept_code)):
        if value is not None:
            clauses.append(f"a.{column} = ?")
            params.append(value)
    if card == "any":
        clauses.append("a.card is not null")
    elif card is not None:
        clauses.append("a.card = ?")
        params.append(card)
    return (" where " + " and ".join(clauses) if clauses else ""), params


def _refusal(action: str, alert: dict[str, Any], progress: Progress, today: dt.date) -> str:
    state, number = alert["state"], alert["id"]
    if action == "close" and state in ACTIVE_STATES and not progress.explained \
            and needs_explanation(alert["level"], alert["case_no"]):
        return (f"须先说明理由才能办结 (alert {number} is red and needs an explanation "
                f"before it can be closed)")
    if action in ("accept_explanation", "return_explanation") and progress.explanation != "pending":
        return f"没有待审核的理由说明 (alert {number} has no explanation waiting for review)"
    if action in ("accept_report", "return_report") and progress.report != "pending":
        return f"没有待审核的整改报告 (alert {number} has no report waiting for review)"
    if action == "report" and not alert["card"]:
        return f"只有红黄牌需要报送整改报告 (alert {number} has no card to report on)"
    if action == "liability" and not liability_due(alert, today):
        due = alert["card_due"] or "—"
        return (f"整改期限（{due}）届满后才能认定过错责任 (alert {number}: the card's deadline "
                f"{due} has not passed)")
    return (f"当前状态“{STATE_NAMES.get(state, state)}”不能{ACTION_NAMES[action]} "
            f"(cannot {action} alert {number} in state {state})")


def _alert(row: dict[str, Any], today: dt.date) -> Alert:
    numbers = row.pop("notice_numbers")
    progress = Progress.from_last(row.pop("explanation_step"), row.pop("report_step"))
    alert = Alert(**row, notices=numbers.split(",") if numbers else [],
                  explained=progress.explained, explanation=progress.explanation,
                  report=progress.report)
    alert.allowed_actions = allowed_actions(row, progress, today)
    return alert
