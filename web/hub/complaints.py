"""投诉建言 on the dashboard: the complaints in scope, each with its deadlines and steps; staff
enter those that come by the 12345 hotline, letter, phone or visit; a complaint is linked to a
case and turned into a city 督办 (移交督办). The 12345 intake's 数据冲突 alerts head the page
(hub/complaint_conflicts.py), with its quarantine below."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub import complaint_conflicts as conflicts
from hub import complaint_quarantine as quarantined
from hub.complaint_links import link_case, transfer_to_duban
from hub.complaints import (
    CHANNELS,
    FINDINGS,
    KINDS,
    STAFF_CHANNELS,
    STATE_NAMES,
    ComplaintError,
    NewComplaint,
)
from standard.records import LOCAL_TZ
from web.auth import login_required
from web.hub.common import READERS, dashboard, data, page_arg, scope, user_name

bp = Blueprint("complaints", __name__)
STAFF = ("city", "district")


@bp.get("/complaints")
@login_required(roles=READERS)
def index():
    state = request.args.get("state") if request.args.get("state") in STATE_NAMES else None
    channel = request.args.get("channel") if request.args.get("channel") in CHANNELS else None
    rows, total, page, pages = dashboard().complaints.page(scope(), state, channel, page_arg())
    store = dashboard().complaints.store
    return render_template("complaints.html", rows=rows, total=total, page=page, pages=pages,
                           state=state, states=STATE_NAMES, channel=channel, channels=CHANNELS,
                           depts=data().dept_names(), scope=scope(),
                           quarantined=quarantined.count(store, scope()),
                           quarantine=quarantined.recent(store, scope(), limit=10),
                           data_alerts=conflicts.open_alerts(store, scope()),
                           resolvable=scope().role in STAFF)


@bp.post("/complaints/data-alerts/<int:alert_id>/resolve")
@login_required(roles=STAFF)
def resolve_data_alert(alert_id: int):
    """已核对: the supervisor has checked with the 12345 system which content is right."""
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        conflicts.resolve(dashboard().complaints.store, scope(), alert_id, user_name(), at)
    except conflicts.HotlineAlertNotFound as exc:
        flash(str(exc), "error")
    else:
        flash("已核对，数据冲突预警已消除", "success")
    return redirect(url_for("complaints.index"))


@bp.get("/complaints/<int:complaint_id>")
@login_required(roles=READERS)
def detail(complaint_id: int):
    return render_template("complaint.html",
                           row=dashboard().complaints.get(complaint_id, scope()),
                           depts=data().dept_names(), scope=scope(), findings=FINDINGS,
                           districts=scope().visible_districts())


def _entry_form(status: int = 200, **context):
    return render_template("complaint_new.html", kinds=KINDS, channels={
        code: CHANNELS[code] for code in STAFF_CHANNELS}, districts=scope().visible_districts(),
        depts=data().dept_names(), today=data().today().isoformat(), **context), status


@bp.get("/complaints/new")
@login_required(roles=STAFF)
def new():
    return _entry_form(form={})


@bp.post("/complaints/new")
@login_required(roles=STAFF)
def enter():
    """A complaint taken by the hotline, a letter, a call or a visit, entered by staff."""
    form = request.form
    try:
        row = dashboard().complaints.enter(scope(), NewComplaint(
            kind=form.get("kind", ""), subject=form.get("subject", ""),
            content=form.get("content", ""), district=form.get("district") or None,
            dept=form.get("dept") or None, contact_name=form.get("contact_name"),
            contact_phone=form.get("contact_phone"), channel=form.get("channel", ""),
            publish_ok=form.get("publish_ok") == "1",
            received_at=_received_at(form.get("received_on")),
            ticket_no=(form.get("ticket_no") or "").strip() or None), user=user_name())
    except ComplaintError as exc:
        return _entry_form(400, error=str(exc), form=form)
    flash(f"已登记 {row['tracking_no']}", "success")
    return redirect(url_for("complaints.detail", complaint_id=row["id"]))


def _received_at(text: str | None) -> str | None:
    """The day the hotline, letter or call took it (local), as a UTC timestamp at 00:00."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ComplaintError("收到日期格式应为 2026-11-20") from None
    if day > data().today():
        raise ComplaintError("收到日期不能晚于今天")
    start = dt.datetime.combine(day, dt.time(), LOCAL_TZ)
    return start.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@bp.post("/complaints/<int:complaint_id>/link")
@login_required(roles=STAFF)
def link(complaint_id: int):
    try:
        link_case(dashboard().complaints, data(), scope(), complaint_id,
                  request.form.get("case_no", ""), user=user_name())
    except ComplaintError as exc:
        flash(str(exc), "error")
    else:
        flash("已关联办件", "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id))


@bp.post("/complaints/<int:complaint_id>/transfer")
@login_required(roles=STAFF)
def transfer(complaint_id: int):
    """移交督办: a 督办 on the linked case (the city's, or the district supervisor's own),
    recorded on both."""
    try:
        duban = transfer_to_duban(dashboard().complaints, dashboard().dubans, data(), scope(),
                                  complaint_id, user=user_name(),
                                  requirement=request.form.get("requirement", ""),
                                  dept_code=request.form.get("dept_code") or None)
    except ComplaintError as exc:
        flash(str(exc), "error")
        return redirect(url_for("complaints.detail", complaint_id=complaint_id))
    flash(f"已移交督办 {duban['number']}", "success")
    return redirect(url_for("supervision.duban", duban_id=duban["id"]))


@bp.post("/complaints/<int:complaint_id>/<action>")
@login_required(roles=READERS)
def act(complaint_id: int, action: str):
    form = request.form
    try:
        dashboard().complaints.act(complaint_id, scope(), action, user=user_name(),
                                   note=form.get("note"), district=form.get("district") or None,
                                   dept=form.get("dept") or None,
                                   finding=form.get("finding") or None,
                                   publish=form.get("publish") == "1")
    except ComplaintError as exc:
        flash(str(exc), "error")
    else:
        flash("已记录", "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id))
