"""The hub's machine API: the 12345 hotline system posts its tickets (``POST /api/v1/complaints``).

Authenticated by ``Authorization: Bearer <token>`` (hub/api_token.py; no sign-in, no CSRF:
``/api/`` is exempt). Each record is judged on its own (hub/complaint_intake.py); the answer
lists what was created, what was a duplicate, what conflicted and what was refused, by index.
Answers: 200 when anything was taken, 422 when nothing was (every refused record is kept in
quarantine), 400 for a body that cannot be cut into records (kept in quarantine whole), 401
without the right token, 413 above 1 MiB or 500 records, 503 when no token has been made yet
(``hallwatch hub token``) or the store failed (nothing stored: send the same body again).
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from hub.api_token import TokenMissing, token_matches, token_path
from hub.complaint_intake import BodyError, TooManyRecords, take_hotline
from web.hub.common import dashboard, data

bp = Blueprint("api", __name__, url_prefix="/api/v1")
log = logging.getLogger(__name__)


def error(status: int, message: str):
    return jsonify({"error": message}), status


@bp.post("/complaints")
def complaints():
    """Take the 12345 system's tickets: one JSON object or an array of them."""
    try:
        allowed = token_matches(token_path(dashboard().config),
                                request.headers.get("Authorization", ""))
    except TokenMissing as exc:
        return error(503, f"尚未生成12345接口令牌，请运行 hallwatch hub token（{exc}）"
                          " (no API token yet: run 'hallwatch hub token')")
    if not allowed:
        log.warning("12345 API call refused: bad or missing token from %s", request.remote_addr)
        return error(401, "接口令牌无效或缺失 (missing or wrong bearer token)")
    body = request.get_data(cache=False)  # above MAX_CONTENT_LENGTH: 413 (too_large)
    try:
        status, answer = take_hotline(dashboard().complaints, data(), body)
    except BodyError as exc:
        return error(400, f"{exc}；请求体已存入隔离区，本次均未登记 (kept in quarantine; nothing "
                          "was stored)")
    except TooManyRecords as exc:
        return error(413, str(exc))
    except Exception:  # the store failed: the transaction committed nothing of the request
        log.exception("12345 request could not be stored")
        answer, status = error(503, "市级平台暂时无法登记，本次请求的投诉均未登记，请稍后原样重发 "
                                    "(the hub could not store the request: nothing was stored; "
                                    "send the same body again later)")
        answer.headers["Retry-After"] = "30"
        return answer, status
    return jsonify(answer), status


@bp.errorhandler(413)
def too_large(_exc):
    return error(413, "请求体超过 1 MiB，请分批提交，本次均未登记 (body too large: at most 1 MiB; "
                      "nothing was stored)")


@bp.errorhandler(500)
def internal_error(_exc):
    return error(500, "内部错误，本次请求的投诉均未登记，可原样重发 (internal error: nothing "
                      "from this request was stored; sending it again is safe)")
