"""The case list as CSV or Excel, with the same filters as the page (all pages, not one)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint

from web.box import services
from web.box.cases import case_filter
from web.box.roles import DEPT_READERS
from web.exports import register_downloads
from web.layout import LIGHTS

bp = Blueprint("exports", __name__)

HEADER = ["办件编号", "事项编码", "事项名称", "部门", "办件类型", "当前环节", "承诺期限",
          "剩余工作日", "灯色", "原因", "办结情况"]
OUTCOMES = {"early": "提前办结", "on_time": "按时办结", "late": "超期办结"}


def export_rows() -> Iterator[list]:
    hall = services.hall()
    names = hall.departments()
    for case in hall.matching(case_filter()):
        row = case.row
        yield [row.case_no, row.item_code, row.item_name or "", names.get(row.dept_code,
               row.dept_code), row.case_type or "", row.stage or "",
               row.deadline.isoformat() if row.deadline else "",
               "" if row.remaining_working_days is None else row.remaining_working_days,
               LIGHTS.get(row.light, row.light), "；".join(row.reasons),
               OUTCOMES.get(row.outcome or "", "" if case.is_open else "已办结")]


def _filename(extension: str) -> str:
    return f"cases-{services.box().config.box_id}-{services.today():%Y%m%d}.{extension}"


register_downloads(bp, "/cases", sheet="办件", header=HEADER, rows=export_rows,
                   filename=_filename, roles=DEPT_READERS)  # a department: its own cases (case_filter)
