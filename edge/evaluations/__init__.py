"""Citizen evaluations (好差评): recording ratings from every channel, one rating per service,
the bad-review workflow, the scheduled pass and the counts.

Example::

    evaluations = build_evaluations(store, WorkCalendar(), EvaluationSection())
    evaluations.ratings.record_press(KeyPress.new(3, 5, now))
    evaluations.followups.record_return_call(rating_id, by="王主任", note="已回访")
"""

from edge.evaluations.followups import (
                                        ACTION_NAMES,
                                        AWAITING_CALL,
                                        INVALIDATED,
                                        RECTIFIED,
                                        RECTIFYING,
                                        RULE_CALL_OVERDUE,
                                        RULE_RECTIFY_OVERDUE,
                                        VERDICTS,
                                        ExtensionRefused,
                                        FollowUp,
                                        FollowUpError,
                                        FollowUpService,
                                        ReviewNotFound,
)
from edge.evaluations.intake import BodyError, parse_evaluations
from edge.evaluations.ratings import KeyPress, RatingOutcome, Ratings
from edge.evaluations.report import STATES, UNKNOWN, rating_report, rating_rows, uncounted_reason
from edge.evaluations.wiring import Evaluations, build_evaluations, wire_evaluations

__all__ = [
    "ACTION_NAMES", "AWAITING_CALL", "INVALIDATED", "RECTIFIED", "RECTIFYING",
    "RULE_CALL_OVERDUE", "RULE_RECTIFY_OVERDUE", "STATES", "UNKNOWN", "VERDICTS", "BodyError",
    "Evaluations", "ExtensionRefused", "FollowUp", "FollowUpError", "FollowUpService",
    "KeyPress", "RatingOutcome", "Ratings", "ReviewNotFound", "build_evaluations",
    "parse_evaluations", "rating_report", "rating_rows", "uncounted_reason", "wire_evaluations",
]
