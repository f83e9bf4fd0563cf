"""绩效评估 on the dashboard: ranking, each score's lines, the formula, versions, publication."""

from __future__ import annotations

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from hub.score_periods import period_scores
from hub.scorebook import CorrectionNeedsReason, PublishRefused, Run, ScoresNotReady
from hub.scoring import ScoringError, compute_month
from hub.scoring_config import describe
from hub.units import previous_month
from standard.configfile import ConfigError
from web.auth import login_required
from web.exports import XLSX_MIMETYPE, safe_row
from web.hub.common import CITY, READERS, dashboard, data, month_arg, scope, user_name

bp = Blueprint("scores", __name__)


def _run(month: str) -> Run | None:
    book = dashboard().scorebook
    version = request.args.get("version", "")
    if version.isdigit():
        try:
            return book.run(month, int(version))
        except ScoresNotReady:
            abort(404)
    return book.current(month, published_only=False)


def _default_month() -> str:
    months = dashboard().scorebook.months(published_only=False)
    return months[0] if months else previous_month(data().today())


@bp.get("/scores")
@login_required(roles=READERS)
def index():
    month = month_arg(default=_default_month())
    book = dashboard().scorebook
    run = _run(month)
    rows = book.scores(run, scope()) if run else []
    return render_template("scores.html", month=month, run=run, runs=book.runs(month),
                           months=book.months(published_only=False),
                           districts=[r for r in rows if r["unit_kind"] == "district"],
                           depts=[r for r in rows if r["unit_kind"] == "dept"], scope=scope(),
                           formula=dashboard().shown_formula().formula)


@bp.get("/scores/<month>/v<int:version>/<kind>/<district>/<dept>")
@login_required(roles=READERS)
def unit(month: str, version: int, kind: str, district: str, dept: str):
    book = dashboard().scorebook
    try:
        run = book.run(_checked(month), version)
    except ScoresNotReady:
        abort(404)
    row = book.unit(run, scope(), kind, district, "" if dept == "-" else dept)
    if row is None:
        abort(404)
    return render_template("score_unit.html", run=run, row=row,
                           total_rule=book.formula(run).total)


@bp.get("/scores/formula")
@login_required(roles=READERS)
def formula():
    """The formula as a table: the current file, or the one a month's version used."""
    board = dashboard()
    run = None
    if request.args.get("month"):
        run = _run(month_arg())
        if run is None:
            abort(404)
    config = board.scorebook.formula(run) if run else board.shown_formula()
    return render_template("scores_formula.html", run=run, **describe(config))


@bp.post("/scores/compute")
@login_required(roles=CITY)
def compute():
    month = month_arg()
    board = dashboard()
    try:
        formula, text = board.formula()
        results = compute_month(data(), formula, month)
        run = board.scorebook.save(month, results, formula, text, user=user_name(),
                                   reason=request.form.get("reason"))
    except (ScoringError, CorrectionNeedsReason, ConfigError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("scores.index", month=month))
    flash(f"{month} 成绩已计算：{run.label}", "success")
    return redirect(url_for("scores.index", month=month))


@bp.post("/scores/publish")
@login_required(roles=CITY)
def publish():
    month = month_arg()
    try:
        run = dashboard().scorebook.publish(month, user=user_name(),
                                            force=request.form.get("force") == "1",
                                            reason=request.form.get("reason"))
    except (ScoresNotReady, PublishRefused) as exc:
        flash(str(exc), "error")
    else:
        dashboard().published()  # the month's reports follow (hub/reports/desk.py)
        forced = "（强制提前发布，已记录原因）" if run.forced else ""
        flash(f"{month} 成绩已发布（{run.label}）{forced}，此后不可更改，更正将作为新版本",
              "success")
    return redirect(url_for("scores.index", month=month))


def _ranking(month: str) -> tuple[Run, list[dict]]:
    run = _run(month)
    if run is None:
        abort(404)
    return run, dashboard().scorebook.scores(run, scope())


@bp.get("/scores/<month>.xlsx")
@login_required(roles=READERS)
def as_xlsx(month: str):
    from openpyxl import Workbook

    run, rows = _ranking(_checked(month))
    book = Workbook()
    for kind, title in (("district", "各区排名"), ("dept", "部门排名")):
        sheet = book.create_sheet(title)
        sheet.append(safe_row([f"{data().city_name}电子监察绩效评估 {month}", run.label,
                               run.formula]))
        units = [r for r in rows if r["unit_kind"] == kind]
        labels = [line["label"] for line in units[0]["lines"]] if units else []
        sheet.append(safe_row(["名次", "单位", "经办件数", "得分", *labels]))
        for r in units:
            sheet.append(safe_row([r["rank"], r["unit_name"], r["cases"],
                                   "无办件" if r["score"] is None else r["score"],
                                   *[line["points"] for line in r["lines"]]]))
        sheet.column_dimensions["B"].width = 28
    del book[book.sheetnames[0]]
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype=XLSX_MIMETYPE, headers={
        "Content-Disposition": f"attachment; filename=scores-{month}-v{run.version}.xlsx"})


def _checked(month: str) -> str:
    from hub.units import BadMonth, parse_month

    try:
        return parse_month(month)
    except BadMonth:
        abort(404)


@bp.get("/scores/<month>/print")
@login_required(roles=READERS)
def printable(month: str):
    run, rows = _ranking(_checked(month))
    return render_template("scores_print.html", month=month, run=run,
                           districts=[r for r in rows if r["unit_kind"] == "district"],
                           depts=[r for r in rows if r["unit_kind"] == "dept"])


@bp.get("/scores/year/<int:year>")
@login_required(roles=READERS)
def year(year: int):
    if not 2000 <= year <= 2100:
        abort(404)
    formula = dashboard().shown_formula()
    rows = period_scores(dashboard().scorebook, year, scope(), formula)
    return render_template("scores_year.html", year=year, rows=rows,
                           grades=formula.grades)
