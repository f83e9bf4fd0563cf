"""报告 on the dashboard: every monthly supervision report, its page (printable A4), PDF, XLSX.

A district user reads its own district's reports and the city's; the city reads all
(hub/reports/desk.py ``visible_units``). The reports are written by the hub itself once a
month's scores are published; nothing here computes one.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, url_for

from web.auth import login_required
from web.exports import xlsx_book_response
from web.hub.common import READERS, dashboard, scope
from web.hub.report_pdf import document_context, pct

bp = Blueprint("reports", __name__)


def _desk():
    return dashboard().reports


@bp.get("/reports")
@login_required(roles=READERS)
def index():
    return render_template("reports.html", reports=_desk().history(scope()))


@bp.get("/reports/<int:report_id>")
@login_required(roles=READERS)
def show(report_id: int):
    report, content = _desk().get(scope(), report_id)
    links = {"back": url_for("reports.index"),
             "css": url_for("hub_assets.static", filename="report.css"),
             "xlsx": url_for("reports.as_xlsx", report_id=report_id),
             "pdf": url_for("reports.as_pdf", report_id=report_id) if report.has_pdf else None}
    return render_template("report_doc.html", links=links, pdf_error=report.pdf_error,
                           **document_context(content, report.generated_at))


@bp.get("/reports/<int:report_id>.pdf")
@login_required(roles=READERS)
def as_pdf(report_id: int):
    report, _ = _desk().get(scope(), report_id)
    pdf = _desk().pdf(scope(), report_id)
    if pdf is None:
        return render_template("error.html", code=404, title="PDF 不可用",
                               message=f"该报告没有 PDF：{report.pdf_error}"), 404
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=report-{report.month}-{report.unit_code}.pdf"})


@bp.get("/reports/<int:report_id>.xlsx")
@login_required(roles=READERS)
def as_xlsx(report_id: int):
    report, c = _desk().get(scope(), report_id)
    t = c["totals"]
    summary = [("单位", c["unit_name"]), ("月份", c["month"]), ("经办件数", t["cases"]),
               ("本月到期", t["due"]), ("按时办结", t["on_time"]),
               ("按时办结率", pct(t["on_time_rate"])), ("提前办结率", pct(t["early_rate"])),
               ("超期办结", t["late"]), ("黄牌", t["yellow_cards"]), ("红牌", t["red_cards"]),
               ("有效评价", t["ratings"]), ("差评", t["bad_ratings"]),
               ("满意率", pct(t["satisfied_rate"])), ("投诉建言", c["complaints"]["total"]),
               ("属实投诉", t["complaints_substantiated"]),
               ("离岗次数", c["absences"]["total"]), ("离岗分钟", c["absences"]["minutes"])]
    ranking_header = ("名次", "单位", "得分", "上月名次", "名次变化（正数为上升）")

    def ranking(rows):
        return [(r["rank"], r["name"], r["score"], r["previous_rank"], r["change"]) for r in rows]

    sheets = [
        ("概况", ("项目", "数值"), summary),
        ("办件与时效", ("单位", "经办", "到期", "按时办结", "按时办结率", "超期办结"),
         [(u["name"], u["cases"], u["due"], u["on_time"], pct(u["on_time_rate"]), u["late"])
          for u in c["units"]]),
        ("红黄牌", ("类别", "本月发出", "已办结", "状态分布"),
         [(k["name"], k["total"], k["closed"],
           "；".join(f"{s['state']} {s['count']}" for s in k["states"])) for k in c["cards"]]),
        ("离岗", ("单位", "离岗次数", "离岗分钟"),
         [(u["name"], u["count"], u["minutes"]) for u in c["absences"]["units"]]),
        ("各区排名", ranking_header, ranking(c["district_ranking"])),
        ("部门排名", ranking_header, ranking(c["dept_ranking"])),
    ]
    return xlsx_book_response(sheets, f"report-{report.month}-{report.unit_code}.xlsx")
