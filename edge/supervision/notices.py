"""Cards and their notices: 黄牌 with a 限期办理通知书, 红牌 with a 整改建议书.

A red light on an open case opens a yellow card; its notice gives the department a date
(default 3 working days). If the case is still open after that date, the card turns red and a
整改建议书 is issued. This module decides which cases draw a card and writes what each notice
says; numbering, keeping and printing the notices as issued is ``edge/supervision/noticebook.py``.

Example::

    desk = CardDesk(board, CardSettings())
    notice = store.write(lambda tx: desk.issue_yellow(tx, alert, at))
    print(notice.number, notice.due_on)            # 南海电监〔2026〕1号 2026-11-12
    notice.html.startswith("<!DOCTYPE html>")     # rendered and kept as issued (noticebook.py)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass

from edge.cases import CaseBoard
from edge.storetx import Tx, iso
from edge.supervision.alerts import ACTIVE_STATES, alert_row, change_alert, change_alerts
from edge.supervision.noticebook import (
    DEADLINE_NOTICE,
    RECTIFY_NOTICE,
    Notice,
    format_number,
    render_notice_html,
    render_notice_text,
    store_notices,
    take_seqs,
)
from standard.calendar import CalendarUnknownYear
from standard.deadlines import CaseFacts, local_day
from standard.districts import hall_name
from standard.notice_layout import chinese_date

log = logging.getLogger(__name__)

_ACTIVE = "(" + ", ".join(f"'{state}'" for state in ACTIVE_STATES) + ")"
# Configuration gaps, not a department's fault: they draw no card, and they resolve themselves
# once the catalogue knows the item (edge/supervision/rules.py).
CARDLESS_RULES = frozenset({"事项缺失"})
_CARDLESS = "(" + ", ".join(f"'{rule}'" for rule in sorted(CARDLESS_RULES)) + ")"


@dataclass(frozen=True)
class CardSettings:
    """The ``[rules.cards]`` numbers (see edge/supervision/config.py)."""

    notice_due_working_days: int = 3
    rectify_working_days: int = 5
    document_word: str = "电监"
    issuer: str | None = None


def district_label(code: str) -> str:
    """南海区 for 440605, 佛山市 for the city level; the code itself for an unknown unit."""
    return hall_name(code)


class CardDesk:
    """Issues yellow and red cards with their notices, inside the rule pass's transaction."""

    def __init__(self, board: CaseBoard, settings: CardSettings):
        self.board = board
        self.settings = settings
        self._gap_logged: tuple[dt.date, int] | None = None  # (day, year) last logged

    def _due_on(self, today: dt.date, working_days: int) -> dt.date | None:
        """``working_days`` after ``today``; None when the calendar lacks the year.

        Fail closed: an official notice never carries a guessed date. Every case waiting for
        a card hits the same gap, so it is logged once a day, not once per case and pass.
        """
        try:
            return self.board.calendar.add_workdays(today, working_days)
        except CalendarUnknownYear as exc:
            if self._gap_logged != (today, exc.year):
                self._gap_logged = (today, exc.year)
                log.warning("cards due on %s wait for the calendar override: %s", today, exc)
            return None

    def issuer(self, district_code: str) -> str:
        return self.settings.issuer or f"{hall_name(district_code)}行政服务中心电子监察室"

    def work(self, conn, today: dt.date, case_nos: set[str] | None = None
             ) -> tuple[list[dict], list[dict]]:
        """(alerts that need a yellow card, yellow cards due to turn red) as of ``today``."""
        only, params, is_open = "", [], "c.is_open = 1"
        if case_nos is not None:  # by the cases' keys ("+" keeps SQLite off the is_open index)
            only, is_open = f" and c.case_no in ({','.join('?' * len(case_nos))})", "+c.is_open = 1"
            params = list(case_nos)
        # One card at a time per case and department: a joint case's participating department
        # gets its own card for its own share, whatever the lead's.
        need_yellow = conn.execute(
            f"select a.id, a.case_no, a.dept_code from {_join_order(conn, case_nos)}"
            " on a.case_no = c.case_no where a.level = 'red' and a.card is null"
            f" and a.cleared_at is null and a.rule not in {_CARDLESS}"
            f" and a.state in {_ACTIVE} and {is_open}{only} and not exists (select 1 from"
            " alerts b where b.case_no = a.case_no and b.dept_code is a.dept_code"
            " and b.card is not null and b.state not in ('closed', 'withdrawn'))"
            " order by a.id", params).fetchall()
        first: dict[tuple[str, str | None], int] = {}
        for alert_id, case_no, dept_code in need_yellow:
            first.setdefault((case_no, dept_code), alert_id)
        need_red = conn.execute(  # few yellow cards: from their index (alerts_card)
            "select a.id, a.dept_code, c.dept_code, c.facts from alerts a join cases c"
            " on c.case_no = a.case_no where a.card = 'yellow'"
            " and a.state not in ('closed', 'withdrawn')"
            f" and a.card_due < ? and {is_open}{only} order by a.id",
            [today.isoformat(), *params]).fetchall()
        return ([alert_row(conn, i) for i in first.values()],
                [alert_row(conn, i) for i, dept, lead, facts in need_red
                 if dept in (None, lead) or not _fed_back(facts, dept)])

    def _cases(self, tx: Tx, case_nos: list[str]) -> dict[str, CaseFacts]:
        return {case_no: CaseFacts.from_json(text) for case_no, text in tx.conn.execute(
            "select case_no, facts from cases where case_no in (select value from json_each(?))",
            (json.dumps(case_nos),))}

    def _red_reasons(self, tx: Tx, case_nos: list[str]) -> dict[tuple[str, str | None], list[str]]:
        """The active red findings of the cases, by (case, department), in alert order."""
        reasons: dict[tuple[str, str | None], list[str]] = {}
        for case_no, dept_code, rule, detail in tx.conn.execute(
                "select case_no, dept_code, rule, detail from alerts where case_no in"
                f" (select value from json_each(?)) and level = 'red' and state in {_ACTIVE}"
                " and cleared_at is null order by id", (json.dumps(case_nos),)):
            reasons.setdefault((case_no, dept_code), []).append(f"{rule}：{detail}")
        return reasons

    def _case_lines(self, facts: CaseFacts, at: dt.datetime, dept_code: str,
                    reasons: list[str]) -> list[list[str]]:
        """The notice's table; for a participating department, its own share of the case."""
        status = self.board.evaluate(facts, at)
        item = self.board.catalogue.get(facts.item_code)
        lines = [["办件编号", facts.case_no],
                 ["事项名称", f"{item.name}（{facts.item_code}）" if item else facts.item_code]]
        share = next((d for d in status.departments if d.dept_code == dept_code), None)
        if dept_code != facts.dept_code and share is not None:
            lines.append(["牵头部门", self.dept_name(facts.dept_code)])
            if share.started_on:
                lines.append(["分送日期", chinese_date(share.started_on)])
            if share.deadline:
                lines.append(["本部门办理期限", f"{chinese_date(share.deadline)}"
                                                f"（{share.days}个工作日）"])
            lines.append(["办理情况", "已反馈" if share.back_on else "未反馈"])
            lines.append(["异常情形", "；".join(reasons) or "；".join(share.reasons)])
            return lines
        if facts.accepted_on:
            lines.append(["受理日期", chinese_date(facts.accepted_on)])
        if status.deadline:
            lines.append(["承诺办结日期", chinese_date(status.deadline)])
        if status.legal_deadline:
            lines.append(["法定办结日期", chinese_date(status.legal_deadline)])
        lines.append(["当前环节", facts.stage or "未受理"])
        lines.append(["异常情形", "；".join(reasons) or "；".join(status.reasons)])
        return lines

    def dept_name(self, dept_code: str) -> str:
        """The department's name from the catalogue (as an item's or a participating one)."""
        for item in self.board.catalogue.values():
            if item.dept_code == dept_code:
                return item.dept_name
        for item in self.board.catalogue.values():
            for joint in item.joint_depts:
                if joint.dept_code == dept_code:
                    return joint.dept_name
        return dept_code

    def issue_yellow(self, tx: Tx, alert: dict, at: dt.datetime) -> Notice | None:
        """黄牌 + 限期办理通知书 on ``alert``; None when the calendar cannot give a due date."""
        issued = self.issue_yellow_many(tx, [alert], at)
        return issued[0] if issued else None

    def issue_yellow_many(self, tx: Tx, alerts: list[dict], at: dt.datetime) -> list[Notice]:
        """``issue_yellow`` for a pass's alerts, numbered in their order; one statement per
        table (a next day may card thousands of cases). Empty without a due date."""
        today = local_day(at)
        due = self._due_on(today, self.settings.notice_due_working_days) if alerts else None
        if due is None:
            return []
        case_nos = sorted({alert["case_no"] for alert in alerts})
        cases, reasons = self._cases(tx, case_nos), self._red_reasons(tx, case_nos)
        contents = []
        for alert in alerts:
            facts = cases[alert["case_no"]]
            dept = alert["dept_code"] or facts.dept_code
            share = dept != facts.dept_code
            what = "你单位协办的下列联办件已超过本部门办理时限" if share else "你单位办理的下列办件已亮红灯"
            finish, verb = ("向牵头部门反馈办理意见", "反馈") if share else ("依法办结该件", "办结")
            contents.append((alert, facts, {
                "version": 1, "kind": DEADLINE_NOTICE, "title": DEADLINE_NOTICE,
                "recipient": self.dept_name(dept),
                "opening": f"经行政审批电子监察系统监测，{what}，现发出黄牌督办：",
                "lines": self._case_lines(facts, at, dept,
                                          reasons.get((facts.case_no, alert["dept_code"]), [])),
                "joint_share": share,
                "requirements": [
                    f"请你单位于{chinese_date(due)}前{finish}，并在电子监察系统中书面说明理由"
                    "（原因及整改措施）。",
                    f"逾期仍未{verb}的，将升级为红牌督办并发出整改建议书。",
                    "特此通知。"],
                "issuer": self.issuer(facts.district_code), "issued_on": today.isoformat(),
                "due_on": due.isoformat(),
            }))
        notices = self._issue(tx, contents, at)
        change_alerts(tx, [(alert, notice.number) for alert, notice in zip(alerts, notices)],
                      at=iso(at), actor="system", action="yellow_card", card="yellow",
                      card_due=due.isoformat())
        return notices

    def issue_red(self, tx: Tx, alert: dict, at: dt.datetime) -> Notice | None:
        """红牌 + 整改建议书 on an alert whose yellow card's date has passed."""
        today = local_day(at)
        due = self._due_on(today, self.settings.rectify_working_days)
        if due is None:
            return None
        facts = self._cases(tx, [alert["case_no"]])[alert["case_no"]]
        dept = alert["dept_code"] or facts.dept_code
        finish, verb = (("向牵头部门反馈办理意见", "反馈") if dept != facts.dept_code
                        else ("依法办结该件", "办结"))
        previous = tx.conn.execute(
            "select number from notices where alert_id = ? and kind = ? order by id desc limit 1",
            (alert["id"], DEADLINE_NOTICE)).fetchone()
        issuer = self.issuer(facts.district_code)
        earlier = f"《{DEADLINE_NOTICE}》（{previous[0]}）" if previous else f"《{DEADLINE_NOTICE}》"
        reasons = self._red_reasons(tx, [facts.case_no]).get((facts.case_no, alert["dept_code"]))
        content = {
            "version": 1, "kind": RECTIFY_NOTICE, "title": RECTIFY_NOTICE,
            "recipient": self.dept_name(dept),
            "opening": (f"你单位办理的下列办件经{earlier}督办，至{chinese_date(alert['card_due'])}"
                        f"仍未{verb}，现升级为红牌督办，并提出以下整改建议："),
            "lines": self._case_lines(facts, at, dept, reasons or []),
            "joint_share": dept != facts.dept_code,
            "requirements": [
                f"一、立即{finish}，并书面说明逾期未{verb}的原因；",
                "二、查明责任，对相关责任人依规处理；",
                "三、查找制度和流程上的问题，落实整改措施，防止类似问题再次发生。",
                f"请于{chinese_date(due)}前将整改情况书面报送{issuer}。"],
            "issuer": issuer, "issued_on": today.isoformat(), "due_on": due.isoformat(),
            "follows": previous[0] if previous else None,
        }
        (notice,) = self._issue(tx, [(alert, facts, content)], at)
        change_alert(tx, alert, at=iso(at), actor="system", action="red_card",
                     note=notice.number, card="red", card_due=due.isoformat())
        return notice

    def _issue(self, tx: Tx, contents: list[tuple[dict, CaseFacts, dict]], at: dt.datetime
               ) -> list[Notice]:
        """Number, render, store and queue notices ``(alert, case, content)`` in that order."""
        issued_at, notices = iso(at), []
        seqs = take_seqs(tx, [(facts.district_code, int(content["issued_on"][:4]))
                              for _, facts, content in contents])
        for (alert, facts, content), (year, seq) in zip(contents, seqs):
            number = format_number(facts.district_code, year, seq, self.settings.document_word)
            content["number"] = number
            notice = Notice(number, content["kind"], facts.district_code, year, seq,
                            alert["id"], facts.case_no, alert["dept_code"] or facts.dept_code,
                            issued_at, content["issued_on"], content["due_on"], content)
            notices.append(dataclasses.replace(notice, html=render_notice_html(notice),
                                               text=render_notice_text(notice)))
        store_notices(tx, notices)
        return notices


def _join_order(conn, case_nos: set[str] | None) -> str:
    """Cases and their alerts, walked from the smaller side (CROSS JOIN keeps the order).

    A box's finished history may hold far more red alerts than it has open cases, and a busy
    hall far more open cases than alerts; a pass over given cases starts from their keys.
    """
    if case_nos is not None:
        return "cases c cross join alerts a"
    open_cases = conn.execute("select count(*) from cases where is_open = 1").fetchone()[0]
    alerts = conn.execute("select coalesce(max(id), 0) from alerts").fetchone()[0]
    return "cases c cross join alerts a" if open_cases <= alerts else \
        "alerts a cross join cases c"


def _fed_back(facts_json: str, dept_code: str) -> bool:
    """True when the participating department has sent its 反馈 (its card stops there)."""
    return "back_on" in CaseFacts.from_json(facts_json).shares.get(dept_code, {})


def notice_sms_text(notice: Notice) -> str:
    """The short message to the department's contact person about a notice."""
    short = district_label(notice.district_code)
    due = chinese_date(notice.due_on) if notice.due_on else ""
    share = notice.content.get("joint_share")
    what, verb = ("联办件", "反馈") if share else ("办件", "办结")
    if notice.kind == DEADLINE_NOTICE:
        late = "已超过本部门办理时限" if share else "已亮红灯"
        return (f"【{short}电子监察】{notice.content['recipient']}：{what}{notice.case_no}{late}，"
                f"已发出黄牌及限期办理通知书{notice.number}，请于{due}前{verb}并说明理由。")
    return (f"【{short}电子监察】{notice.content['recipient']}：{what}{notice.case_no}逾期未{verb}，"
            f"已升级红牌并发出整改建议书{notice.number}，请于{due}前报送整改情况。")


