"""Supervision rules (预警纠错): case lights become alerts, cards and notifications.

The rules themselves are in edge/supervision/verdicts.py. The engine runs the enabled rules on
the cases waiting to be judged (edge/backlog.py: every case whose events changed, however they
came, open or finished, and the cases of a catalogue item or calendar that changed), then on
every open case (time moves their deadlines), plus the 重点监察 monthly counts, against the same
deadline engine that computes the lights. It keeps one live alert per (subject, rule): a second
pass over unchanged data writes nothing; a finding after a withdrawn alert opens a new one
(edge/supervision/withdrawal.py ``found_anew``). In the same transaction it issues the cards that are due
(edge/supervision/notices.py), queues the notifications (edge/supervision/notify/) and removes
the judged cases from the waiting list. Comparing a pass's findings with the stored alerts
(what opens, reopens, recurs, is renewed or cleared) is edge/supervision/passplan.py.

When a condition no longer holds, its alert is marked: a yellow warning still open or
acknowledged (or a 事项缺失, once the catalogue knows the item) is resolved by "system";
anything else (red, or already explained or escalated) only gets ``cleared_at`` and an audit
entry, because people still have to explain and close it.

Example::

    engine = RuleEngine(store, board, cards=CardDesk(board, CardSettings()))
    result = engine.check(at=datetime(2026, 11, 9, 9, 0, tzinfo=LOCAL_TZ))
    print("\\n".join(result.lines()))
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Sequence
from itertools import groupby
from operator import itemgetter

from edge import backlog
from edge.cases import CaseBoard
from edge.memory import cycle_collector_paused, give_back
from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision.alerts import (
    ACTIVE_STATES,
    SYSTEM,
    Finding,
    alert_row,
    change_alert,
    change_alerts,
    open_alert,
    open_alerts,
)
from edge.supervision.basis import JudgedBasis, item_digest
from edge.supervision.focus import FocusCounter, FocusSettings, focus_findings
from edge.supervision.judging import ALL_OPEN, STALE, Judged, SpreadJudge, judge
from edge.supervision.notices import (
    CARDLESS_RULES,
    CardDesk,
    district_label,
    notice_sms_text,
)
from edge.supervision.notify import NotificationQueue
from edge.supervision.passplan import CLEARED, PassPlan, diff, existing_alerts, live_alert_row
from edge.supervision.passresult import KEPT, PassResult  # noqa: F401 (re-exported)
from edge.supervision.remembered import (
    RememberedVerdicts,
    basis_fingerprint,
    decode_verdict,
    encode_verdict,
    facts_digest,
)
from edge.supervision.schedule import Scheduler, next_run
from edge.supervision.verdicts import (
    CASE_RULES,
    RULE_DESCRIPTIONS,
    CaseRule,
    CaseView,
    RuleSettings,
    standard_only,
)
from edge.supervision.withdrawal import disproven, found_anew, withdraw
from standard.catalogue import departments
from standard.deadlines import CaseFacts, local_day

Progress = Callable[[int, int], None]  # (cases judged so far, cases in this pass)
log = logging.getLogger(__name__)
_ACTIVE = "(" + ", ".join(f"'{state}'" for state in ACTIVE_STATES) + ")"


# Cases judged per read and write of a pass over the cases waiting. What a chunk allocates (its
# findings, alert rows, audit entries and outbox records until the commit) is the box's peak
# memory while it judges a backlog: at 500,000 cases 5,000 a chunk peaked at 310 MB, 2,000 at
# 269 MB (goal < 300 MB, issue 15), judging the whole backlog no slower (docs/box.md).
CHUNK = 2_000


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
        self._standard = standard_only(self.rules)  # verdicts.quiet holds for these rules
        self.settings = settings or RuleSettings()
        self.focus = focus
        self.cards = cards
        self.queue = queue
        self.on_queued = on_queued
        self.interval_seconds = interval_seconds
        self.day_start = day_start
        self._focus = FocusCounter(focus) if focus is not None else None
        self._lock = threading.Lock()  # one pass at a time: a pass reads, decides, then writes
        # What verdicts are judged against (catalogue, calendar, light settings) and its
        # fingerprint; each open case's verdict is kept on disk (edge/supervision/remembered.py).
        self._basis: tuple = (None, None, None)
        self._fingerprint = ""
        self.remembered = RememberedVerdicts(store)
        self.basis = JudgedBasis(store)
        self.chunk = CHUNK
        # The pass over open cases judges them range by range, over both cores when many.
        self.spread = SpreadJudge(getattr(store, "path", None), board, self.rules, self.settings)

    @property
    def dept_names(self) -> dict[str, str]:
        return departments(self.board.catalogue)  # joint items' participants included

    def check(self, at: dt.datetime, case_nos: set[str] | None = None,
              progress: Progress | None = None) -> PassResult:
        """One pass as of the aware moment ``at``: the cases waiting to be judged, then every
        open case; or just ``case_nos``. ``progress`` hears how far a long pass has got."""
        result = PassResult(at)
        if case_nos is not None:
            if case_nos:
                with self._lock:
                    self._check(at, case_nos, result)
        else:
            self.basis.sync(self.board.catalogue, self.board.calendar)
            self._drain(at, result, progress, also_open=True)
        if result.notifications and self.on_queued:
            self.on_queued()
        return result

    def drain(self, at: dt.datetime, progress: Progress | None = None,
              give_way: Callable[[], bool] | None = None) -> PassResult:
        """Judge the cases waiting to be judged (edge/backlog.py), a chunk at a time, until
        none is left or ``give_way()`` says to stop between chunks."""
        result = PassResult(at)
        self.basis.sync(self.board.catalogue, self.board.calendar)
        self._drain(at, result, progress, also_open=False, give_way=give_way)
        if result.notifications and self.on_queued:
            self.on_queued()
        return result

    def _drain(self, at: dt.datetime, result: PassResult, progress: Progress | None,
               also_open: bool, give_way: Callable[[], bool] | None = None) -> None:
        with self.store.read() as db:
            total = backlog.waiting(db.conn)
            if also_open:  # an open case waiting to be judged is judged (and counted) once
                total += db.conn.execute(
                    "select count(*) from cases where is_open = 1 and case_no not in"
                    " (select case_no from cases_to_judge)").fetchone()[0]
        after = judged = 0
        while not (give_way is not None and give_way()):
            with self._lock:  # one chunk at a time: the checker and the schedule take turns
                with self.store.read() as db:
                    marks = backlog.take(db.conn, self.chunk, after)
                if not marks:
                    break
                after = marks[-1][0]
                before = result.checked
                self._check(at, {case_no for _id, case_no in marks}, result)
                del marks
                give_back()  # a chunk's facts, findings and rows are freed: return the pages
            judged += result.checked - before
            if progress is not None:
                progress(judged, max(total, judged))
        if also_open:
            with self._lock:
                before = result.checked
                self._check(at, None, result)
            judged += result.checked - before
            if progress is not None:
                progress(judged, max(total, judged))

    def _check(self, at: dt.datetime, case_nos: set[str] | None, result: PassResult) -> None:
        with cycle_collector_paused():  # a pass's findings and rows live until it is written
            self._judge_and_write(at, case_nos, result)

    def _judge_and_write(self, at: dt.datetime, case_nos: set[str] | None,
                         result: PassResult) -> None:
        today = local_day(at)
        plan = PassPlan()
        findings: dict[tuple[str, str], Finding] = {}
        with self.store.read() as db:
            conn = db.conn
            # The marks first, the facts after: a case marked again in between keeps its mark.
            plan.marks = backlog.marks_for(conn, case_nos) if case_nos is not None else []
            evaluated, judged_open = self._judge_all(conn, case_nos, today, plan, findings)
            if case_nos is None and self._focus is not None:
                counts = self._focus.counts(conn, today)
                for finding in focus_findings(counts, self._focus.settings, self.dept_names):
                    findings[(finding.subject, finding.rule)] = finding
            existing = existing_alerts(conn, case_nos)
            diff(plan, findings, existing, evaluated)
            if case_nos is not None:  # new events can disprove what was found while open
                plan.withdraw = disproven(conn, self.board, today, existing, findings,
                                          self.rules, self.settings)
            if plan.renew:  # a real finding after a withdrawn one: a new alert (withdrawal.py)
                plan.open += found_anew(conn, self.board, today, plan.renew, self.rules,
                                        self.settings, events_changed=case_nos is not None)
            card_work = self.cards is not None and any(self.cards.work(conn, today, case_nos))
            if case_nos is None:
                open_cases = conn.execute("select count(*) from cases where is_open = 1"
                                          ).fetchone()[0]
        if case_nos is None:  # every open case, counted once in a pass
            result.checked += open_cases - len(result.judged_open)
        else:
            result.checked += len(evaluated)
            result.judged_open.update(judged_open)
        if plan or card_work or plan.marks or plan.verdicts or plan.forget:
            # Bulk: a pass after a platform's backlog writes thousands of alerts at once; a
            # click or a key press goes before it (edge/store.py).
            self.store.write(lambda tx: self._apply(tx, plan, at, today, case_nos, result),
                             bulk=True)

    def _judge_all(self, conn, case_nos: set[str] | None, today: dt.date, plan: PassPlan,
                   findings: dict[tuple[str, str], Finding]) -> tuple[set[str] | None, set[str]]:
        """Run the rules on the cases in scope, ``case_nos`` or every open case; a case whose
        kept verdict holds today is not judged again (edge/supervision/remembered.py).

        Returns the case numbers in scope (None: every open case) and the open ones among them.
        """
        board = self.board
        basis = (board.catalogue, board.calendar, board.settings)
        if any(new is not old for new, old in zip(basis, self._basis)):
            self._basis, self._fingerprint = basis, self._basis_fingerprint()
        day = today.toordinal()
        usable = self.remembered.usable(conn, self._fingerprint)
        if case_nos is None:  # every open case: those without a verdict valid today
            judged_open = set()
            if usable:
                for case_no, verdict in self.remembered.found(conn, day):
                    found, labels = decode_verdict(verdict, Finding)
                    self._note(case_no, found, labels, plan, findings)
            # none kept (or under another basis): judge them all, over both cores if many
            for judged_rows in self.spread.judged(conn, STALE if usable else ALL_OPEN, day):
                for row in judged_rows:
                    judged_open.add(row.case_no)
                    plan.verdicts.append(row[:5])
                    self._note(row.case_no, row.findings, row.labels, plan, findings)
            return None, judged_open
        rows = conn.execute("select case_no, facts, is_open from cases where case_no in"
                            " (select value from json_each(?))", (json.dumps(sorted(case_nos)),))
        # cases in scope whose facts are unchanged since their verdict (it holds)
        kept = self.remembered.valid_for(conn, case_nos, day) if usable else {}
        judged, judged_open = set(), set()
        for case_no, text, is_open in rows:
            judged.add(case_no)
            if is_open and case_no in kept:
                judged_open.add(case_no)
                found, labels = decode_verdict(kept[case_no], Finding)
                self._note(case_no, found, labels, plan, findings)
                continue
            known = self._judge(CaseFacts.from_json(text), today)
            if is_open:
                judged_open.add(case_no)
                plan.verdicts.append((case_no, facts_digest(text), known.judged_on,
                                      known.until, encode_verdict(known.findings, known.labels)))
            else:
                plan.forget.append(case_no)
            self._note(case_no, known.findings, known.labels, plan, findings)
        return judged, judged_open

    @staticmethod
    def _note(case_no: str, found: tuple[Finding, ...], labels: tuple[str, str] | None,
              plan: PassPlan, findings: dict[tuple[str, str], Finding]) -> None:
        for finding in found:
            findings[(finding.subject, finding.rule)] = finding
        if labels:
            plan.labels[case_no] = labels

    def _basis_fingerprint(self) -> str:
        board = self.board
        return basis_fingerprint(
            board.calendar.fingerprint(), board.settings, self.settings,
            [rule.name for rule in self.rules],
            sorted((code, item_digest(item)) for code, item in board.catalogue.items()))

    def _judge(self, facts: CaseFacts, today: dt.date) -> Judged:
        return judge(self.board, facts, today, self.rules, self.settings, self._standard)

    def _apply(self, tx: Tx, plan: PassPlan, at: dt.datetime, today: dt.date,
               case_nos: set[str] | None, result: PassResult) -> None:
        now = iso(at)
        warnings, names = [], self.dept_names
        for alert_id, finding in open_alerts(tx, plan.open, at):
            result.note("opened", finding)
            text = self._warning(finding, plan, names)
            if text:
                warnings.append((alert_id, finding.dept_code, text))
        if warnings:
            result.notifications += self.queue.add_many(tx, warnings, at)
        for finding in plan.reopen:
            alert = live_alert_row(tx, finding)
            if alert and alert["state"] == "resolved":
                change_alert(tx, alert, at=now, actor=SYSTEM, action="reopen", note=finding.detail,
                             state="open", detail=finding.detail, cleared_at=None)
                result.note("reopened", finding)
                self._warn(tx, alert["id"], finding, plan, at, result)
        for alert_id in plan.recur:
            alert = alert_row(tx.conn, alert_id)
            if alert["state"] in ACTIVE_STATES and alert["cleared_at"]:
                change_alert(tx, alert, at=now, actor=SYSTEM, action="recur",
                             note="情形再次出现", cleared_at=None)
        voided = withdraw(tx, plan.withdraw, at, result)  # before clearing: a withdrawn
        if voided and self.queue is not None:               # alert is not cleared too
            result.notifications += self.queue.add_many(tx, voided, at)
        cleared = []
        for alert_id in plan.clear:
            alert = alert_row(tx.conn, alert_id)
            if alert["state"] not in ACTIVE_STATES or alert["cleared_at"]:
                continue
            resolve = (alert["level"] == "yellow" or alert["rule"] in CARDLESS_RULES) \
                and alert["state"] in ("open", "acknowledged")
            cleared.append((resolve, alert))  # else people still have to explain and close it
            result.note("cleared", (alert["subject"], alert["rule"]))
        for resolve, run in groupby(cleared, key=itemgetter(0)):  # in order, a run at a time
            changes = [(alert, CLEARED[resolve][1]) for _, alert in run]
            action, _, columns = CLEARED[resolve]
            change_alerts(tx, changes, at=now, actor=SYSTEM, action=action, cleared_at=now,
                          **columns)
        backlog.done(tx.conn, plan.marks)
        self.remembered.save(tx, self._fingerprint, plan.verdicts, plan.forget)
        if self.cards is not None:
            self._issue_cards(tx, at, today, case_nos, result)

    def _issue_cards(self, tx: Tx, at: dt.datetime, today: dt.date, case_nos: set[str] | None,
                     result: PassResult) -> None:
        need_yellow, need_red = self.cards.work(tx.conn, today, case_nos)
        issued = list(zip(need_yellow, self.cards.issue_yellow_many(tx, need_yellow, at)))
        for alert in need_red:
            notice = self.cards.issue_red(tx, alert, at)
            if notice is not None:
                issued.append((alert, notice))
        for _, notice in issued:
            result.note("notices", notice)
        if self.queue is not None and issued:
            result.notifications += self.queue.add_many(tx, [
                (alert["id"], alert["dept_code"], notice_sms_text(notice), notice.number)
                for alert, notice in issued], at)

    def _warn(self, tx: Tx, alert_id: int, finding: Finding, plan: PassPlan, at: dt.datetime,
              result: PassResult) -> None:
        text = self._warning(finding, plan, self.dept_names)
        if text:
            result.notifications += self.queue.add(tx, alert_id=alert_id,
                                                   dept_code=finding.dept_code, text=text, at=at)

    def _warning(self, finding: Finding, plan: PassPlan, names: dict[str, str]) -> str | None:
        """A yellow light tells the department's contact person (red ones do so via cards):
        the text, or None when nobody is to be told."""
        if self.queue is None or finding.level != "yellow":
            return None
        district, item = plan.labels.get(finding.case_no or "", (None, None))
        where = f"【{district_label(district)}电子监察】" if district else "【电子监察】"
        dept = names.get(finding.dept_code or "", finding.dept_code or "")
        what = f"办件{finding.case_no}（{item}）" if finding.case_no else ""
        return f"{where}{dept}：{what}{finding.rule}，{finding.detail}，请及时处理。"

    def scheduler(self, clock: Callable[[], dt.datetime]) -> Scheduler:
        return Scheduler(lambda at: self.check(at), clock, self.interval_seconds, self.day_start,
                         self.board.calendar)


__all__ = ["CASE_RULES", "RULE_DESCRIPTIONS", "CaseRule", "CaseView", "Finding", "PassResult",
           "RuleEngine", "RuleSettings", "Scheduler", "next_run", "open_alert"]
