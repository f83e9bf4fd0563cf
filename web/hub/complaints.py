"""投诉建言 on the dashboard: the complaints in scope, each with its deadlines and steps."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.complaints import FINDINGS, STATE_NAMES, ComplaintError
from web.auth import login_required
from web.hub.common import READERS, dashboard, data, scope, user_name

bp = Blueprint("complaints", __name__)


@bp.get("/complaints")
@login_required(roles=READERS)
def index():
    state = request.args.get("state") if request.args.get("state") in STATE_NAMES else None
    return render_template("complaints.html", rows=dashboard().complaints.list(scope(), state),
                           state=state, states=STATE_NAMES, depts=data().dept_names())


@bp.get("/complaints/<int:complaint_id>")
@login_required(roles=READERS)
def detail(complaint_id: int):
    return render_template("complaint.html",
                           row=dashboard().complaints.get(complaint_id, scope()),
                           depts=data().dept_names(), scope=scope(), findings=FINDINGS,
                           districts=scope().visible_districts())


@bp.post("/complaints/<int:complaint_id>/<action>")
@login_required(roles=READERS)
def act(complaint_id: int, action: str):
    form = request.form
    try:
        dashboard().complaints.act(complaint_id, scope(), action, user=user_name(),
                                   note=form.get("note"), district=form.get("district") or None,
                                   dept=form.get("dept") or None,
                                   finding=form.get("finding") or None)
    except ComplaintError as exc:
        flash(str(exc), "error")
    else:
        flash("已记录", "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id))
