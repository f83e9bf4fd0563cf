"""Wiring supervision from its config sections: rules, cards, notifications, delivery.

The composition root (``edge/app.py``) and the ``edge check`` command call
:func:`build_supervision`; nothing else builds these parts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.supervision.alerts import SUPERVISION_SCHEMA
from edge.supervision.config import ContactSection, NotifySection, RulesSection
from edge.supervision.focus import FocusSettings
from edge.supervision.notices import CardDesk, CardSettings
from edge.supervision.notify import ContactBook, NotificationQueue
from edge.supervision.notify.log import LogNotifier
from edge.supervision.notify.modem import ModemNotifier
from edge.supervision.notify.webhook import WebhookNotifier
from edge.supervision.notify.worker import DeliveryService, RetryPolicy
from edge.supervision.rules import CASE_RULES, RuleEngine, RuleSettings
from edge.supervision.service import Supervision


def build_supervision(store, board, clock, *, rules: RulesSection, contacts: list[ContactSection],
                      notify: NotifySection | None, box_id: str, data_dir: Path):
    """Wire rules, cards, notification queue and delivery workers from the config sections.

    Returns a ``SupervisionParts``; the caller adds ``parts.scheduler`` and ``parts.delivery``
    to the services it starts.
    """
    if SUPERVISION_SCHEMA not in store.extra_schema:
        store.extra_schema.append(SUPERVISION_SCHEMA)
    notifiers = make_notifiers(notify, box_id=box_id, data_dir=data_dir)
    policy = (RetryPolicy(notify.retry_base_seconds, notify.retry_max_seconds, notify.max_attempts)
              if notify else RetryPolicy())
    delivery = DeliveryService(store, notifiers, clock=clock, policy=policy)
    queue = NotificationQueue(ContactBook.from_config(contacts), notifiers)
    cards = rules.cards
    hour, minute = (int(part) for part in rules.day_start.split(":"))
    engine = RuleEngine(
        store, board, [CASE_RULES[name] for name in rules.enabled if name in CASE_RULES],
        settings=RuleSettings(rules.near_deadline_working_days, tuple(rules.required_stages),
                              frozenset(rules.skip_check_exempt_case_types)),
        focus=(FocusSettings(tuple(rules.focus.kinds), rules.focus.factor, rules.focus.min_count)
               if "重点监察" in rules.enabled else None),
        cards=CardDesk(board, CardSettings(cards.notice_due_working_days,
                                           cards.rectify_working_days, cards.document_word,
                                           cards.issuer)),
        queue=queue, on_queued=delivery.wake, interval_seconds=rules.interval_seconds,
        day_start=dt.time(hour, minute))
    return SupervisionParts(engine, Supervision(store, clock), delivery, queue,
                            engine.scheduler(clock))


def make_notifiers(notify: NotifySection | None, *, box_id: str, data_dir: Path) -> list:
    """The enabled notifiers, in a fixed order (log, webhook, sms); none when ``notify`` is None."""
    if notify is None:
        return []
    notifiers: list = []
    if notify.log:
        notifiers.append(LogNotifier(data_dir / (notify.log_file or "notifications.log")))
    if notify.webhook:
        notifiers.append(WebhookNotifier(notify.webhook.url, box_id=box_id,
                                         timeout=notify.webhook.timeout_seconds,
                                         attempts=notify.webhook.attempts))
    if notify.sms:
        notifiers.append(ModemNotifier(notify.sms.port, baudrate=notify.sms.baudrate,
                                       command_timeout=notify.sms.command_timeout_seconds,
                                       send_timeout=notify.sms.send_timeout_seconds))
    return notifiers


@dataclass
class SupervisionParts:
    rules: RuleEngine
    supervision: Supervision
    delivery: DeliveryService
    queue: NotificationQueue
    scheduler: Any  # Scheduler
