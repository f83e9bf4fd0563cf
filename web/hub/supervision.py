"""督办与红黄牌: the boxes' active cards, escalations, the city's 督办 notices; 上报件."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.dubans import DubanError
from hub.services.supervision import cards, escalated, forwarded_cases
from web.auth import login_required
from web.hub.common import READERS, dashboard, data, scope, user_name

bp = Blueprint("supervision", __name__)


@bp.get("/supervision")
@login_required(roles=READERS)
def index():
    state = request.args.get("state", "active")
    return render_template("supervision.html", cards=cards(data(), scope()),
                           escalated=escalated(data(), scope()),
                           dubans=dashboard().dubans.list(scope(), state=state), state=state,
                           scope=scope(), today=data().today().isoformat())


@bp.get("/forwarded")
@login_required(roles=READERS)
def forwarded():
    return render_template("forwarded.html", cases=forwarded_cases(data(), scope()),
                           escalated=escalated(data(), scope()), scope=scope())


@bp.get("/dubans/<int:duban_id>")
@login_required(roles=READERS)
def duban(duban_id: int):
    return render_template("duban.html", duban=dashboard().dubans.get(duban_id, scope()),
                           scope=scope())


@bp.post("/dubans/<int:duban_id>/<action>")
@login_required(roles=READERS)
def act(duban_id: int, action: str):
    try:
        dashboard().dubans.act(duban_id, scope(), action, user=user_name(),
                               note=request.form.get("note"))
    except DubanError as exc:
        flash(str(exc), "error")
    else:
        flash("已记录", "success")
    return redirect(url_for("supervision.duban", duban_id=duban_id))
