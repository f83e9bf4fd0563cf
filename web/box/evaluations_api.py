"""``POST /api/v1/evaluations``: ratings from QR code, online, SMS, 12345 and terminals.

Authenticated by the platform token, like the case-event API. The body is one evaluation
object, a JSON array or NDJSON (``docs/standard/evaluation.schema.json``). Valid ones are
committed before the answer; malformed ones are rejected with one error per field and kept in
the quarantine table. Re-sending the same ``evaluation_id`` is harmless.

Example::

    curl -H "Authorization: Bearer $TOKEN" -d @evaluation.json \\
         http://127.0.0.1:8080/api/v1/evaluations
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from edge.evaluations import BodyError, parse_evaluations
from edge.quarantine import quarantine_body
from edge.storetx import StoreFull
from web.box.api import error, platform_token_required

bp = Blueprint("evaluations_api", __name__, url_prefix="/api/v1")
SOURCE = "evaluations-http"


@bp.post("/evaluations")
@platform_token_required
def post_evaluations():
    """Take evaluations; answer which were accepted (with their rating ids) and rejected."""
    box = current_app.extensions["box"]
    if box.evaluations is None:
        return error(503, "本机未启用好差评服务 (evaluations are not wired on this box)")
    refusing = box.refusing()
    if refusing:
        return error(refusing.status, refusing.message)
    body = request.get_data(cache=False)
    try:
        good, bad = parse_evaluations(body, SOURCE)
    except BodyError as exc:
        quarantine_body(box.store, body, SOURCE, str(exc))
        return error(400, str(exc))
    try:
        recorded = box.evaluations.ratings.record_evaluations(
            good, bad, source=SOURCE, limit_outbox=True, on_conflicts=box.conflict_hooks)
    except StoreFull as exc:
        return error(507, str(exc))
    conflicts = [(index, o) for index, o in recorded if o.conflict]
    taken = [(index, o) for index, o in recorded if not o.conflict]
    good_by_index = dict(good)
    fresh = [(index, o) for index, o in taken if not o.duplicate]
    answer = {
        "accepted": len(fresh),
        "duplicates": len(taken) - len(fresh),
        "conflicts": len(conflicts),
        "conflicting": [{"index": index, "evaluation_id": good_by_index[index].evaluation_id,
                         "fields": list(o.conflict)} for index, o in conflicts],
        "rejected": [r.as_dict() for r in bad],
        "ratings": [{"index": index, "rating_id": o.rating_id, "counted": o.counted,
                     "repeat_of": o.repeat_of, "followup_opened": o.followup_opened,
                     "duplicate": o.duplicate} for index, o in taken],
    }
    return jsonify(answer), 422 if (bad or conflicts) and not taken else 200
