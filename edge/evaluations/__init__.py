"""Citizen evaluations (好差评): recording ratings from every channel, one rating per service,
the bad-review workflow, the scheduled pass and the counts.

Example::

    evaluations = build_evaluations(store, WorkCalendar(), EvaluationSection())
    evaluations.ratings.record_press(KeyPress.new(3, 5, now))
    evaluations.followups.record_return_call(rating_id, by="王主任", note="已回访")
"""

from edge.evaluations.followups import FollowUpError, FollowUpService
from edge.evaluations.ratings import KeyPress, RatingOutcome, Ratings
from edge.evaluations.wiring import Evaluations, build_evaluations, wire_evaluations

__all__ = ["Evaluations", "FollowUpError", "FollowUpService", "KeyPress", "RatingOutcome",
           "Ratings", "build_evaluations", "wire_evaluations"]
