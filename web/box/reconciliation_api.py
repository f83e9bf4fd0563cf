"""``POST /api/v1/platform/reconciliation``: the platform's count per item for a day.

Authenticated like the events API (the platform token). The box compares the counts with
what it stored for that day at once (edge/integration/reconcile.py): a difference opens a
数据报送 alert, and the figures go to the hub. The answer lists every item with both counts.
A refused body (422) is kept in the quarantine table with its reason and its raw bytes, like
a refused record of the other intakes (base64 when it is not UTF-8).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from pydantic import ValidationError

from edge.integration import PlatformCounts, reconcile_counts
from edge.quarantine import quarantine_body
from edge.storetx import StoreFull
from standard.problems import field_problems
from web.box.api import error, platform_token_required
from web.box.services import box as current_box

bp = Blueprint("reconciliation_api", __name__, url_prefix="/api/v1")
ORIGIN = "平台推送"
SOURCE = "reconciliation-http"  # a refused body is kept in the quarantine table, as for records


@bp.post("/platform/reconciliation")
@platform_token_required
def platform_reconciliation():
    """Take ``{"version": 1, "date": "2026-11-02", "counts": [{"item_code", "count"}]}``."""
    box = current_box()
    body = request.get_data(cache=False)
    try:
        counts = PlatformCounts.model_validate_json(body)
    except ValidationError as exc:
        problems = field_problems(exc)
        quarantine_body(box.store, body, SOURCE, "; ".join(
            f"{p['field']}: {p['message']}" for p in problems))
        return jsonify({"error": "对账数据无效 (invalid reconciliation body)",
                        "problems": problems}), 422
    if counts.district_code not in (None, box.config.district_code):
        message = (f"district_code {counts.district_code} 不是本机的区划 "
                   f"({box.config.district_code})")
        quarantine_body(box.store, body, SOURCE, message)
        return error(422, message)
    try:
        result = box.store.write(lambda tx: reconcile_counts(tx, counts.date, ORIGIN, counts.by_item()))
    except StoreFull as exc:
        return error(507, str(exc))
    return jsonify(result.as_dict()), 200
