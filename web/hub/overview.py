"""全市总览 and its drill-down: district, department across districts, item."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, render_template, request

from hub import complaint_conflicts as conflicts
from hub.services.cases import CaseFilter, case_page
from hub.services.departments import department_view, district_view, item_view
from hub.services.overview import district_tiles, tamper_alerts, totals
from web.auth import login_required
from web.layout import local_time
from web.hub.common import READERS, dashboard, data, month_arg, page_arg, scope

bp = Blueprint("overview", __name__)


def _overview_context() -> dict:
    tiles = district_tiles(data(), scope())
    return {"tiles": tiles, "total": totals(tiles), "scope": scope(),
            "tamper": tamper_alerts(data(), scope()) if scope().sees_boxes else [],
            "store_damage": _store_damage() if scope().sees_boxes else None,
            "today": data().today()}


def _store_damage() -> str | None:
    """What the last ``PRAGMA quick_check`` of hub.db found (hub/wiring.py), None if sound."""
    watch = dashboard().store_watch
    return watch.problem if watch is not None else None


@bp.get("/")
@login_required(roles=READERS)
def index():
    reports = dashboard().reports.history(scope())[:4] if dashboard().reports else []
    alerts = conflicts.open_alerts(dashboard().complaints.store, scope())  # 12345 数据冲突
    return render_template("overview.html", reports=reports, data_alerts=alerts,
                           resolvable=False, **_overview_context())


@bp.get("/live.json")
@login_required(roles=READERS)
def live():
    """The overview's live sections (boxes online, lights), polled every few seconds."""
    context = _overview_context()
    at = dt.datetime.now(dt.timezone.utc)
    return jsonify({"at": at.isoformat(), "at_text": local_time(at, "%H:%M:%S"),
                    "html": {"grid": render_template("_district_grid.html", **context),
                             "table": render_template("_district_table.html", **context)}})


@bp.get("/districts/<code>")
@login_required(roles=READERS)
def district(code: str):
    view = district_view(data(), scope(), code, month_arg())
    return render_template("district.html", view=view, scope=scope())


@bp.get("/departments/<suffix>")
@login_required(roles=READERS)
def department(suffix: str):
    view = department_view(data(), scope(), suffix, month_arg())
    return render_template("department.html", view=view, scope=scope())


@bp.get("/items/<code>")
@login_required(roles=READERS)
def item(code: str):
    info = item_view(data(), scope(), code)
    state = request.args.get("state") if request.args.get("state") in ("open", "finished",
                                                                      "all") else "open"
    result = case_page(data(), scope(), CaseFilter(item=code, state=state), page_arg())
    return render_template("item.html", info=info, result=result, state=state)
