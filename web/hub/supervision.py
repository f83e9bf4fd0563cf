"""督办与红黄牌: the boxes' cards (filtered, paged), escalations, the city's 督办 notices; 上报件."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.dubans import STATE_NAMES as DUBAN_STATES
from hub.dubans import DubanError
from hub.services.supervision import (
    CardFilter,
    card_page,
    escalated,
    escalated_count,
    forwarded_cases,
)
from standard.supervision import STATE_NAMES
from web.auth import login_required
from web.hub.common import READERS, dashboard, data, page_arg, scope, user_name

bp = Blueprint("supervision", __name__)
DUBANS_SHOWN = 10  # on 督办与红黄牌; the rest on /dubans


@bp.get("/supervision")
@login_required(roles=READERS)
def index():
    where = CardFilter.parse(request.args, scope())
    dubans, duban_total, _, _ = dashboard().dubans.page(scope(), state="active",
                                                         per_page=DUBANS_SHOWN)
    return render_template("supervision.html", where=where,
                           result=card_page(data(), scope(), where, page_arg()),
                           states=STATE_NAMES, escalated=escalated(data(), scope()),
                           escalated_total=escalated_count(data(), scope()),
                           dubans=dubans, duban_total=duban_total, scope=scope(),
                           today=data().today().isoformat())


@bp.get("/dubans")
@login_required(roles=READERS)
def dubans():
    """Every city 督办 in scope, paged, by state and unit."""
    state = request.args.get("state")
    state = state if state in DUBAN_STATES else "active" if state != "all" else None
    district = request.args.get("district")
    district = district if district in scope().visible_districts() else None
    rows, total, page, pages = dashboard().dubans.page(scope(), state=state, district=district,
                                                       page=page_arg())
    return render_template("dubans.html", rows=rows, total=total, page=page, pages=pages,
                           state=state or "all", district=district, states=DUBAN_STATES,
                           scope=scope())


@bp.get("/forwarded")
@login_required(roles=READERS)
def forwarded():
    return render_template("forwarded.html", cases=forwarded_cases(data(), scope()),
                           escalated=escalated(data(), scope()),
                           escalated_total=escalated_count(data(), scope()), scope=scope())


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
