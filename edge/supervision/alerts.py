"""Supervision records: alerts, their audit trail and cards, written inside store transactions.

An alert (预警/纠错记录) is live once per subject and rule (``case:<case_no>``,
``dept:<code>:<month>:<kind>``, ``device:notifier:<name>``); an alert withdrawn because later
events disproved it stays, and a real finding after it opens a new alert with its own id. People move it along
open → acknowledged → explained → closed, or escalate it (the whole lifecycle, with the
department's 说明理由 and 整改报告 and their review, is in ``lifecycle.py``); the rules and the
notifiers add system entries. Every change is a new row in ``alert_events`` (append-only, enforced by
triggers) and goes to the outbox in the same transaction.

The service the pages call is :class:`edge.supervision.service.Supervision`.

Example::

    store.write(lambda tx: open_alert(tx, Finding("case:NH1", "超期", "red", "已超期 2 个工作日",
                                                  case_no="NH1", dept_code="440605SCJ")))
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from edge.storetx import Tx, iso
from edge.supervision.remembered import SCHEMA as VERDICTS_SCHEMA
from standard.supervision import (  # noqa: F401 (the shared words, re-exported for the box)
    ACTION_NAMES,
    ACTIVE_STATES,
    CARD_NAMES,
    LEVEL_NAMES,
    LIABILITY_OUTCOMES,
    STATE_NAMES,
    STATES,
)

# alerts and alert_events are in edge/store.py (every module opens alerts); the rest is here.
SUPERVISION_SCHEMA = """
create index if not exists alerts_case on alerts(case_no);
create index if not exists alerts_card on alerts(card);
create table if not exists notice_counters (
    district_code text not null, year integer not null, last integer not null,
    primary key (district_code, year));
create table if not exists notices (
    id integer primary key, number text not null unique, kind text not null,
    district_code text not null, year integer not null, seq integer not null,
    alert_id integer not null, case_no text, dept_code text, issued_at text not null,
    issued_on text not null, due_on text, content text not null, html text not null,
    text text not null, unique (district_code, year, seq));
create index if not exists notices_alert on notices(alert_id);
create trigger if not exists notices_no_update before update on notices
    begin select raise(abort, 'notices are kept as issued'); end;
create trigger if not exists notices_no_delete before delete on notices
    begin select raise(abort, 'notices are kept as issued'); end;
create table if not exists notifications (
    id integer primary key, channel text not null, alert_id integer, notice_number text,
    dept_code text, contact_name text, phone text, text text not null, created_at text not null,
    state text not null, attempts integer not null default 0, next_attempt_at text not null,
    last_error text, sent_at text);
create index if not exists notifications_due on notifications(channel, state, next_attempt_at);
""" + VERDICTS_SCHEMA  # each open case's last verdict (edge/supervision/remembered.py)

SYSTEM = "system"
MAX_TEXT = 2000
MAX_USER = 100
class SupervisionError(Exception):
    """A supervision action was refused; nothing was changed."""


class AlertNotFound(SupervisionError):
    """No alert with that id."""


class ActionNotAllowed(SupervisionError):
    """The action is not allowed from the alert's current state."""


class InvalidInput(SupervisionError):
    """A user name, note or explanation is empty or too long."""


class NoticeNotFound(SupervisionError):
    """No notice with that number."""


@dataclass(frozen=True)
class Finding:
    """A condition a rule found; becomes (or matches) the live alert of its (subject, rule)."""

    subject: str  # e.g. "case:NH2026000001"
    rule: str  # the rule's Chinese name, e.g. 违规收费
    level: str  # "yellow" or "red"
    detail: str
    case_no: str | None = None
    dept_code: str | None = None


@dataclass(frozen=True)
class AlertEvent:
    id: int
    alert_id: int
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None


@dataclass
class Alert:
    """One alert as the pages show it, with the actions allowed now."""

    id: int
    subject: str
    rule: str
    level: str
    state: str
    detail: str
    opened_at: str
    updated_at: str
    case_no: str | None
    dept_code: str | None
    card: str | None
    card_due: str | None
    cleared_at: str | None
    liability: str | None = None  # 过错责任 outcome (standard.supervision.LIABILITY_OUTCOMES)
    notices: list[str] = field(default_factory=list)
    explained: bool = False  # an explanation stands (written, not returned)
    explanation: str | None = None  # its review: None, pending, accepted, returned
    report: str | None = None  # the 整改报告's review, the same way
    allowed_actions: tuple[str, ...] = ()
    events: list[AlertEvent] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["allowed_actions"] = list(self.allowed_actions)
        return data


_DEVICE_NAMES = {"clock": "本机时钟", "outbox": "上报队列", "calendar": "工作日历"}


def subject_label(subject: str) -> str:
    """What an alert is about, in words a hall manager reads (never the internal id).

    >>> subject_label("window:3:absence:17")
    '3号窗口 离岗'
    >>> subject_label("device:notifier:sms")
    '通知渠道 sms'
    >>> subject_label("case:NH2026110005:dept:440605JTJ")
    '办件 NH2026110005（协办部门 440605JTJ）'
    """
    kind, _, rest = subject.partition(":")
    parts = rest.split(":")
    if kind == "case":
        if len(parts) == 3 and parts[1] == "dept":  # a joint case's participating department
            return f"办件 {parts[0]}（协办部门 {parts[2]}）"
        return f"办件 {rest}"
    if kind == "window" and parts[0].isdigit():
        return f"{parts[0]}号窗口 离岗" if "absence" in parts else f"{parts[0]}号窗口"
    if kind == "review":
        return "差评回访整改"
    if kind == "dept" and len(parts) >= 3:
        return f"部门 {parts[0]} {parts[1]} {parts[2]}"
    if kind == "source":  # a platform source (edge/integration): 数据源中断
        return f"平台数据源 {rest}"
    if kind == "reconcile":  # a day's reconciliation with the platform: 数据报送
        return f"{rest} 平台数据核对"
    if kind == "device":
        if parts[0] == "camera":
            return "摄像头"
        if parts[0] == "notifier":
            return f"通知渠道 {rest.partition(':')[2]}"
        return _DEVICE_NAMES.get(parts[0], "本机设备")
    return subject


# -- writing (inside a store transaction) ---------------------------------------------------
_ALERT_COLUMNS = ("id", "subject", "rule", "level", "state", "detail", "opened_at", "updated_at",
                  "case_no", "dept_code", "card", "card_due", "cleared_at", "liability")


def alert_row(conn, alert_id: int) -> dict[str, Any] | None:
    row = conn.execute(f"select {', '.join(_ALERT_COLUMNS)} from alerts where id = ?",
                       (alert_id,)).fetchone()
    return dict(zip(_ALERT_COLUMNS, row)) if row else None


# The live alert of a subject and rule (at most one: index alerts_live); withdrawn ones stay beside it.
LIVE_ALERT = "select id from alerts where subject = ? and rule = ? and state <> 'withdrawn'"


def open_alert(tx: Tx, finding: Finding, at: dt.datetime | None = None) -> int | None:
    """Insert the alert unless a live one for this subject and rule exists (a withdrawn one,
    已撤销, does not count: edge/supervision/withdrawal.py); its id if new."""
    opened = open_alerts(tx, [finding], at or tx.now)
    return opened[0][0] if opened else None


def open_alerts(tx: Tx, findings: Sequence[Finding], at: dt.datetime
                ) -> list[tuple[int, Finding]]:
    """``open_alert`` for many findings (a rule pass's), one statement per table; returns
    ``(alert id, finding)`` of those opened, in the order given."""
    conn, now = tx.conn, iso(at)
    before = conn.execute("select coalesce(max(id), 0) from alerts").fetchone()[0]
    conn.executemany(
        "insert into alerts (subject, rule, level, state, detail, opened_at, updated_at, case_no,"
        " dept_code) values (?, ?, ?, 'open', ?, ?, ?, ?, ?)"
        " on conflict(subject, rule) where state <> 'withdrawn' do nothing",
        [(f.subject, f.rule, f.level, f.detail, now, now, f.case_no, f.dept_code)
         for f in findings])
    by_key = {(f.subject, f.rule): f for f in findings}
    opened = [(alert_id, by_key[(subject, rule)]) for alert_id, subject, rule in conn.execute(
        "select id, subject, rule from alerts where id > ? order by id", (before,))]
    first = conn.execute("select coalesce(max(id), 0) + 1 from alert_events").fetchone()[0]
    conn.executemany(
        "insert into alert_events (id, alert_id, at, actor, action, from_state, to_state, note)"
        " values (?, ?, ?, ?, 'open', null, 'open', ?)",
        [(first + n, alert_id, now, SYSTEM, f.detail) for n, (alert_id, f) in enumerate(opened)])
    tx.emit_each(_opened_records(opened, first, now))  # for the hub, as change_alerts does
    return opened


def _opened_records(opened: list[tuple[int, Finding]], first: int, now: str):
    for n, (alert_id, f) in enumerate(opened):
        yield "alert_event", {"id": first + n, "alert_id": alert_id, "at": now,
                              "actor": SYSTEM, "action": "open", "from_state": None,
                              "to_state": "open", "note": f.detail}
        yield "alert", {"id": alert_id, "subject": f.subject, "rule": f.rule,
                        "level": f.level, "state": "open", "detail": f.detail,
                        "opened_at": now, "updated_at": now, "case_no": f.case_no,
                        "dept_code": f.dept_code, "card": None, "card_due": None,
                        "cleared_at": None, "liability": None}


def change_alert(tx: Tx, alert: dict[str, Any], *, at: str, actor: str, action: str,
                 note: str | None = None, **columns: Any) -> None:
    """Update an alert's columns (state, card, cleared_at ...) and record who did it.

    ``alert`` is the row as read in this transaction (``alert_row``).
    """
    change_alerts(tx, [(alert, note)], at=at, actor=actor, action=action, **columns)


def change_alerts(tx: Tx, alerts: Sequence[tuple[dict[str, Any], str | None]], *, at: str,
                  actor: str, action: str, **columns: Any) -> None:
    """``change_alert`` of the same columns on many ``(alert, note)``: one statement per table,
    the audit entries and the hub's records in the order given."""
    if not alerts:
        return
    columns["updated_at"] = at
    sets = ", ".join(f"{name} = ?" for name in columns)
    values = tuple(columns.values())
    tx.conn.executemany(f"update alerts set {sets} where id = ?",
                        [(*values, alert["id"]) for alert, _ in alerts])
    first = tx.conn.execute("select coalesce(max(id), 0) + 1 from alert_events").fetchone()[0]
    events = [{"id": first + n, "alert_id": alert["id"], "at": at, "actor": actor,
               "action": action, "from_state": alert["state"],
               "to_state": columns.get("state", alert["state"]), "note": note}
              for n, (alert, note) in enumerate(alerts)]
    tx.conn.executemany(
        "insert into alert_events (id, alert_id, at, actor, action, from_state, to_state, note)"
        " values (:id, :alert_id, :at, :actor, :action, :from_state, :to_state, :note)", events)
    tx.emit_each(record  # for the hub, in the order of the audit entries
                 for event, (alert, _) in zip(events, alerts)
                 for record in (("alert_event", event), ("alert", {**alert, **columns})))


def raise_condition(tx: Tx, finding: Finding, at: dt.datetime) -> int | None:
    """Open an alert, or reopen it when it was resolved or closed (device and config alerts).

    Returns the alert id when something changed, None when it was already active.
    """
    new_id = open_alert(tx, finding, at)
    if new_id is not None:
        return new_id
    row = tx.conn.execute(LIVE_ALERT, (finding.subject, finding.rule)).fetchone()
    alert = alert_row(tx.conn, row[0])
    if alert["state"] in ACTIVE_STATES:
        return None
    change_alert(tx, alert, at=iso(at), actor=SYSTEM, action="reopen", note=finding.detail,
                 state="open", detail=finding.detail, cleared_at=None)
    return alert["id"]


def resolve_condition(tx: Tx, subject: str, rule: str, at: dt.datetime, note: str) -> bool:
    """Mark an active alert resolved by the system (the device works again); True if it was."""
    row = tx.conn.execute(LIVE_ALERT, (subject, rule)).fetchone()
    if row is None:
        return False
    alert = alert_row(tx.conn, row[0])
    if alert["state"] not in ACTIVE_STATES:
        return False
    change_alert(tx, alert, at=iso(at), actor=SYSTEM, action="resolve", note=note,
                 state="resolved", cleared_at=iso(at))
    return True


# -- the service the web pages call ---------------------------------------------------------


def as_json(alert: Alert) -> str:
    """One alert as a JSON line (CLI, logs)."""
    data = alert.as_dict()
    data.pop("events")
    return json.dumps(data, ensure_ascii=False)
