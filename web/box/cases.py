"""办件监察: the case list with lights and filters, and one case's full timeline."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from edge.board import PER_PAGE, STAGE_NAMES
from edge.cases import CaseFilter
from web.auth import login_required
from web.box import services
from web.box.alerts import alerts_for_case
from web.box.roles import DEPT_READERS, own_dept, require_visible
from web.charts import stage_track
from web.layout import LIGHTS

bp = Blueprint("cases", __name__)

EVENT_FIELDS = (("reason", "原因"), ("fee_amount", "收费（元）"), ("procedure_kind", "特别程序"),
                ("extension_days", "延期（工作日）"), ("window_no", "窗口"), ("case_type", "办件类型"),
                ("to_dept_code", "分送至"))


def case_filter() -> CaseFilter:
    """The list's filters from the query string; unknown values are ignored, not errors."""
    args = request.args
    hall = services.hall()
    dept = own_dept() or (args.get("dept") if args.get("dept") in hall.departments() else None)
    item = args.get("item") if args.get("item") in hall.board.catalogue else None
    light = args.get("light") if args.get("light") in LIGHTS else None
    stage = args.get("stage") if args.get("stage") in STAGE_NAMES else None
    text = (args.get("q") or "").strip()[:50] or None
    return CaseFilter(dept, item, light, stage, include_finished=args.get("finished") == "1",
                      text=text)


def _departments() -> dict[str, str]:
    """The department filter's choices: a department user has only its own."""
    departments, own = services.hall().departments(), own_dept()
    return {own: departments.get(own, own)} if own else departments


def _items() -> list[tuple[str, str]]:
    catalogue, own = services.hall().board.catalogue, own_dept()
    return [(code, name) for code, name in services.hall().items()
            if not own or catalogue[code].dept_code == own]


@bp.get("/cases")
@login_required(roles=DEPT_READERS)
def index():
    where = case_filter()
    page = request.args.get("page", "1")
    hall = services.hall()
    result = hall.case_page(where, int(page) if page.isdigit() else 1, PER_PAGE)
    return render_template("cases.html", where=where, result=result,
                           departments=_departments(), items=_items(),
                           stages=STAGE_NAMES, per_page=PER_PAGE)


@bp.get("/cases/<case_no>")
@login_required(roles=DEPT_READERS)
def detail(case_no: str):
    case = services.hall().detail(case_no)
    if case is None:
        abort(404)
    # A department sees the cases it leads and the joint cases it takes part in.
    require_visible(case.row.dept_code, also=[share.dept_code for share in case.row.departments])
    reached = {name: day for name, day in case.facts.stage_started.items()}
    return render_template(
        "case.html", case=case, alerts=alerts_for_case(case_no), event_fields=EVENT_FIELDS,
        departments=services.hall().departments(),
        shares=[share.to_dict() for share in case.row.departments],
        share_names={**services.hall().departments(), **{
            share.dept_code: share.dept_name for share in case.row.departments
            if share.dept_name}},
        track=stage_track(STAGE_NAMES, reached, case.facts.stage))
