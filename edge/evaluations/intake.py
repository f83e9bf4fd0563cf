"""Channel evaluations as they arrive over HTTP: split the body, validate each, name bad fields.

A body is one JSON object, a JSON array of objects or NDJSON. Each record is validated
strictly against :class:`standard.evaluations.Evaluation`; a bad one becomes a ``Rejection``
with one entry per bad field (the same shape as case-event ingest), to be quarantined.

Example::

    good, bad = parse_evaluations(b'{"evaluation_id": "QR-1", ...}')
    ratings.record_evaluations(good, bad, source="evaluations-http")
"""

from __future__ import annotations

import json

from edge.ingest import BodyError, Rejection, judge_record, split_body
from standard.evaluations import Evaluation


def split_evaluations(body: bytes) -> list[tuple[int, str]]:
    """(index, raw JSON) pairs; a single pretty-printed object is one record."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        try:
            item = json.loads(stripped.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass  # perhaps NDJSON: split_body decides, with its clear error
        else:
            if isinstance(item, dict):
                return [(0, json.dumps(item, ensure_ascii=False))]
    return split_body(body)


def validate_evaluation(index: int, raw: str) -> Evaluation | Rejection:
    return judge_record(index, raw, Evaluation.model_validate_json)


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
