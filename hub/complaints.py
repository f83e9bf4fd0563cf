"""Complaints and suggestions from the public portal (投诉举报 / 电子建言), tracked to a reply.

A citizen submits a complaint on the portal and gets a tracking number (``TS20261103K7M2QX``);
staff enter those that come by the 12345 hotline, by letter, phone or visit (``channel``), and
the 12345 system posts its tickets over the API (hub/complaint_intake.py).
Supervisors must decide within ``accept_working_days`` (default 5) working days whether it is
accepted (受理) or not (不予受理, with a reason the citizen sees); an accepted complaint must be
answered within ``reply_working_days`` more. They may forward it (转办) to a district or a
department, which then sees it. Every step is an append-only ``complaint_events`` row.

The citizen's contact details are for the supervisors only; the public lookup by tracking
number shows the state, the deadlines and the reply, never the contact. The citizen chooses
whether the complaint may be published (``publish_ok``); when it may, the supervisor who
answers decides whether the reply is shown on the portal (公开回复, ``published``; personal
data masked, hub/complaint_public.py). A complaint can be linked to a case and turned into a
city 督办 (移交督办, hub/complaint_links.py).

Example::

    desk = ComplaintDesk(store, calendar, clock)
    number = desk.submit(kind="投诉", subject="窗口无人", content="...", district="440605")
    desk.accept(complaint_id, Scope.city(), user="admin", note="已受理")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.services import NotFound, Scope
from standard.calendar import CalendarUnknownYear, WorkCalendar
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ

# Created by migration 1 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = """
create table if not exists complaints (
    id integer primary key, tracking_no text not null unique, kind text not null,
    district_code text, dept_suffix text, subject text not null, content text not null,
    contact_name text, contact_phone text, submitted_at text not null,
    submitted_on text not null, state text not null, accept_due text, reply_due text,
    accepted_on text, forwarded_to text, reply text, replied_at text, closed_at text,
    updated_at text not null);
create index if not exists complaints_state on complaints(state, district_code);
create index if not exists complaints_dept on complaints(dept_suffix);
create table if not exists complaint_events (
    id integer primary key, complaint_id integer not null, at text not null,
    actor text not null, action text not null, note text);
create index if not exists complaint_events_complaint on complaint_events(complaint_id);
create trigger if not exists complaint_events_no_update before update on complaint_events
    begin select raise(abort, 'complaint_events is append-only'); end;
create trigger if not exists complaint_events_no_delete before delete on complaint_events
    begin select raise(abort, 'complaint_events is append-only'); end;
create table if not exists complaint_findings (
    complaint_id integer primary key, finding text not null, found_on text not null,
    found_by text not null);
create table if not exists captcha_used (nonce text primary key, expires_at integer not null);
"""

KINDS = ("投诉", "举报", "建言")
STATE_NAMES = {"submitted": "待受理", "accepted": "已受理", "forwarded": "已转办",
               "replied": "已答复", "rejected": "不予受理", "closed": "已办结"}
ACTION_NAMES = {"submit": "提交", "enter": "登记", "accept": "受理", "reject": "不予受理",
                "forward": "转办", "reply": "答复", "close": "办结", "link_case": "关联办件",
                "transfer": "移交督办", "publish": "公开答复", "unpublish": "撤回公开"}
# How a complaint arrived: the portal's form, or entered by staff / posted by the 12345 system.
CHANNELS = {"portal": "网上提交", "hotline": "12345热线", "letter": "来信", "phone": "来电",
            "visit": "来访"}
STAFF_CHANNELS = ("hotline", "letter", "phone", "visit")
PUBLICATION = ("publish", "unpublish")
# state -> actions allowed from it
ALLOWED = {"submitted": ("accept", "reject", "forward"), "accepted": ("forward", "reply"),
           "forwarded": ("forward", "reply"), "replied": ("close",), "rejected": (),
           "closed": ()}
# Department users act only on what was forwarded to them, and only by answering.
DEPARTMENT_ACTIONS = ("reply",)
_TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# 核查结论, recorded with the reply or at closing; 属实 and 部分属实 count in the scores.
FINDINGS = ("属实", "部分属实", "不属实")
LIMITS = {"subject": 100, "content": 4000, "contact_name": 50, "contact_phone": 30, "note": 2000}


class ComplaintError(ValueError):
    """A complaint or a step on it is not valid; the message says which field and why."""


@dataclass(frozen=True)
class NewComplaint:
    """A complaint as it arrives, checked by :meth:`ComplaintDesk.checked`."""

    kind: str
    subject: str
    content: str
    district: str | None = None
    dept: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    channel: str = "portal"
    publish_ok: bool = False
    received_at: str | None = None  # when the hotline or the letter took it (UTC ISO)
    ticket_no: str | None = None  # the 12345 system's own number


@dataclass(frozen=True)
class ComplaintSettings:
    accept_working_days: int = 5
    reply_working_days: int = 15


def _text(value: str | None, what: str, field: str, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ComplaintError(f"请填写{what}")
        return None
    if len(text) > LIMITS[field]:
        raise ComplaintError(f"{what}不能超过{LIMITS[field]}字（现有{len(text)}字）")
    return text


class ComplaintDesk:
    def __init__(self, store, calendar: WorkCalendar, clock: Callable[[], dt.datetime],
                 settings: ComplaintSettings = ComplaintSettings(),
                 known_depts: Callable[[], dict[str, str]] | None = None):
        self.store = store
        self.calendar = calendar
        self.clock = clock
        self.settings = settings
        self.known_depts = known_depts or (lambda: {})

    def now(self) -> tuple[str, dt.date]:
        """(UTC timestamp, local date) of this moment."""
        now = self.clock()
        return now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"), \
            now.astimezone(LOCAL_TZ).date()

    def due(self, day: dt.date, days: int) -> str | None:
        try:
            return self.calendar.add_workdays(day, days).isoformat()
        except CalendarUnknownYear:
            return None  # fail closed: no guessed deadline; the page shows "—"

    def reply_due(self, accepted: dt.date) -> str | None:
        """The date an answer is due for a complaint accepted on ``accepted``."""
        return self.due(accepted, self.settings.reply_working_days)

    # -- taking a complaint in ---------------------------------------------------------
    def checked(self, new: NewComplaint) -> NewComplaint:
        """``new`` with its texts trimmed; ComplaintError naming the first field that is wrong."""
        if new.kind not in KINDS:
            raise ComplaintError(f"类型须为{'、'.join(KINDS)}之一")
        if new.channel not in CHANNELS:
            raise ComplaintError(f"来源渠道须为{'、'.join(CHANNELS.values())}之一")
        if new.district and new.district not in DISTRICTS:
            raise ComplaintError("所选区不存在")
        if new.dept and new.dept not in self.known_depts():
            raise ComplaintError("所选部门不存在")
        return dataclasses.replace(
            new, subject=_text(new.subject, "标题", "subject"),
            content=_text(new.content, "内容", "content"),
            contact_name=_text(new.contact_name, "联系人", "contact_name", required=False),
            contact_phone=_text(new.contact_phone, "联系电话", "contact_phone", required=False),
            district=new.district or None, dept=new.dept or None)

    def submit(self, *, kind: str, subject: str, content: str, district: str | None = None,
               dept: str | None = None, contact_name: str | None = None,
               contact_phone: str | None = None, nonce: tuple[str, int] | None = None,
               publish_ok: bool = False) -> str:
        """Record a complaint from the portal; returns its tracking number.

        ``nonce`` is the captcha's (nonce, expires): accepted once, in this transaction.
        """
        new = self.checked(NewComplaint(kind, subject, content, district, dept, contact_name,
                                        contact_phone, publish_ok=publish_ok))
        with self.store.transaction() as conn:
            if nonce is not None:
                conn.execute("delete from captcha_used where expires_at < ?",
                             (int(self.clock().timestamp()),))
                used = conn.execute("insert into captcha_used (nonce, expires_at)"
                                    " values (?, ?) on conflict do nothing", nonce).rowcount
                if not used:
                    raise ComplaintError("验证码已使用过，请重新填写验证码")
            return self.insert(conn, new, actor="公众")[1]

    def enter(self, scope: Scope, new: NewComplaint, *, user: str) -> dict[str, Any]:
        """A complaint taken by staff (12345 hotline, letter, phone, visit); returns its row.

        A district user enters complaints about its own district only.
        """
        if scope.role == "department":
            raise ComplaintError("部门用户不能登记投诉，请由监察室登记后转办")
        if new.channel not in STAFF_CHANNELS:
            raise ComplaintError(f"来源渠道须为{'、'.join(CHANNELS[c] for c in STAFF_CHANNELS)}"
                                 "之一")
        if scope.districts and new.district not in scope.districts:
            raise ComplaintError(f"涉及的区须为{'、'.join(scope.visible_districts().values())}")
        new = self.checked(new)
        with self.store.transaction() as conn:
            if new.ticket_no and conn.execute("select 1 from complaints where ticket_no = ?",
                                              (new.ticket_no,)).fetchone():
                raise ComplaintError(f"12345工单号 {new.ticket_no} 已登记过，请勿重复登记")
            complaint_id, _ = self.insert(conn, new, actor=user, action="enter",
                                          note=f"来源：{CHANNELS[new.channel]}")
        return self.get(complaint_id, scope)

    def insert(self, conn, new: NewComplaint, *, actor: str, action: str = "submit",
               note: str | None = None, ticket_digest: str | None = None) -> tuple[int, str]:
        """Insert a checked complaint and its first event in ``conn``'s transaction.

        Returns (id, tracking number). With a ``ticket_no`` that is taken, returns (0, "")
        and inserts nothing (the caller decides: a re-post or a conflict).
        """
        at, today = self.now()
        number = f"TS{today:%Y%m%d}" + "".join(secrets.choice(_TRACKING_ALPHABET)
                                               for _ in range(6))
        row = conn.execute(
            "insert into complaints (tracking_no, kind, district_code, dept_suffix, subject,"
            " content, contact_name, contact_phone, submitted_at, submitted_on, state,"
            " accept_due, updated_at, channel, ticket_no, ticket_digest, received_at,"
            " entered_by, publish_ok) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'submitted', ?, ?,"
            " ?, ?, ?, ?, ?, ?) on conflict (ticket_no) do nothing returning id",
            (number, new.kind, new.district, new.dept, new.subject, new.content,
             new.contact_name, new.contact_phone, at, today.isoformat(),
             self.due(today, self.settings.accept_working_days), at, new.channel,
             new.ticket_no, ticket_digest, new.received_at,
             None if action == "submit" and new.channel == "portal" else actor,
             int(new.publish_ok))).fetchone()
        if row is None:
            return 0, ""
        conn.execute("insert into complaint_events (complaint_id, at, actor, action, note)"
                     " values (?, ?, ?, ?, ?)", (row[0], at, actor, action, note))
        return row[0], number

    # -- the supervisors' side ----------------------------------------------------------
    def list(self, scope: Scope, state: str | None = None, limit: int = 200, *,
             channel: str | None = None, offset: int = 0) -> list[dict]:
        """The newest complaints in scope, optionally of one state and one channel."""
        where, params = self._where(scope, state, channel)
        rows = self.store.query(f"select * from complaints where {where}"
                                " order by id desc limit ? offset ?", (*params, limit, offset))
        today = self.now()[1].isoformat()
        for row in rows:
            self._name(row, today)
        return rows

    def page(self, scope: Scope, state: str | None = None, channel: str | None = None,
             page: int = 1, per_page: int = 50) -> tuple[list[dict], int, int, int]:
        """(rows, total, page, pages) of the list, newest first."""
        where, params = self._where(scope, state, channel)
        total = self.store.query(f"select count(*) as n from complaints where {where}",
                                 params)[0]["n"]
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)
        rows = self.list(scope, state, per_page, channel=channel, offset=(page - 1) * per_page)
        return rows, total, page, pages

    @staticmethod
    def _where(scope: Scope, state: str | None, channel: str | None) -> tuple[str, list]:
        where, params = scope.sql()
        if state in STATE_NAMES:
            where += " and state = ?"
            params.append(state)
        if channel in CHANNELS:
            where += " and channel = ?"
            params.append(channel)
        return where, params

    @staticmethod
    def _name(row: dict[str, Any], today: str) -> None:
        row["state_name"] = STATE_NAMES[row["state"]]
        row["channel_name"] = CHANNELS.get(row.get("channel") or "portal", row.get("channel"))
        row["overdue"] = _overdue(row, today)

    def get(self, complaint_id: int, scope: Scope) -> dict[str, Any]:
        where, params = scope.sql()
        rows = self.store.query(f"select * from complaints where id = ? and {where}",
                                (complaint_id, *params))
        if not rows:
            raise NotFound(f"投诉 {complaint_id} 不存在或不在您的范围内")
        row = rows[0]
        self._name(row, self.now()[1].isoformat())
        row["duban"] = None
        if row["duban_id"]:
            found = self.store.query("select id, number, state from dubans where id = ?",
                                     (row["duban_id"],))
            row["duban"] = found[0] if found else None
        row["events"] = self.store.query("select * from complaint_events where complaint_id = ?"
                                         " order by id", (complaint_id,))
        found = self.store.query("select finding, found_on, found_by from complaint_findings"
                                 " where complaint_id = ?", (complaint_id,))
        row["finding"] = found[0] if found else None
        row["actions"] = self.actions_for(row, scope)
        return row

    @staticmethod
    def actions_for(row: dict[str, Any], scope: Scope) -> tuple[str, ...]:
        allowed = ALLOWED[row["state"]]
        if scope.role == "department":
            return tuple(a for a in allowed if a in DEPARTMENT_ACTIONS)
        if row["state"] in ("replied", "closed") and row.get("publish_ok"):
            allowed += ("unpublish",) if row.get("published") else ("publish",)
        return allowed

    def act(self, complaint_id: int, scope: Scope, action: str, *, user: str,
            note: str | None = None, district: str | None = None,
            dept: str | None = None, finding: str | None = None,
            publish: bool = False) -> dict[str, Any]:
        """Move a complaint on: accept, reject, forward, reply or close (scope-checked), or
        publish or withdraw its reply on the portal.

        ``finding`` (属实 / 部分属实 / 不属实) is the 核查结论 given with a reply or at closing.
        ``publish`` with a reply shows it on the portal (公开回复): only when the citizen agreed.
        """
        row = self.get(complaint_id, scope)
        if publish and action == "reply" and not row["publish_ok"]:
            raise ComplaintError("群众未同意公开，答复不能在门户公开（公开答复）")
        if finding and (finding not in FINDINGS or action not in ("reply", "close")):
            raise ComplaintError(f"核查结论须为{'、'.join(FINDINGS)}之一，且在答复或办结时填写")
        if action not in self.actions_for(row, scope):
            raise ComplaintError(f"当前状态“{row['state_name']}”不能{ACTION_NAMES.get(action, action)}")
        text = _text(note, "说明" if action != "reply" else "答复内容", "note",
                     required=action in ("reject", "reply", "forward", "unpublish"))
        at, today = self.now()
        changes: dict[str, Any] = {"updated_at": at}
        if action == "accept":
            changes.update(state="accepted", accepted_on=today.isoformat(),
                           reply_due=self.reply_due(today))
        elif action == "reject":
            changes.update(state="rejected", reply=text, replied_at=at, closed_at=at)
        elif action == "forward":
            changes.update(self._forward_target(row, scope, district, dept))
            changes["state"] = "forwarded"
            if row["state"] == "submitted":  # forwarding decides acceptance too
                changes.update(accepted_on=today.isoformat(),
                               reply_due=self.reply_due(today))
        elif action == "reply":
            changes.update(state="replied", reply=text, replied_at=at,
                           published=int(publish and scope.role != "department"))
        elif action in PUBLICATION:
            changes.update(published=int(action == "publish"))
        elif action == "close":
            changes.update(state="closed", closed_at=at)
        with self.store.transaction() as conn:
            sets = ", ".join(f"{name} = ?" for name in changes)
            updated = conn.execute(f"update complaints set {sets} where id = ? and state = ?",
                                   (*changes.values(), complaint_id, row["state"])).rowcount
            if not updated:
                raise ComplaintError("该件状态刚被他人更改，请刷新页面后重试")
            conn.execute("insert into complaint_events (complaint_id, at, actor, action, note)"
                         " values (?, ?, ?, ?, ?)", (complaint_id, at, user, action, text))
            if finding:
                conn.execute("insert into complaint_findings (complaint_id, finding, found_on,"
                             " found_by) values (?, ?, ?, ?) on conflict (complaint_id) do update"
                             " set finding = excluded.finding, found_on = excluded.found_on,"
                             " found_by = excluded.found_by",
                             (complaint_id, finding, today.isoformat(), user))
        return self.get(complaint_id, Scope.city())

    def _forward_target(self, row: dict[str, Any], scope: Scope, district: str | None,
                        dept: str | None) -> dict[str, Any]:
        district = district or row["district_code"]
        dept = dept or row["dept_suffix"]
        if district and district not in DISTRICTS:
            raise ComplaintError("转办的区不存在")
        if dept and dept not in self.known_depts():
            raise ComplaintError("转办的部门不存在")
        if not district and not dept:
            raise ComplaintError("请选择转办的区或部门")
        if not scope.allows(district, dept):
            raise ComplaintError("只能转办到您监察范围内的区和部门")
        target = "".join(filter(None, (DISTRICTS.get(district or "", ""),
                                       self.known_depts().get(dept or "", dept or ""))))
        return {"district_code": district, "dept_suffix": dept, "forwarded_to": target}


def _overdue(row: dict[str, Any], today: str) -> str | None:
    if row["state"] == "submitted" and row["accept_due"] and today > row["accept_due"]:
        return "受理决定已超期"
    if row["state"] in ("accepted", "forwarded") and row["reply_due"] and today > row["reply_due"]:
        return "答复已超期"
    return None
