"""预警纠错: alerts and their lifecycle (签收, 说明理由, 整改报告, 采纳/退回, 过错责任, 办结, 上报),
allowed by role.

The lifecycle and its audit trail belong to the supervision service (``box.supervision``,
edge/supervision/lifecycle.py); these views only check the role, keep a department user to
its own department's alerts and notices, and translate the service's errors.
"""

from __future__ import annotations

import html

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from edge.board import PER_PAGE
from edge.supervision import (
    ACTION_NAMES,
    LEVEL_NAMES,
    LIABILITY_OUTCOMES,
    STATES,
    Alert,
    AlertNotFound,
    NoticeNotFound,
    SupervisionError,
)
from standard.notice_layout import void_notice_page
from web.auth import login_required
from web.box import services
from web.box.roles import DEPT_READERS, own_dept, require_visible
from web.layout import local_time

bp = Blueprint("alerts", __name__)

# Who may do what. The service checks the alert's state; the page checks the role.
# The department writes its 说明理由 and 整改报告 (the hall manager may do it on its behalf);
# the hall manager or the district supervisor accepts or returns them.
ANSWERERS = ("manager", "department")
REVIEWERS = ("manager", "supervisor")
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "acknowledge": ANSWERERS,
    "explain": ANSWERERS,
    "report": ANSWERERS,
    "accept_explanation": REVIEWERS,
    "return_explanation": REVIEWERS,
    "accept_report": REVIEWERS,
    "return_report": REVIEWERS,
    "liability": ("supervisor",),
    "close": ("supervisor",),
    "escalate": ("supervisor",),
}

REVIEW_NAMES = {"pending": "待审核", "accepted": "已采纳", "returned": "已退回，待重新填写"}


def my_actions(alert: Alert) -> list[str]:
    """The actions the signed-in user may take on ``alert`` now."""
    return [a for a in alert.allowed_actions if g.user.role in ACTION_ROLES.get(a, ())]


def alerts_for_case(case_no: str) -> list[Alert]:
    return services.supervision().alerts(case_no=case_no, dept_code=own_dept())


def get_alert(alert_id: int) -> Alert:
    """The alert with its audit trail, or 404 (also for another department's alert)."""
    try:
        alert = services.supervision().alert(alert_id)
    except AlertNotFound:
        abort(404)
    require_visible(alert.dept_code)
    return alert


@bp.get("/alerts")
@login_required(roles=DEPT_READERS)
def index():
    args = request.args
    state = args.get("state") if args.get("state") in STATES else None
    level = args.get("level") if args.get("level") in LEVEL_NAMES else None
    page = max(int(args["page"]) if args.get("page", "").isdigit() else 1, 1)
    supervision = services.supervision()
    dept = own_dept()
    total = supervision.count(state=state, level=level, dept_code=dept)
    found = supervision.alerts(state=state, level=level, dept_code=dept, limit=PER_PAGE,
                               offset=(page - 1) * PER_PAGE)
    return render_template("alerts.html", alerts=found, total=total, page=page,
                           can_sign=g.user.role in ACTION_ROLES["acknowledge"],
                           pages=max(-(-total // PER_PAGE), 1), state=state, level=level,
                           states=STATES, levels=LEVEL_NAMES)


@bp.get("/alerts/<int:alert_id>")
@login_required(roles=DEPT_READERS)
def detail(alert_id: int):
    alert = get_alert(alert_id)
    return render_template("alert.html", alert=alert, actions=my_actions(alert),
                           action_names=ACTION_NAMES, levels=LEVEL_NAMES,
                           outcomes=LIABILITY_OUTCOMES, review_names=REVIEW_NAMES,
                           departments=services.hall().departments())


@bp.post("/alerts/bulk/acknowledge")
@login_required(roles=ACTION_ROLES["acknowledge"])
def acknowledge_many():
    """批量签收: the alerts ticked on the list, each with its own audit entry."""
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    if not ids:
        flash("请先勾选要签收的预警", "error")
        return redirect(request.referrer or url_for("alerts.index"))
    actor = f"{g.user.display_name}（{g.user.username}）"
    try:
        result = services.supervision().acknowledge_many(ids, actor, request.form.get("note", ""))
    except SupervisionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已签收 {len(result.done)} 条", "success")
        if result.refused:
            flash(f"{len(result.refused)} 条未签收："
                  + "；".join(f"#{n} {why}" for n, why in list(result.refused.items())[:5]),
                  "error")
    return redirect(request.referrer or url_for("alerts.index"))


@bp.post("/alerts/<int:alert_id>/<action>")
@login_required(roles=("manager", "supervisor", "department"))
def act(alert_id: int, action: str):
    if action not in ACTION_ROLES:
        abort(404)
    if g.user.role not in ACTION_ROLES[action]:
        abort(403)
    get_alert(alert_id)
    actor = f"{g.user.display_name}（{g.user.username}）"
    note = request.form.get("note", "")
    try:
        if action == "liability":
            services.supervision().liability(alert_id, actor, request.form.get("outcome", ""),
                                             note)
        else:
            getattr(services.supervision(), action)(alert_id, actor, note)
    except SupervisionError as exc:
        flash(str(exc), "error")
    else:
        flash(f"已{ACTION_NAMES.get(action, action)}", "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))


@bp.get("/notices/<path:number>")
@login_required(roles=DEPT_READERS)
def notice(number: str):
    """A 限期办理通知书 or 整改建议书 as issued: a printable A4 page made by edge/supervision/noticebook.py.

    Once a 过错责任 outcome is recorded on its card, a note below the notice says so; once its
    alert is withdrawn (later-arriving events disproved it), the page is marked void (作废) with
    the reason. The notice itself stays exactly as issued.
    """
    supervision = services.supervision()
    try:
        found = supervision.notice(number)
    except NoticeNotFound:
        abort(404)
    require_visible(found.dept_code)
    page = found.html
    alert = supervision.alert(found.alert_id)
    if alert.liability:
        page = page.replace("</article>", _liability_note(alert) + "</article>", 1)
    if alert.state == "withdrawn":
        last = next(e for e in reversed(alert.events) if e.action == "withdraw")
        page = void_notice_page(page, last.note or "", local_time(last.at, "%Y-%m-%d"))
    # The stored page carries its own print CSS inline and loads nothing else.
    return Response(page, mimetype="text/html", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


def _liability_note(alert: Alert) -> str:
    """The outcome, who recorded it and when, as a boxed note under the issued notice."""
    last = next(e for e in reversed(alert.events) if e.action == "liability")
    text = (f"过错责任认定：{LIABILITY_OUTCOMES.get(alert.liability, alert.liability)}"
            f"（{local_time(last.at, '%Y-%m-%d')}，{last.actor}）")
    return (f'<div class="liability" style="margin-top:24pt;border:1px solid #c00;padding:6pt;'
            f'text-indent:0">{html.escape(text)}<br>{html.escape(last.note or "")}</div>')
