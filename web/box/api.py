"""Machine-to-machine API for the district platform, authenticated by the platform token.

Every record is judged on its own and the request is one transaction (edge/ingest.py): the
answer names each refused record by index and reason; nothing is half stored. Answers:
200 when anything was taken (``rejected`` and ``conflicting`` list the rest), 422 when
nothing was, 400 for a body that is not JSON at all, 413 above the size limit, 503 while the
database is damaged or with ``Retry-After`` when the ingest queue is full (edge/ingestqueue.py),
507 when the disk or the outbox is full; a 500 (a bug) stores nothing.
"""

from __future__ import annotations

import hmac
import logging
from functools import cache, wraps

from flask import Blueprint, current_app, jsonify, request

from edge.ingest import BodyError, ingest_texts, quarantine_body, split_body
from edge.ingestqueue import QueueFull
from edge.storetx import StoreFull
from standard.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)


def _box():
    return current_app.extensions["box"]


def error(status: int, message: str):
    return jsonify({"error": message}), status


def platform_token_required(view):
    """Refuse calls without ``Authorization: Bearer <platform token>``."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), _box().platform_token.encode()):
            log.warning("platform call refused: bad or missing token from %s", request.remote_addr)
            return error(401, "平台令牌无效或缺失 (missing or wrong platform token)")
        return view(*args, **kwargs)

    return wrapped


@bp.post("/platform/events")
@platform_token_required
def platform_events():
    """Take a JSON array or NDJSON of case events; answer what was accepted and rejected.

    Waits for a turn in the ingest queue first (edge/ingestqueue.py): when it is full the
    answer is 503 with Retry-After, and nothing of the request was parsed or stored.
    """
    box = _box()
    refusing = box.refusing()
    if refusing:
        return error(refusing.status, refusing.message)
    try:
        with box.intake.turn():
            return _take_events(box)
    except QueueFull as exc:
        answer, status = error(503, str(exc))
        answer.headers["Retry-After"] = str(exc.retry_after)
        return answer, status


def _take_events(box):
    body = request.get_data(cache=False)
    try:
        records = split_body(body)
    except BodyError as exc:
        quarantine_body(box.store, body, "http", str(exc))
        return error(400, str(exc))
    try:
        result = ingest_texts(box.store, records, source="http", hooks=box.ingest_hooks,
                              catalogue=box.board.catalogue, on_conflicts=box.conflict_hooks,
                              whole=True, limit_outbox=True)
    except StoreFull as exc:
        return error(507, str(exc))
    box.after_ingest(result.cases)
    # Partial success is 200 with the rejected list (like a bulk API); 422 when nothing was taken.
    nothing_taken = (result.rejected or result.conflicts) and not (result.accepted
                                                                   or result.duplicates)
    status = 422 if nothing_taken else 200
    return jsonify(result.as_dict()), status


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API (docs/standard/openapi.json); no token needed."""
    return jsonify(_openapi())


_openapi = cache(openapi_document)  # built once from the models, then the same every call


@bp.errorhandler(500)
def internal_error(_exc):
    return error(500, "内部错误，本次请求的记录均未保存，可原样重发 (internal error: nothing from "
                      "this request was stored; sending it again is safe)")


@bp.errorhandler(413)
def too_large(_exc):
    return error(413, "请求体过大，请分批发送 (body too large: send batches of at most 32 MiB)")
