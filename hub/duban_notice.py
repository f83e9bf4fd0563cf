"""The 督办通知书 issued at the hub (the city's or a district's): its content, fixed when the
督办 is issued, and its printed page.

The content has the shape of the boxes' notices (standard/notice_layout.py), so the hub's
notice prints on one A4 sheet in the same 公文 layout as a district's 限期办理通知书: the
issuing organ in red, the number, the title, the department addressed, the case in a table,
the requirement, the date to answer by, the issuer and the date.

Example::

    content = duban_content(data, case, "440605SCJ", number="佛山电监〔2026〕3号",
                            issued_on=dt.date(2026, 11, 20), due_on=dt.date(2026, 11, 27),
                            requirement="请依法办结该件", issuer="佛山市电子监察中心")
    page = render_notice_page(content, org=duban_org("佛山市"))
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hub.services import HubData
from standard.districts import hall_name
from standard.notice_layout import chinese_date, is_complete, render_notice_page

TITLE = "督办通知书"
MAX_REASONS = 120  # characters of the case's anomalies printed in the table
LIGHT_WORDS = {"red": "红灯（已超期或异常）", "yellow": "黄灯（临近期限）", "green": "绿灯（正常）",
               "unknown": "无法判断"}


def duban_org(city_name: str) -> str:
    """The red line heading the city's notices: 佛山市行政审批电子监察."""
    return f"{city_name}行政审批电子监察"


def duban_issuer(city_name: str) -> str:
    return f"{city_name}电子监察中心"


def district_issuer(code: str) -> str:
    """A district's 监察室, as it signs its own notices (the boxes' cards too)."""
    return f"{hall_name(code)}行政服务中心电子监察室"


def notice_org(city_name: str, issuer: str | None) -> str:
    """The red line of a 督办's notice: the city's, or the issuing district's."""
    if not issuer or issuer == "city":
        return duban_org(city_name)
    return f"{hall_name(issuer)}行政审批电子监察"


def duban_content(data: HubData, case: dict[str, Any], target: str, *, number: str,
                  issued_on: dt.date, due_on: dt.date, requirement: str, issuer: str,
                  source: str | None = None, city: bool = True) -> dict[str, Any]:
    """The notice as issued; ``source`` names where the matter came from (a complaint);
    ``city`` False for a district's own 督办."""
    item = data.catalogue.get(case["item_code"])
    recipient = hall_name(case["district_code"]) + data.dept_code_names().get(target, target)
    lines = [["办件编号", case["case_no"]],
             ["事项名称", f"{item.name}（{case['item_code']}）" if item else case["item_code"]],
             ["受理日期", chinese_date(case["accepted_on"]) if case.get("accepted_on") else "未受理"]]
    if case.get("deadline"):
        lines.append(["承诺办结日期", chinese_date(case["deadline"])])
    if case.get("is_open"):
        lines.append(["当前环节", case.get("stage") or "未受理"])
        lines.append(["监察状态", LIGHT_WORDS.get(case.get("light") or "", "—")])
    else:
        lines.append(["办结情况", f"{case.get('terminal') or '已办结'}"
                                 f"（{chinese_date(case['finished_on'])}）"
                      if case.get("finished_on") else (case.get("terminal") or "已办结")])
    reasons = "；".join(case.get("reasons") or [])
    if reasons:  # the whole list is on the case page; the notice keeps to one sheet
        lines.append(["异常情形", reasons if len(reasons) <= MAX_REASONS
                      else reasons[:MAX_REASONS - 1] + "…等"])
    if source:
        lines.append(["问题来源", source])
    level = "市级督办" if city else "督办"
    opening = (f"经行政审批电子监察系统监测，你单位办理的下列办件需要{level}："
               if not source else f"群众反映你单位办理的下列办件存在问题（{source}），现予督办：")
    return {
        "version": 1, "kind": TITLE, "title": TITLE, "number": number, "recipient": recipient,
        "opening": opening, "lines": lines,
        "requirements": [requirement,
                         f"请你单位于{chinese_date(due_on)}前依法处理完毕，并将办理情况书面"
                         f"反馈{issuer}（可在电子监察系统中直接反馈）。",
                         "特此通知。"],
        "issuer": issuer, "issued_on": issued_on.isoformat(), "due_on": due_on.isoformat()}


def duban_page(row: dict[str, Any], data: HubData, case: dict[str, Any] | None) -> str:
    """The printable page of a 督办 row: its stored content, or (a 督办 issued before the
    content was kept) the same document made from the row and the case as they are now."""
    content = json.loads(row["content"]) if row.get("content") else None
    if not is_complete(content):
        stub = case or {"case_no": row["case_no"], "district_code": row["district_code"],
                        "item_code": row.get("item_code") or "", "is_open": 1}
        content = duban_content(
            data, stub, row.get("dept_code") or "", number=row["number"],
            issued_on=dt.date.fromisoformat(row["issued_on"]),
            due_on=dt.date.fromisoformat(row["due_on"] or row["issued_on"]),
            requirement=row["requirement"], issuer=duban_issuer(data.city_name))
    return render_notice_page(content, org=notice_org(data.city_name, row.get("issuer")))
