"""现场与设备: each district hall's absences today, cameras, self-tests and refused links, and
snapshots of a window's camera fetched from its box on request (hub/snapshots.py)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from hub.services.halls import hall_views, refusals
from hub.snapshots import SnapshotError
from web.auth import login_required
from web.hub.common import dashboard, data, scope, user_name

bp = Blueprint("halls", __name__)
HALL_READERS = ("city", "district")  # windows and boxes belong to a district


@bp.get("/halls")
@login_required(roles=HALL_READERS)
def index():
    return render_template("halls.html", halls=hall_views(data(), scope()),
                           refusals=refusals(data(), scope()), scope=scope(),
                           today=data().today(),
                           snapshots=dashboard().snapshots.recent(scope()),
                           snapshot_boxes=dashboard().snapshots.boxes(scope()))


@bp.post("/halls/snapshots")
@login_required(roles=HALL_READERS)
def request_snapshot():
    window = request.form.get("window_no", "")
    try:
        if not window.isdigit():
            raise SnapshotError("请填写窗口号（整数）")
        number = dashboard().snapshots.request(scope(), request.form.get("box_id", ""),
                                               int(window), user_name())
    except SnapshotError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已向盒子发出第 {number} 号截图请求，盒子在线时数秒内回传；请稍后刷新本页。",
              "success")
    return redirect(url_for("halls.index") + "#snapshots")


@bp.get("/halls/snapshots/<int:number>.jpg")
@login_required(roles=HALL_READERS)
def snapshot(number: int):
    return Response(dashboard().snapshots.jpeg(scope(), number), mimetype="image/jpeg",
                    headers={"Cache-Control": "private, no-store"})
