"""大厅实时看板: every window, today's activity, the urgent cases; updated live by polling."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request

from edge.board import active_alerts
from web.auth import login_required
from web.box import services
from web.box.roles import READERS
from web.charts import LIGHT_SERIES, donut, stacked_bars
from web.layout import local_time

bp = Blueprint("board", __name__)
LIVE_SECTIONS = ("summary", "windows", "urgent", "departments")
POLL_SECONDS = 3
ROTATE_SECONDS = 15  # the wall display shows one panel at a time


@bp.get("/")
@login_required(roles=READERS)
def index():
    """The board; ``?screen=wall`` is the hall's wall display (大屏): no navigation, large
    type, the panels in turn (every ``?rotate=`` seconds, default 15)."""
    template = "board_wall.html" if request.args.get("screen") == "wall" else "board.html"
    rotate = request.args.get("rotate", "")
    rotate_seconds = min(max(int(rotate), 2), 600) if rotate.isdigit() else ROTATE_SECONDS
    return render_template(template, poll_seconds=POLL_SECONDS, rotate_seconds=rotate_seconds,
                           **board_context())


@bp.get("/board.json")
@login_required(roles=READERS)
def live():
    """The live sections as HTML fragments (one renderer for the page and its updates)."""
    context = board_context()
    html = {name: render_template(f"board/_{name}.html", **context) for name in LIVE_SECTIONS}
    return jsonify({"version": 1, "at": context["at"].isoformat(),
                    "at_text": local_time(context["at"], "%H:%M:%S"), "html": html})


def board_context() -> dict[str, Any]:
    hall = services.hall()
    box = services.box()
    alert_total, alert_cases = active_alerts(box.store)
    counts = hall.light_counts()
    names = hall.departments()
    departments = sorted(hall.department_lights().items(),
                         key=lambda item: (-item[1]["red"], -item[1]["yellow"], item[0]))
    ratings = services.window_ratings()
    return {
        "at": services.now(),
        "counts": counts,
        "open_total": sum(counts.values()),
        "alert_total": alert_total,
        "windows": hall.windows(services.configured_windows(), alert_cases),
        "serving": services.window_service(),
        "ratings": ratings,
        "ratings_total": _ratings_total(ratings),
        "presence": services.presence_now(),
        "office_closed": services.office_closed(),
        "absent_minutes": services.absence_minutes() or {},
        "urgent": hall.urgent(12),
        "names": names,
        "light_ring": donut([(label, counts[key], colour) for key, label, colour in LIGHT_SERIES],
                            title="在办件红黄绿灯分布", centre=str(sum(counts.values()))),
        "department_chart": stacked_bars(
            [(names.get(code, code), lights) for code, lights in departments],
            LIGHT_SERIES, title="各部门在办件灯色"),
    }


def _ratings_total(ratings: dict[int, dict] | None) -> dict[str, Any] | None:
    if ratings is None:
        return None
    counted = sum(entry["counted"] for entry in ratings.values())
    satisfied = sum((entry["satisfaction"] or 0) * entry["counted"] for entry in ratings.values())
    return {"counted": counted, "bad": sum(entry["bad"] for entry in ratings.values()),
            "satisfaction": satisfied / counted if counted else None}
