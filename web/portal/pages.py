"""The portal's pages (registered on ``web.portal.bp``)."""

from __future__ import annotations

import re

from flask import abort, current_app, render_template, request

from hub.complaint_public import counts_by_department, public_replies, public_status
from hub.complaints import KINDS, ComplaintError
from hub.score_periods import period_scores
from hub.scoring_config import describe
from hub.services import Scope
from hub.services.cases import STAGE_NAMES, public_case
from hub.services.public import department_rates, service_guide
from hub.units import BadMonth, parse_month
from standard.districts import DISTRICTS
from web.charts import stacked_bars
from web.portal import bp
from web.portal.captcha import CaptchaError, check_answer, new_challenge

PUBLIC = Scope.city()
COMPLAINT_SERIES = [("open", "办理中", "#f2a900"), ("answered", "已答复", "#2e7d32"),
                    ("rejected", "不予受理", "#9aa3b2")]
_CASE_NO = re.compile(r"^[0-9A-Za-z._\-]{1,64}$")


def _dashboard():
    return current_app.extensions["dashboard"]


def _published(month: str | None, version: str = ""):
    """(published months, the month shown, its version: the newest, or ``version``)."""
    book = _dashboard().scorebook
    months = book.months(published_only=True)
    if month is None:
        month = months[0] if months else None
    runs = book.runs(month, published_only=True) if month else []
    run = next((r for r in runs if str(r.version) == version), None) if version else \
        (runs[0] if runs else None)
    if version and run is None:
        abort(404)
    return months, month, run


def _complaint_chart():
    names = _dashboard().data.dept_names()
    rows = [(names.get(dept, "未指明部门" if not dept else dept), counts)
            for dept, counts in counts_by_department(_dashboard().data.store)]
    return stacked_bars(rows, COMPLAINT_SERIES, title="各部门被投诉举报数量")


@bp.get("/")
def home():
    months, month, run = _published(None)
    book = _dashboard().scorebook
    rows = book.scores(run, PUBLIC) if run else []
    return render_template("portal_home.html", run=run, month=month,
                           total_rule=book.formula(run).total if run else None,
                           districts=[r for r in rows if r["unit_kind"] == "district"],
                           depts=[r for r in rows if r["unit_kind"] == "dept"][:10],
                           chart=_complaint_chart())


@bp.get("/guide")
def guide():
    district = request.args.get("district") if request.args.get("district") in DISTRICTS else None
    dept = (request.args.get("dept") or "").upper() or None
    data = _dashboard().data
    return render_template("portal_guide.html", groups=service_guide(data, district, dept),
                           district=district, dept=dept, depts=data.dept_names())


@bp.get("/guide/<item_code>")
def guide_item(item_code: str):
    item = _dashboard().data.catalogue.get(item_code)
    if item is None:
        abort(404)
    return render_template("portal_item.html", item=item, stages=STAGE_NAMES,
                           district=DISTRICTS.get(item.dept_code[:6], "市本级"))


@bp.get("/scores")
def scores():
    try:
        wanted = parse_month(request.args["month"]) if request.args.get("month") else None
    except BadMonth:
        abort(404)
    months, month, run = _published(wanted, request.args.get("version", ""))
    book = _dashboard().scorebook
    rows = book.scores(run, PUBLIC) if run else []
    versions = book.runs(month, published_only=True) if month else []
    return render_template("portal_scores.html", months=months, month=month, run=run,
                           versions=versions, total_rule=book.formula(run).total if run else None,
                           districts=[r for r in rows if r["unit_kind"] == "district"],
                           depts=[r for r in rows if r["unit_kind"] == "dept"])


@bp.get("/scores/formula")
def formula():
    """The formula as a table: the current one, or the one a published version used."""
    board = _dashboard()
    run = None
    if request.args.get("month"):
        try:
            wanted = parse_month(request.args["month"])
        except BadMonth:
            abort(404)
        _, _, run = _published(wanted, request.args.get("version", ""))
        if run is None:
            abort(404)
    config = board.scorebook.formula(run) if run else board.shown_formula()
    return render_template("portal_formula.html", run=run, **describe(config))


@bp.get("/scores/year/<int:year>")
def scores_year(year: int):
    if not 2000 <= year <= 2100:
        abort(404)
    board = _dashboard()
    rows = period_scores(board.scorebook, year, PUBLIC, board.shown_formula())
    return render_template("portal_year.html", year=year, rows=rows)


@bp.get("/rates")
def rates():
    data = _dashboard().data
    try:
        month = parse_month(request.args["month"]) if request.args.get("month") else data.month()
    except BadMonth:
        abort(404)
    return render_template("portal_rates.html", month=month, rows=department_rates(data, month))


@bp.get("/complaints")
def complaints():
    replies = public_replies(_dashboard().data.store, 1, per_page=5)[0]
    return render_template("portal_complaints.html", chart=_complaint_chart(), replies=replies,
                           depts=_dashboard().data.dept_names())


@bp.get("/complaints/replies")
def complaint_replies():
    """公开回复: replies the citizen agreed to publish and the supervisors published."""
    page = request.args.get("page", "1")
    rows, total, page, pages = public_replies(_dashboard().data.store,
                                              int(page) if page.isdigit() else 1)
    return render_template("portal_replies.html", rows=rows, total=total, page=page,
                           pages=pages, depts=_dashboard().data.dept_names())


def _form_page(status: int = 200, **context):
    challenge = new_challenge(current_app.secret_key, _dashboard().data.clock().timestamp())
    return render_template("portal_complaint_form.html", kinds=KINDS, districts=DISTRICTS,
                           depts=_dashboard().data.dept_names(), challenge=challenge,
                           **context), status


@bp.get("/complaints/new")
def complaint_form():
    return _form_page()


@bp.post("/complaints/new")
def complaint_submit():
    form = request.form
    if form.get("refresh"):  # 看不清？换一张: a new image, the text typed so far kept
        return _form_page(form=form)
    now = _dashboard().data.clock().timestamp()
    try:
        nonce = check_answer(current_app.secret_key, form.get("captcha_token", ""),
                             form.get("captcha", ""), now)
        number = _dashboard().complaints.submit(
            kind=form.get("kind", ""), subject=form.get("subject", ""),
            content=form.get("content", ""), district=form.get("district") or None,
            dept=form.get("dept") or None, contact_name=form.get("contact_name"),
            contact_phone=form.get("contact_phone"), nonce=nonce,
            publish_ok=form.get("publish_ok") == "1")
    except (CaptchaError, ComplaintError) as exc:
        return _form_page(400, error=str(exc), form=form)
    return render_template("portal_complaint_done.html", number=number)


@bp.get("/complaints/track")
def complaint_track():
    number = (request.args.get("no") or "").strip()[:40]
    status = public_status(_dashboard().data.store, number) if number else None
    return render_template("portal_track.html", number=number, status=status)


@bp.get("/cases")
def case_lookup():
    number = (request.args.get("no") or "").strip()
    case = public_case(_dashboard().data, number) if _CASE_NO.match(number) else None
    return render_template("portal_case.html", number=number, case=case), \
        404 if number and case is None else 200
