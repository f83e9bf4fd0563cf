"""Which step of an alert's lifecycle may come next, and what the audit trail says so far.

The department the alert is addressed to answers it: 说明理由 (``explain``) and, on a card,
整改报告 (``report``). The hall manager or the district supervisor accepts or returns each text
(``accept_explanation`` / ``return_explanation``, ``accept_report`` / ``return_report``); a
returned text is written again. The supervisor closes (``close``) or refers the alert to the
city (``escalate``), and once a card's deadline (整改期限) has passed records the 过错责任
outcome (``liability``), also after closing. Who may take which step is the web layer's
business (``web/box/alerts.py``); this module knows only the alert and its trail.

Example::

    >>> progress = Progress.from_actions(["open", "explain", "return_explanation"])
    >>> progress.explanation
    'returned'
    >>> facts = {"state": "returned", "level": "red", "case_no": "NH1", "card": None,
    ...          "card_due": None}
    >>> allowed_actions(facts, progress, dt.date(2026, 11, 9))
    ('explain', 'escalate')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from standard.supervision import ACTIVE_STATES

# What people may do from each state; `allowed_actions` adds the review and card rules on top.
ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledge", "explain", "report", "close", "escalate"),
    "acknowledged": ("explain", "report", "close", "escalate"),
    # a second explanation before the review is a correction
    "explained": ("explain", "accept_explanation", "return_explanation", "report", "close",
                  "escalate"),
    "accepted": ("report", "close", "escalate"),
    "returned": ("explain", "report", "close", "escalate"),
    "reported": ("accept_report", "return_report", "close", "escalate"),
    "rectified": ("close", "escalate"),
    "escalated": ("explain", "accept_explanation", "return_explanation", "report",
                  "accept_report", "return_report", "close"),
    "closed": (),
    "resolved": (),
    "withdrawn": (),  # disproven by later-arriving events (edge/supervision/withdrawal.py)
}
ACTION_TARGETS = {"acknowledge": "acknowledged", "explain": "explained", "close": "closed",
                  "escalate": "escalated", "accept_explanation": "accepted",
                  "return_explanation": "returned", "report": "reported",
                  "accept_report": "rectified", "return_report": "returned"}
# Steps that need the text they review, and the steps that review a text.
_EXPLANATION_STEPS = {"explain": "pending", "accept_explanation": "accepted",
                      "return_explanation": "returned"}
_REPORT_STEPS = {"report": "pending", "accept_report": "accepted", "return_report": "returned"}
REVIEW_ACTIONS = frozenset(_EXPLANATION_STEPS) | frozenset(_REPORT_STEPS)


@dataclass(frozen=True)
class Progress:
    """Where the alert's 说明理由 and 整改报告 stand: None, pending, accepted or returned."""

    explanation: str | None = None
    report: str | None = None

    @classmethod
    def from_actions(cls, actions: Iterable[str]) -> Progress:
        """From the trail's actions, oldest first."""
        explanation = report = None
        for action in actions:
            explanation = _EXPLANATION_STEPS.get(action, explanation)
            report = _REPORT_STEPS.get(action, report)
        return cls(explanation, report)

    @classmethod
    def from_last(cls, explanation_step: str | None, report_step: str | None) -> Progress:
        """From the latest explanation step and report step (``Supervision``'s list query)."""
        return cls(_EXPLANATION_STEPS.get(explanation_step or ""),
                   _REPORT_STEPS.get(report_step or ""))

    @property
    def explained(self) -> bool:
        """An explanation stands: written and not returned."""
        return self.explanation in ("pending", "accepted")


def needs_explanation(level: str, case_no: str | None) -> bool:
    """Red alerts on cases (and so every card) must be explained before they are closed."""
    return level == "red" and case_no is not None


def liability_due(alert: Mapping[str, Any], today: dt.date) -> bool:
    """A card whose deadline (整改期限) has passed: the 过错责任 outcome may be recorded."""
    return bool(alert.get("card") and alert.get("card_due")
                and alert["card_due"] < today.isoformat()
                and alert["state"] not in ("resolved", "withdrawn"))


def allowed_actions(alert: Mapping[str, Any], progress: Progress,
                    today: dt.date) -> tuple[str, ...]:
    """The actions allowed on an alert now (``alert`` has state, level, case_no, card, card_due).

    >>> open_card = {"state": "open", "level": "red", "case_no": "NH1", "card": "yellow",
    ...              "card_due": "2026-11-12"}
    >>> allowed_actions(open_card, Progress(), dt.date(2026, 11, 9))
    ('acknowledge', 'explain', 'report', 'escalate')
    >>> allowed_actions({**open_card, "state": "closed"}, Progress("accepted"),
    ...                 dt.date(2026, 11, 13))
    ('liability',)
    """
    actions = ALLOWED_ACTIONS.get(alert["state"], ())
    drop = set()
    if progress.explanation != "pending":
        drop |= {"accept_explanation", "return_explanation"}
    if progress.explanation == "accepted":
        drop.add("explain")
    if progress.report != "pending":
        drop |= {"accept_report", "return_report"}
    if not alert.get("card") or progress.report in ("pending", "accepted"):
        drop.add("report")
    if needs_explanation(alert["level"], alert["case_no"]) and not progress.explained:
        drop.add("close")
    allowed = tuple(action for action in actions if action not in drop)
    if liability_due(alert, today) and (alert["state"] in ACTIVE_STATES
                                        or alert["state"] == "closed"):
        allowed += ("liability",)
    return allowed
