"""Verdicts that later-arriving events disprove are withdrawn, never silently deleted.

A platform may deliver a case's events late or in slices (a backfill, catching up after an
outage). Until its 办结 arrives, the box judges the half-told case with the pass's clock: an
accepted case past its promised date looks open and overdue, so 超期 opens and a yellow card and
its 限期办理通知书 are issued. When the 办结 then arrives dated on or before the deadline, the
case was on time all along: the finding was false when it was made.

Such an alert becomes ``withdrawn`` (已撤销), by ``system``, with an audit entry naming the
evidence (the event's id, kind, time and arrival) and the cards issued on it; its notices stay
as issued but are void (作废): the notice pages say so, and the hub counts neither the cards nor
the warnings of a withdrawn alert. The rules so withdrawn are those a pass finds from "now" on an
open case or share:

- 超期: the case (or a joint case's department share) is now finished *on time* and its
  finishing event occurred before the alert was opened. A case that really finished late keeps
  its 超期 as before (its 超期办结 opens as usual).
- 超法定时限 and 临近时限: the case (or share) is finished, the rule no longer finds it, and
  the finishing event occurred before the alert was opened.
- 环节超时 and 环节临近时限: the rule no longer finds it, some events that occurred before the
  alert opened arrived after it, and the case told by every event that had occurred by then,
  judged on that day, does not have the finding (the next stage had in fact begun in time).

- 程序异常: the case's facts are folded in the order its events arrived, so a stage that arrives
  after the next one (or a 受理 after its 办结) looks out of order or skipped, and stays so. Some
  events that occurred before the alert opened arrived after it, and the case told by its events
  in the order they occurred, both as of the alert's opening and with every event now known,
  does not have the finding (_procedure_false). A stage truly skipped, or truly out of order by
  the events' own times, keeps its finding (events of the same moment are taken in the
  statutory order of their stages, other events after them, an ending last).

A finding cured by action (the 办结 came after the alert opened) is not disproven: it clears as
before. A withdrawn alert does not stand in the way of a real finding after it: ``found_anew``
says which findings open a new alert (its own id and card) beside the withdrawn one. The decision depends only on the case's facts and events and on the alert's opening
time, so the fast pass and a full judgement withdraw the same alerts.

Example::

    plan.withdraw = disproven(conn, board, today, existing, findings)
    ...
    withdraw(tx, plan.withdraw, at, result)   # inside the pass's transaction
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from edge.cases import CaseBoard
from edge.ingest import Rejection, validate
from edge.storetx import Tx, iso
from edge.supervision.alerts import SYSTEM, alert_row, change_alert
from edge.supervision.notices import district_label
from edge.supervision.verdicts import CaseRule, CaseView, RuleSettings, case_findings
from standard.deadlines import apply_event
from standard.facts import CaseFacts
from standard.records import LOCAL_TZ, STAGE_RANK, TERMINAL_EVENTS
from standard.shares import participants
from standard.supervision import WITHDRAWN

# Rules whose finding is made from the pass's clock on an open case or share.
WITHDRAWABLE = frozenset({"超期", "超法定时限", "临近时限"})
# Findings about the stage in progress: judged again as of the alert's opening (_stage_false).
STAGE_RULES = frozenset({"环节超时", "环节临近时限"})
# Found from the order the events arrived in, so it stays found: judged in occurrence order.
PROCEDURE = "程序异常"
_LAST = len(STAGE_RANK) + 1  # after every stage (办结, the last, included)
FEEDBACK = "反馈"


class Withdrawal(NamedTuple):
    alert_id: int
    subject: str
    rule: str
    note: str  # the audit entry's text, naming the evidence


def disproven(conn, board: CaseBoard, today: dt.date,
              existing: Mapping[tuple[str, str], tuple], findings: Mapping[tuple[str, str], Any],
              rules: Sequence[CaseRule] = (), settings: RuleSettings | None = None
              ) -> list[Withdrawal]:
    """The alerts of the judged cases that their events now disprove.

    ``existing``: the pass's stored alerts of the judged cases, ``(subject, rule) -> (id,
    state, cleared_at, case_no)``; ``findings``: what the pass found, by the same key;
    ``rules`` and ``settings``: the engine's, to judge a stage finding as of its opening.
    """
    candidates: dict[str, list[tuple[str, str, int]]] = {}
    for (subject, rule), (alert_id, state, _cleared, case_no) in existing.items():
        if state == WITHDRAWN or case_no is None:
            continue
        if (rule in WITHDRAWABLE | STAGE_RULES and (subject, rule) not in findings
                or rule == PROCEDURE):  # still found, from the arrival order: judged below
            candidates.setdefault(case_no, []).append((subject, rule, alert_id))
    out = []
    for case_no, alerts in sorted(candidates.items()):
        found = conn.execute("select facts from cases where case_no = ?", (case_no,)).fetchone()
        if found is None:
            continue
        facts = CaseFacts.from_json(found[0])
        status = board.status(facts, today)
        for subject, rule, alert_id in sorted(alerts, key=lambda a: a[2]):
            if rule == PROCEDURE:
                reason = _procedure_false(conn, board, rules, settings or RuleSettings(), facts,
                                          subject, alert_id)
            elif rule in STAGE_RULES:
                reason = _stage_false(conn, board, rules, settings or RuleSettings(), facts,
                                      subject, rule, alert_id)
            else:
                reason = _why_false(conn, facts, status, subject, rule, alert_id)
            if reason is not None:
                out.append(Withdrawal(alert_id, subject, rule, reason))
    return out


def _why_false(conn, facts: CaseFacts, status, subject: str, rule: str,
               alert_id: int) -> str | None:
    """The audit note when the alert's finding was false when made; None when it stands."""
    dept = subject.split(":dept:", 1)[1] if ":dept:" in subject else None
    limit = "办结期限"
    if dept is None:
        if facts.terminal is None or (rule == "超期" and status.outcome == "late"):
            return None  # still open, or really finished late (超期办结 stands)
        deadline, finished, verb = status.deadline, facts.finished_on, "办结"
        if rule == "超法定时限":  # about the legal limit: the case may have been late otherwise
            deadline, limit = status.legal_deadline, "法定办结期限"
        evidence = _event(conn, facts.case_no, facts.terminal, None)
    else:
        share = next((s for s in status.departments if s.dept_code == dept), None)
        if share is None or share.state != "done":
            return None  # still waiting, or really late (its 超期 stays found)
        deadline, finished = share.deadline, share.back_on or facts.finished_on
        verb = "反馈" if share.back_on else "办结"
        evidence = _event(conn, facts.case_no, FEEDBACK, dept) if share.back_on else None
        if evidence is None and facts.terminal is not None:
            evidence = _event(conn, facts.case_no, facts.terminal, None)
    opened_at = conn.execute("select opened_at from alerts where id = ?",
                             (alert_id,)).fetchone()[0]
    if evidence is None or _moment(evidence[2]) >= _moment(opened_at):
        return None  # cured by action after the alert opened: it clears as before
    event_id, kind, occurred_at, received_at = evidence
    when = _moment(occurred_at).astimezone(LOCAL_TZ)
    came = _moment(received_at).astimezone(LOCAL_TZ)
    opened = _moment(opened_at).astimezone(LOCAL_TZ)
    by = f"，未超过{limit}{deadline}" if deadline is not None else ""
    arrived = f"，{came:%Y-%m-%d %H:%M}才到达" if came > opened else ""
    return (f"后到数据表明判断有误：事件{event_id}（{kind}，{when:%Y-%m-%d %H:%M}）早于本预警开启时间"
            f"（{opened:%Y-%m-%d %H:%M}）{arrived}，{finished}已{verb}{by}；本预警撤销"
            + _void_text(conn, alert_id))


def _stage_false(conn, board: CaseBoard, rules: Sequence[CaseRule], settings: RuleSettings,
                 facts: CaseFacts, subject: str, rule: str, alert_id: int) -> str | None:
    """A stage finding was false when made when events that occurred before the alert opened
    but arrived after it (a stage's end, a pause) make the rules, judging the case as it then
    was, not find it. None when it stands (or was cured by what happened after)."""
    opened, events = _events(conn, facts.case_no, alert_id)
    told = _told_then(events, opened, rules, rule)
    if told is None:
        return None
    then, late, enabled = told
    day = opened.astimezone(LOCAL_TZ).date()
    joint = participants(board.catalogue.get(facts.item_code))
    if _finds(board, facts, enabled, settings, joint, then, day, subject) is not False:
        return None
    # the evidence named: of the latest arrival (what this pass was judging), the earliest
    arrival = max(_moment(row[3]) for row, _at in late)
    (event_id, kind, occurred_at, received_at, _body), when = min(
        ((row, at) for row, at in late if _moment(row[3]) == arrival),
        key=lambda pair: (pair[1], pair[0][0]))
    return (f"后到数据表明判断有误：事件{event_id}（{kind}，{when.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}）"
            f"早于本预警开启时间（{opened.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}），"
            f"{_moment(received_at).astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}才到达；按当时已发生的事件判断，"
            f"{rule}并不成立；本预警撤销" + _void_text(conn, alert_id))


def _procedure_false(conn, board: CaseBoard, rules: Sequence[CaseRule], settings: RuleSettings,
                     facts: CaseFacts, subject: str, alert_id: int) -> str | None:
    """A 程序异常 was false when made when events that occurred before the alert opened but
    arrived after it (a missing stage, the 受理 of a case already 办结) put the stages in their
    order: the case folded from its events in the order they occurred has no 程序异常, as of
    the alert's opening and with every event now known (a real anomaly since keeps it). None
    when it stands."""
    opened, events = _events(conn, facts.case_no, alert_id)
    occurred = sorted(events, key=lambda pair: (pair[1], _tie_rank(pair[0][1])))
    told = _told_then(occurred, opened, rules, PROCEDURE)
    if told is None:
        return None
    then, late, enabled = told
    day = opened.astimezone(LOCAL_TZ).date()
    last = max(day, occurred[-1][1].astimezone(LOCAL_TZ).date())
    joint = participants(board.catalogue.get(facts.item_code))
    for told, on in ((then, day), (occurred, last)):
        if _finds(board, facts, enabled, settings, joint, told, on, subject) is not False:
            return None
    # the evidence named: the events of the latest arrival (what this pass was judging)
    came = max(_moment(row[3]) for row, _at in late)
    latest = [(row, at) for row, at in late if _moment(row[3]) == came]
    named = "、".join(f"{row[0]}（{row[1]}，{at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}）"
                      for row, at in latest[:3])
    named += f"等{len(latest)}个事件" if len(latest) > 3 else ""
    return (f"后到数据表明判断有误：事件{named}早于本预警开启时间"
            f"（{opened.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}），"
            f"{came.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}才到达；按事件发生的先后，办理环节的顺序无误，"
            f"{PROCEDURE}并不成立；本预警撤销" + _void_text(conn, alert_id))


def _told_then(events: list, opened: dt.datetime, rules: Sequence[CaseRule], rule: str
               ) -> tuple[list, list, list[CaseRule]] | None:
    """(the events that occurred before the alert opened, those of them that arrived after it,
    the rule if enabled); None when none arrived after it or the rule is not enabled."""
    then = [(row, at) for row, at in events if at < opened]
    late = [(row, at) for row, at in then if _moment(row[3]) > opened]
    enabled = [r for r in rules if r.name == rule]
    return (then, late, enabled) if late and enabled else None


def _tie_rank(kind: str) -> int:
    """Events of the same moment: stages in their statutory order, then any other event (a 分送,
    a 反馈, a 补正: they happen within a stage; the sort is stable, so those keep the order they
    arrived in), an ending (办结, a refusal) last."""
    if kind in TERMINAL_EVENTS:
        return _LAST
    return STAGE_RANK.get(kind, _LAST - 1)


def _events(conn, case_no: str, alert_id: int | None
            ) -> tuple[dt.datetime | None, list[tuple[tuple, dt.datetime]]]:
    """The alert's opening (None without one) and the case's events in arrival order, each
    with its moment."""
    opened = None if alert_id is None else _moment(conn.execute(
        "select opened_at from alerts where id = ?", (alert_id,)).fetchone()[0])
    return opened, [(row, _moment(row[2])) for row in conn.execute(
        "select event_id, event_type, occurred_at, received_at, body from case_events"
        " where case_no = ? order by rowid", (case_no,))]


def _finds(board: CaseBoard, case: CaseFacts, enabled: Sequence[CaseRule],
           settings: RuleSettings, joint: frozenset[str],
           told: list[tuple[tuple, dt.datetime]], day: dt.date, subject: str) -> bool | None:
    """Whether the rules find ``subject`` on the case folded from ``told`` (in that order),
    judged on ``day``; None when an event cannot be told again (leave the alert as it is). The
    case is the stored one's (its lead department, whatever event now comes first)."""
    found = _told_findings(board, case, enabled, settings, joint, told, day)
    return None if found is None else any(f.subject == subject for f in found)


def _told_findings(board: CaseBoard, case: CaseFacts, enabled: Sequence[CaseRule],
                   settings: RuleSettings, joint: frozenset[str],
                   told: list[tuple[tuple, dt.datetime]], day: dt.date) -> list | None:
    """The findings of ``enabled`` on the case folded from ``told``; None when it cannot be."""
    was = CaseFacts(case.case_no, case.item_code, case.dept_code, case.district_code)
    for row, _at in told:
        event = validate(0, row[4])
        if isinstance(event, Rejection):
            return None
        was = apply_event(was, event, joint, in_place=True)
    if not told:
        return None
    item = board.catalogue.get(was.item_code)
    return case_findings(CaseView(was, board.status(was, day), item), enabled, settings)


def found_anew(conn, board: CaseBoard, today: dt.date, findings: Sequence[Any],
               rules: Sequence[CaseRule] = (), settings: RuleSettings | None = None,
               events_changed: bool = True) -> list[Any]:
    """Of the findings whose (subject, rule) last had an alert withdrawn, those to open a new
    alert for (its own id, cards and record at the hub).

    Every rule but 程序异常 is withdrawn only when the pass no longer finds it, so finding it
    again is a new occurrence (a later stage over its limit). 程序异常 is found from the order
    the events arrived in and so stays found after its withdrawal: it opens a new alert only
    when the case told by its events in the order they occurred, every event now known, has a
    程序异常 for that subject (a real one since, such as an operation after 办结), with that
    telling's detail. Only a pass over changed cases (``events_changed``) can see one.
    """
    out, procedures = [], []
    for finding in findings:
        if finding.rule != PROCEDURE:
            out.append(finding)
        elif events_changed and finding.case_no is not None:
            procedures.append(finding)
    enabled = [r for r in rules if r.name == PROCEDURE]
    for finding in procedures if enabled else ():
        row = conn.execute("select facts from cases where case_no = ?",
                           (finding.case_no,)).fetchone()
        if row is None:
            continue
        facts = CaseFacts.from_json(row[0])
        _opened, events = _events(conn, facts.case_no, None)
        occurred = sorted(events, key=lambda pair: (pair[1], _tie_rank(pair[0][1])))
        joint = participants(board.catalogue.get(facts.item_code))
        told = _told_findings(board, facts, enabled, settings or RuleSettings(), joint,
                              occurred, today) or []
        real = next((f for f in told if f.subject == finding.subject), None)
        if real is not None:
            out.append(replace(finding, detail=real.detail))
    return out


def _event(conn, case_no: str, kind: str, dept: str | None
           ) -> tuple[str, str, str, str] | None:
    """The earliest event of that kind on the case (of that department when given)."""
    sql = ("select event_id, event_type, occurred_at, received_at from case_events"
           " where case_no = ? and event_type = ?")
    params: list[Any] = [case_no, kind]
    if dept is not None:
        sql += " and json_extract(body, '$.dept_code') = ?"
        params.append(dept)
    rows = conn.execute(sql, params).fetchall()
    return min(rows, key=lambda row: (_moment(row[2]), row[0])) if rows else None


def _void_text(conn, alert_id: int) -> str:
    numbers = [row[0] for row in conn.execute(
        "select number from notices where alert_id = ? order by id", (alert_id,))]
    return f"，据此发出的{'、'.join(numbers)}作废" if numbers else ""


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def withdraw(tx: Tx, withdrawals: list[Withdrawal], at: dt.datetime, result
             ) -> list[tuple[int, str | None, str, str]]:
    """Mark the alerts withdrawn, each with its audit entry (sent to the hub with the alert).

    Returns what to tell the departments whose notices are now void: ``(alert id, dept_code,
    text, notice number)`` for the notification queue, the last notice of each alert.
    """
    now, tell = iso(at), []
    for found in withdrawals:
        alert = alert_row(tx.conn, found.alert_id)
        if alert is None or alert["state"] == WITHDRAWN:
            continue
        change_alert(tx, alert, at=now, actor=SYSTEM, action="withdraw", note=found.note,
                     state=WITHDRAWN, cleared_at=alert["cleared_at"] or now)
        result.note("withdrawn", (found.subject, found.rule))
        notices = tx.conn.execute("select number, district_code from notices where alert_id = ?"
                                  " order by id", (alert["id"],)).fetchall()
        if notices:
            numbers = [number for number, _district in notices]
            text = void_sms_text(alert, numbers, notices[0][1])
            tell.append((alert["id"], alert["dept_code"], text, numbers[-1]))
    return tell


def void_sms_text(alert: dict, numbers: list[str], district_code: str) -> str:
    """The short message telling the department its card's notices are void.

    >>> void_sms_text({"case_no": "NH1", "rule": "超期"}, ["南海电监〔2026〕1号"], "440605")
    '【南海区电子监察】办件NH1的超期判断已撤销（后到数据表明判断有误），南海电监〔2026〕1号作废，无需办理。'
    """
    return (f"【{district_label(district_code)}电子监察】办件{alert['case_no']}的{alert['rule']}"
            f"判断已撤销（后到数据表明判断有误），{'、'.join(numbers)}作废，无需办理。")

