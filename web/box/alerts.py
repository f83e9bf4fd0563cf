"""预警纠错: alerts and their lifecycle (签收, 说明理由, 办结, 上报), allowed by role.

The lifecycle belongs to the supervision service (``box.supervision``, edge/supervision.py).
Without it the pages still list the alerts table, read-only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from edge import board as queries
from edge.board import PER_PAGE
from web.auth import login_required
from web.box import services
from web.box.pages import READERS

try:
    from edge.supervision import ACTION_NAMES, STATE_NAMES, STATES, SupervisionError
except ImportError:  # an older box without the supervision service
    STATES = ("open", "acknowledged", "explained", "escalated", "closed", "resolved")
    STATE_NAMES = {"open": "待处理", "closed": "已办结"}
    ACTION_NAMES = {}
    SupervisionError = RuntimeError

bp = Blueprint("alerts", __name__)

# Who may do what (the service checks the state; the page checks the role).
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "acknowledge": ("manager",),
    "explain": ("manager",),
    "close": ("supervisor",),
    "escalate": ("supervisor",),
}
LEVELS = {"yellow": "黄灯预警", "red": "红灯纠错"}


def my_actions(alert: Any) -> list[str]:
    """The actions the signed-in user may take on ``alert`` now."""
    allowed = getattr(alert, "allowed_actions", ()) if services.supervision() else ()
    return [a for a in allowed if g.user.role in ACTION_ROLES.get(a, ())]


def alerts_for_case(case_no: str) -> list[Any]:
    service = services.supervision()
    if service is not None:
        return service.alerts(case_no=case_no)
    return queries.alert_rows(services.box().store, subject=f"case:{case_no}")[0]


def get_alert(alert_id: int) -> Any:
    """The alert with its history, or 404."""
    service = services.supervision()
    if service is None:
        alert = queries.alert_row(services.box().store, alert_id)
    else:
        try:
            alert = service.alert(alert_id)
        except SupervisionError:
            alert = None
    if alert is None:
        abort(404)
    return alert


@bp.get("/alerts")
@login_required(roles=READERS)
def index():
    state = request.args.get("state") if request.args.get("state") in STATES else None
    level = request.args.get("level") if request.args.get("level") in LEVELS else None
    page = int(request.args["page"]) if request.args.get("page", "").isdigit() else 1
    page = max(page, 1)
    service = services.supervision()
    if service is not None:
        found = service.alerts(state=state, level=level, limit=PER_PAGE + 1,
                               offset=(page - 1) * PER_PAGE)
        more, rows = len(found) > PER_PAGE, found[:PER_PAGE]
    else:
        rows, total = queries.alert_rows(services.box().store, state=state, level=level,
                                         limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        more = total > page * PER_PAGE
    return render_template("alerts.html", alerts=rows, state=state, level=level, page=page,
                           more=more, states=STATES, state_names=STATE_NAMES, levels=LEVELS,
                           lifecycle=service is not None)


@bp.get("/alerts/<int:alert_id>")
@login_required(roles=READERS)
def detail(alert_id: int):
    alert = get_alert(alert_id)
    return render_template("alert.html", alert=alert, actions=my_actions(alert),
                           state_names=STATE_NAMES, action_names=ACTION_NAMES, levels=LEVELS,
                           lifecycle=services.supervision() is not None)


@bp.post("/alerts/<int:alert_id>/<action>")
@login_required(roles=("manager", "supervisor"))
def act(alert_id: int, action: str):
    service = services.supervision()
    if service is None or action not in ACTION_ROLES:
        abort(404)
    if g.user.role not in ACTION_ROLES[action]:
        abort(403)
    actor = f"{g.user.display_name}（{g.user.username}）"
    try:
        getattr(service, action)(alert_id, actor, request.form.get("note", ""))
    except SupervisionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已{ACTION_NAMES.get(action, action)}", "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))
