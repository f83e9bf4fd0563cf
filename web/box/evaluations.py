"""好差评: counts per window, staff and department; the 差评整改 list; one review's follow-up
with its forms (回访, 整改, 延期, 申诉复核); a month's ratings as CSV or Excel.

The counts, the workflow, its order and limits and its audit trail belong to the evaluation
services (``box.evaluations``, edge/evaluations/); these views pick the period, check the role
and turn the services' refusals (:class:`FollowUpError`, Chinese messages) into flash messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from edge.evaluations import (
    ACTION_NAMES,
    AWAITING_CALL,
    INVALIDATED,
    RECTIFIED,
    RECTIFYING,
    RULE_CALL_OVERDUE,
    RULE_RECTIFY_OVERDUE,
    STATES,
    UNKNOWN,
    VERDICTS,
    Evaluations,
    ExtensionRefused,
    FollowUp,
    FollowUpError,
    FollowUpService,
    ReviewNotFound,
    rating_report,
    rating_rows,
    uncounted_reason,
)
from standard.evaluations import LEVEL_NAMES
from web.auth import login_required
from web.box import services
from web.box.roles import READERS
from web.exports import register_downloads
from web.layout import local_time

bp = Blueprint("evaluations", __name__)

# Who may take which step. The follow-up service checks the order and the limits; the page
# checks the role: the hall manager works the review, the district supervisor rules on appeals.
STEP_ROLES: dict[str, tuple[str, ...]] = {
    "return_call": ("manager",),
    "rectification": ("manager",),
    "extension": ("manager",),
    "appeal": ("supervisor",),
}
# The hall manager makes the 回访 call, so only they see the citizen's name and phone.
REVEAL_ROLES = ("manager",)
LIST_FILTERS = {**{state: state for state in STATES}, "overdue": "超期"}
# The alert pages' state colours: open red, in progress yellow, done green.
STATE_CLASSES = {AWAITING_CALL: "state-open", RECTIFYING: "state-escalated",
                 RECTIFIED: "state-closed", INVALIDATED: "state-invalidated"}
GROUPS = (("windows", "按窗口", "窗口"), ("staff", "按工作人员", "工作人员"),
          ("departments", "按部门", "部门"))
DETAIL_LABELS = {"note": "说明", "return_call_due": "回访期限", "rectify_due": "整改期限",
                 "days": "延期（工作日）", "reason": "理由", "level_name": "追评等级",
                 "text": "追评内容", "verdict": "复核结论", "approved_by": "复核批准人"}
HEADER = ["评价编号", "时间", "窗口", "工作人员", "部门", "办件编号", "渠道", "评价等级",
          "是否计入", "不计入原因", "差评整改状态", "回访期限", "整改期限"]


class BadMonth(ValueError):
    """The ``month`` query argument is not a month YYYY-MM."""


@dataclass(frozen=True)
class Period:
    """The days the page counts: today, or one calendar month."""

    key: str  # "today", "month" (this month) or "other" (another month)
    since: dt.date
    until: dt.date  # the day after the last one
    title: str

    @property
    def month(self) -> str:
        """The month (YYYY-MM) the period lies in, for the month picker and the exports."""
        return f"{self.since:%Y-%m}"


def month_period(text: str | None) -> Period:
    """The month ``YYYY-MM``, this month when empty. Raises :class:`BadMonth`."""
    if not text:
        first = services.today().replace(day=1)
    else:
        try:
            first = dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise BadMonth(f"月份格式应为 YYYY-MM（例如 2026-11），收到 {text!r}") from None
        if not 2000 <= first.year <= 2100:
            raise BadMonth(f"月份须在 2000–2100 年之间，收到 {text!r}")
    until = (first + dt.timedelta(days=32)).replace(day=1)
    if services.today().replace(day=1) == first:
        return Period("month", first, until, f"本月（{first.year}年{first.month}月）")
    return Period("other", first, until, f"{first.year}年{first.month}月")


def chosen_period() -> Period:
    """The period from the query string: ``period=today``, else a month (``month=YYYY-MM``,
    this month by default)."""
    if request.args.get("period") == "today" and not request.args.get("month"):
        day = services.today()
        return Period("today", day, day + dt.timedelta(days=1), f"今日（{day:%Y-%m-%d}）")
    return month_period(request.args.get("month"))


@bp.errorhandler(BadMonth)
def _bad_month(exc: BadMonth):
    return render_template("error.html", code=400, title="请求无效", message=str(exc)), 400


def evaluations() -> Evaluations:
    """The box's evaluation services; 404 on a box without them."""
    found = getattr(services.box(), "evaluations", None)
    if found is None:
        abort(404)
    return found


def followups() -> FollowUpService:
    return evaluations().followups


def entry_name(group: str, entry: Mapping[str, Any], departments: Mapping[str, str]) -> str:
    """How a row of the counts tables is named: 3 号窗口, 李敏（S001）, 市场监督管理局."""
    key = entry["key"]
    if key == UNKNOWN:
        return "（未关联）"
    if group == "windows":
        return f"{key} 号窗口"
    if group == "staff":
        return f"{entry['label']}（{key}）" if entry["label"] else str(key)
    return departments.get(key, key)


def render(template: str, **context: Any) -> str:
    """Render one of these pages with the names both of them use."""
    return render_template(template, levels=LEVEL_NAMES, state_classes=STATE_CLASSES,
                           call_late=RULE_CALL_OVERDUE, rectify_late=RULE_RECTIFY_OVERDUE,
                           today=services.today(), **context)


@bp.get("/evaluations")
@login_required(roles=READERS)
def index():
    period = chosen_period()
    today = services.today()
    state = request.args.get("state") if request.args.get("state") in LIST_FILTERS else None
    report = rating_report(services.box().store, since=period.since, until=period.until,
                           today=today)
    reviews = followups().worklist(
        period.since, period.until, state=state if state in STATES else None,
        overdue_on=today if state == "overdue" else None)
    names = services.hall().departments()
    groups = [(name, title, head, [(entry_name(name, e, names), e) for e in report[name]])
              for name, title, head in GROUPS]
    return render("evaluations.html", period=period, hall=report["hall"], groups=groups,
                  reviews=reviews, state=state, filters=LIST_FILTERS, states=STATES,
                  departments=names)


# -- one review -----------------------------------------------------------------------------
def get_review(rating_id: int) -> tuple[dict[str, Any], FollowUp | None]:
    """The rating (personal data masked unless the role makes the 回访 call) and its
    follow-up item (None when it is not a counted bad review); 404 when there is no rating."""
    try:
        item = followups().get(rating_id)
    except ReviewNotFound:
        item = None
    reveal = item is not None and g.user.role in REVEAL_ROLES
    rating = evaluations().ratings.get(rating_id, reveal_personal=reveal)
    if rating is None:
        abort(404)
    return rating, item


def my_steps(item: FollowUp | None) -> list[str]:
    """The steps the signed-in user may take on the review now."""
    return [s for s in (item.next_steps if item else ()) if g.user.role in STEP_ROLES[s]]


@bp.get("/evaluations/reviews/<int:rating_id>")
@login_required(roles=READERS)
def review(rating_id: int):
    rating, item = get_review(rating_id)
    return render("review.html", rating=rating, item=item, steps=my_steps(item),
                  audit=followups().audit(rating_id) if item else [],
                  uncounted=uncounted_reason(rating), action_names=ACTION_NAMES,
                  detail_labels=DETAIL_LABELS, verdicts=VERDICTS,
                  max_days=followups().policy.max_extension_working_days,
                  departments=services.hall().departments())


def _return_call(rating_id: int, actor: str, form: Mapping[str, str]) -> str:
    followups().record_return_call(rating_id, by=actor, note=form.get("note", ""))
    return "已记录回访"


def _rectification(rating_id: int, actor: str, form: Mapping[str, str]) -> str:
    followups().record_rectification(rating_id, by=actor, note=form.get("note", ""))
    return "已记录整改"


def _extension(rating_id: int, actor: str, form: Mapping[str, str]) -> str:
    text = form.get("days", "").strip()
    try:
        days = int(text)
    except ValueError:
        raise ExtensionRefused(f"请填写延期天数（工作日，整数），收到 {text!r}") from None
    item = followups().extend(rating_id, by=actor, days=days, reason=form.get("reason", ""))
    return f"已延期 {item.extension_days} 个工作日，整改期限改为 {item.rectify_due}"


def _appeal(rating_id: int, actor: str, form: Mapping[str, str]) -> str:
    item = followups().appeal(rating_id, verdict=form.get("verdict", ""),
                              reason=form.get("reason", ""),
                              approved_by=form.get("approved_by", ""), by=actor)
    return f"已记录申诉复核结论：{item.appeal_verdict}，该评价不再计入统计"


STEPS: dict[str, Callable[[int, str, Mapping[str, str]], str]] = {
    "return_call": _return_call, "rectification": _rectification, "extension": _extension,
    "appeal": _appeal}


@bp.post("/evaluations/reviews/<int:rating_id>/<step>")
@login_required(roles=("manager", "supervisor"))
def act(rating_id: int, step: str):
    if step not in STEPS:
        abort(404)
    if g.user.role not in STEP_ROLES[step]:
        abort(403)
    get_review(rating_id)
    actor = f"{g.user.display_name}（{g.user.username}）"
    try:
        done = STEPS[step](rating_id, actor, request.form)
    except FollowUpError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(url_for("evaluations.review", rating_id=rating_id))


# -- exports --------------------------------------------------------------------------------
def export_rows(period: Period) -> Iterator[list]:
    """One row per rating of the period, counted or not, without personal data."""
    names = services.hall().departments()
    for row in rating_rows(services.box().store, since=period.since, until=period.until):
        yield [row["id"], local_time(row["rated_at"], "%Y-%m-%d %H:%M:%S"),
               "" if row["window_no"] is None else row["window_no"],
               row["staff_name"] or row["staff_id"] or "",
               names.get(row["dept_code"], row["dept_code"] or ""), row["case_no"] or "",
               row["channel"], f"{row['level']} {LEVEL_NAMES[row['level']]}",
               "是" if row["counted"] else "否", uncounted_reason(row), row["state"] or "",
               row["return_call_due"] or "", row["rectify_due"] or ""]


def _filename(period: Period, extension: str) -> str:
    return f"ratings-{services.box().config.box_id}-{period.since:%Y%m}.{extension}"


def _month_rows() -> Iterator[list]:
    return export_rows(month_period(request.args.get("month")))


def _month_filename(extension: str) -> str:
    return _filename(month_period(request.args.get("month")), extension)


register_downloads(bp, "/evaluations", sheet="评价明细", header=HEADER, rows=_month_rows,
                   filename=_month_filename, roles=READERS)
