"""办件监察 at the hub: the scoped case list, its exports, one case, and the city's 督办 on it."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.dubans import DubanError
from hub.services.cases import (
    STAGE_NAMES,
    CaseFilter,
    case_detail,
    case_page,
    items_matching,
    iter_cases,
    staff_index_pending,
    staff_matching,
)
from standard.districts import DISTRICTS
from web.auth import login_required
from web.charts import stage_track
from web.exports import register_downloads
from web.hub.common import CITY, READERS, dashboard, data, page_arg, scope, user_name
from web.layout import LIGHTS

bp = Blueprint("cases", __name__)
CASE_TYPES = ("即办件", "承诺件", "联办件", "上报件", "补办件", "答复件")
HEADER = ["区", "办件编号", "事项编码", "事项名称", "部门", "办件类型", "当前环节", "受理日期",
          "承诺期限", "剩余工作日", "灯色", "原因", "办结日期", "办结情况", "办理用时（工作日）"]


def case_filter() -> CaseFilter:
    """Filters from the query string; unknown values are ignored, not errors. ``q`` is an
    item's code, the id or name of a staff member who handled cases in the scope, part of an
    item's name (any item it names), else the start of a case number."""
    args = request.args
    text = (args.get("q") or "").strip()[:64]
    staff = () if text in data().catalogue else staff_matching(data(), scope(), text)
    items = () if staff else items_matching(data(), text)
    return CaseFilter(
        district=args.get("district") if args.get("district") in DISTRICTS else None,
        dept=(args.get("dept") or "").strip().upper() or None,
        item=(args.get("item") or "").strip() or None,
        light=args.get("light") if args.get("light") in LIGHTS else None,
        stage=args.get("stage") if args.get("stage") in STAGE_NAMES else None,
        case_type=args.get("type") if args.get("type") in CASE_TYPES else None,
        state=args.get("state") if args.get("state") in ("open", "finished", "all") else "open",
        case_no=None if items or staff else text or None, items=items, staff=staff,
        search=text or None)


@bp.get("/cases")
@login_required(roles=READERS)
def index():
    where = case_filter()
    result = case_page(data(), scope(), where, page_arg())
    return render_template("cases.html", where=where, result=result, stages=STAGE_NAMES,
                           case_types=CASE_TYPES, depts=data().dept_names(), scope=scope(),
                           staff_index=staff_index_pending(data()))


@bp.get("/cases/<case_no>")
@login_required(roles=READERS)
def detail(case_no: str):
    case = case_detail(data(), scope(), case_no)
    reached = dict(case.facts.get("stage_started", {}))
    dubans = dashboard().dubans.list(scope(), case_no=case.case["case_no"])
    return render_template("case.html", detail=case, dubans=dubans, scope=scope(),
                           track=stage_track(STAGE_NAMES, reached, case.case["stage"]),
                           dept_names=data().dept_code_names())


@bp.post("/cases/<case_no>/duban")
@login_required(roles=CITY)
def issue_duban(case_no: str):
    try:
        notice = dashboard().dubans.issue(data(), scope(), case_no, user=user_name(),
                                          requirement=request.form.get("requirement", ""),
                                          dept_code=request.form.get("dept_code") or None)
    except DubanError as exc:
        flash(str(exc), "error")
        return redirect(url_for("cases.detail", case_no=case_no))
    flash(f"已发出市级督办 {notice['number']}", "success")
    return redirect(url_for("supervision.duban", duban_id=notice["id"]))


def export_rows() -> Iterator[list]:
    names = data().dept_names()
    for row in iter_cases(data(), scope(), case_filter()):
        yield [row["district_name"], row["case_no"], row["item_code"], row["item_name"],
               names.get(row["dept_suffix"], row["dept_code"]), row["case_type"] or "",
               row["stage"] or "", row["accepted_on"] or "", row["deadline"] or "",
               "" if row["remaining"] is None else row["remaining"],
               LIGHTS.get(row["light"], row["light"]), "；".join(row["reasons"]),
               row["finished_on"] or "", row["outcome_name"],
               "" if row["handling_days"] is None else row["handling_days"]]


def _filename(extension: str) -> str:
    return f"hub-cases-{scope().role}-{data().today():%Y%m%d}.{extension}"


register_downloads(bp, "/cases", sheet="办件", header=HEADER, rows=export_rows,
                   filename=_filename, roles=READERS)
