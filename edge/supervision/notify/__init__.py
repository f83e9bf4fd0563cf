"""Notifications to a department's fixed contact person (相对固定的联系人).

Notices are queued durably in the ``notifications`` table, one row per notifier channel, in the
same transaction as the alert or card that caused them. A worker per channel delivers them
later (edge/supervision/notify/worker.py), so a slow or broken notifier never delays or loses an alert.

Notifiers share one small interface: ``name``, ``needs_phone`` and ``send(message)``, which
raises ``NotifyError`` on failure. Shipped: log file, HTTP webhook, GSM modem (SMS).

Example::

    queue = NotificationQueue(ContactBook.from_config(config.contacts), channels=[log, sms])
    store.write(lambda tx: queue.add(tx, alert_id=7, dept_code="440605SCJ", text="...", at=now))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.storetx import Tx, iso
from edge.supervision.alerts import Finding, raise_condition


class NotifyError(Exception):
    """A notifier could not deliver a message (the queue will retry it)."""


class ContactsError(ValueError):
    """The ``[[contacts]]`` list is invalid (e.g. a department listed twice)."""


@dataclass(frozen=True)
class Message:
    """One queued notification as a notifier sees it."""

    id: int
    channel: str
    alert_id: int | None
    notice_number: str | None
    dept_code: str | None
    contact_name: str | None
    phone: str | None
    text: str
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {"version": 1, "id": self.id, "channel": self.channel, "alert_id": self.alert_id,
                "notice_number": self.notice_number, "dept_code": self.dept_code,
                "contact": {"name": self.contact_name, "phone": self.phone},
                "text": self.text, "created_at": self.created_at}


class Notifier(Protocol):
    """A delivery channel; ``send`` returns when delivered and raises NotifyError otherwise."""

    name: str
    needs_phone: bool

    def send(self, message: Message) -> None: ...


@dataclass(frozen=True)
class Contact:
    dept_code: str
    name: str
    phone: str


class ContactBook:
    """Contacts by department code, from ``[[contacts]]``."""

    def __init__(self, contacts: Iterable[Contact]):
        self._by_dept: dict[str, Contact] = {}
        for contact in contacts:
            if contact.dept_code in self._by_dept:
                raise ContactsError(f"contacts: dept_code {contact.dept_code} is listed twice; "
                                    "each department has one fixed contact person")
            self._by_dept[contact.dept_code] = contact

    @classmethod
    def from_config(cls, sections: Iterable[Any]) -> ContactBook:
        return cls(Contact(s.dept_code, s.name, s.phone) for s in sections)

    def get(self, dept_code: str | None) -> Contact | None:
        return self._by_dept.get(dept_code) if dept_code else None


class NotificationQueue:
    """Adds notifications for every enabled channel inside the caller's transaction."""

    def __init__(self, contacts: ContactBook, channels: Sequence[Notifier]):
        self.contacts = contacts
        self.channels = list(channels)

    def add(self, tx: Tx, *, alert_id: int | None, dept_code: str | None, text: str,
            at: dt.datetime, notice_number: str | None = None) -> int:
        """Queue ``text`` for the department's contact on every channel; returns rows added.

        A channel that needs a phone number is skipped when the department has no contact,
        and a 联系人缺失 alert says so (once per department).
        """
        return self.add_many(tx, [(alert_id, dept_code, text)], at, notice_number)

    def add_many(self, tx: Tx, items: Sequence[tuple[int | None, str | None, str]],
                 at: dt.datetime, notice_number: str | None = None) -> int:
        """``add`` for many ``(alert_id, dept_code, text)`` (a rule pass's warnings), or
        ``(alert_id, dept_code, text, notice_number)`` (its cards), with one insert statement;
        returns rows added."""
        rows = []
        for alert_id, dept_code, text, *number in items:
            notice = number[0] if number else notice_number
            contact = self.contacts.get(dept_code)
            for channel in self.channels:
                if channel.needs_phone and contact is None:
                    raise_condition(tx, Finding(
                        f"config:contact:{dept_code}", "联系人缺失", "yellow",
                        f"部门{dept_code}未配置相对固定的联系人，短信通知无法送达，请在box.toml的"
                        "[[contacts]]中添加", dept_code=dept_code), at)
                    continue
                rows.append((channel.name, alert_id, notice, dept_code,
                             contact.name if contact else None,
                             contact.phone if contact else None, text))
        if not rows:
            return 0
        now = iso(at)
        first = tx.conn.execute("select coalesce(max(id), 0) + 1 from notifications").fetchone()[0]
        tx.conn.executemany(
            "insert into notifications (id, channel, alert_id, notice_number, dept_code,"
            " contact_name, phone, text, created_at, state, next_attempt_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            [(first + n, *row, now, now) for n, row in enumerate(rows)])
        tx.emit_many("notification", (
            {"id": first + n, "channel": channel, "alert_id": alert_id, "notice_number": number,
             "dept_code": dept_code, "state": "pending", "text": text}
            for n, (channel, alert_id, number, dept_code, _name, _phone, text) in enumerate(rows)))
        return len(rows)
