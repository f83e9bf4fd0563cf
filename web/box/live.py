"""实时画面 (视频监控, 同步监督): a window's camera live, for the hall's supervisors only.

The stream is MJPEG (``multipart/x-mixed-replace``), which an ``<img>`` shows without any
script, built from the frames the camera worker already reads (edge/presence/live.py): a
frame-rate cap per window and a viewer limit on the box keep the 离岗 detection fed. Each view
is audited (``video_access``). Managers and supervisors may watch; auditors, technicians and
department users may not (the picture shows people at work: need to know).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, render_template

from edge.presence import MJPEG_MIMETYPE, NoFrame, ViewerLimit
from web.auth import login_required
from web.box import services

bp = Blueprint("live", __name__)
WATCHERS = ("manager", "supervisor")


def _live():
    live = getattr(services.box(), "live", None)
    if live is None:
        abort(404)
    return live


@bp.get("/presence/live")
@login_required(roles=WATCHERS)
def index():
    live = _live()
    return render_template("live.html", windows=live.windows(), window_no=None,
                           settings=live.settings, accesses=live.accesses())


@bp.get("/presence/live/<int:window_no>")
@login_required(roles=WATCHERS)
def window(window_no: int):
    live = _live()
    if window_no not in live.windows():
        abort(404)
    return render_template("live.html", windows=live.windows(), window_no=window_no,
                           settings=live.settings, accesses=live.accesses())


@bp.get("/presence/live/<int:window_no>.mjpg")
@login_required(roles=WATCHERS)
def stream(window_no: int):
    actor = f"{g.user.display_name}（{g.user.username}）"
    try:
        frames = _live().open_stream(window_no, actor)
    except ViewerLimit as exc:
        return Response(str(exc), status=503, mimetype="text/plain",
                        headers={"Retry-After": "30"})
    except NoFrame:
        abort(404)
    return Response(frames, mimetype=MJPEG_MIMETYPE,
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
