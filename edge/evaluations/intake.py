"""Channel evaluations as they arrive over HTTP: split the body, validate each, name bad fields.

A body is one JSON object, a JSON array of objects or NDJSON (split on ``\\n`` only), cut
into records by ``standard/bodies.py`` exactly as case events are. Each record is judged on its
own, strictly against :class:`standard.evaluations.Evaluation`; a bad one becomes a
``Rejection`` with one entry per bad field (the same shape and wording as case-event ingest),
to be quarantined with its raw bytes.

Example::

    good, bad = parse_evaluations(b'{"evaluation_id": "QR-1", ...}')
    ratings.record_evaluations(good, bad, source="evaluations-http")
"""

from __future__ import annotations

from standard.bodies import BodyError, RawRecord, split_body
from edge.ingest import judge_record
from edge.quarantine import Rejection
from standard.evaluations import Evaluation

_validate_json = Evaluation.__pydantic_validator__.validate_json


def split_evaluations(body: bytes) -> list[RawRecord]:
    """(index, raw JSON) pairs; a single pretty-printed object is one record."""
    return split_body(body, single_object=True)


def validate_evaluation(index: int, raw: str | bytes) -> Evaluation | Rejection:
    return judge_record(index, raw, _validate_json)


def parse_evaluations(body: bytes, source: str = "evaluations-http"
                      ) -> tuple[list[tuple[int, Evaluation]], list[Rejection]]:
    """Valid evaluations with their index, and the rejections; BodyError if not JSON at all."""
    good: list[tuple[int, Evaluation]] = []
    bad: list[Rejection] = []
    for index, raw in split_evaluations(body):
        outcome = validate_evaluation(index, raw)
        if isinstance(outcome, Rejection):
            outcome.source = source
            bad.append(outcome)
        else:
            good.append((index, outcome))
    return good, bad


__all__ = ["BodyError", "parse_evaluations", "split_evaluations", "validate_evaluation"]
