"""The boxes' notices at the hub: 限期办理通知书 and 整改建议书, printable as issued.

A box relays each notice it issues with its content and its page (``notice`` records,
hub/projections/supervision.py). The hub serves the page exactly as the box made it; for a
notice relayed before the hub kept pages, it renders the relayed content with the same layout
(standard/notice_layout.py); a notice whose content is not complete (a simulator's) prints
as a register entry of what the hub knows. Once a 过错责任 outcome is recorded on the card, a
boxed note under the notice says so, as on the box.

Example::

    notice = box_notice(data, Scope.district("440605"), "440605-01", "南海电监〔2026〕17号")
    html = notice_page(data, notice)
"""

from __future__ import annotations

import html
import json
from typing import Any

from hub.services import HubData, NotFound, Scope
from hub.units import local_date_of
from standard.districts import hall_name
from standard.notice_layout import (
    chinese_date,
    is_complete,
    render_notice_page,
    void_notice_page,
)
from standard.supervision import liability_name


def box_notice(data: HubData, scope: Scope, box_id: str, number: str) -> dict[str, Any]:
    """The notice in scope; NotFound when it is missing or outside the scope."""
    where, params = scope.sql()
    rows = data.query(f"select * from hub_notices where box_id = ? and number = ? and {where}",
                      [box_id, number, *params])
    if not rows:
        raise NotFound(f"文书 {number} 不存在或不在您的监察范围内")
    return rows[0]


def _register_content(notice: dict[str, Any], data: HubData) -> dict[str, Any]:
    """What the hub knows of a notice whose full text it never received."""
    dept = data.dept_code_names().get(notice["dept_code"] or "", notice["dept_code"] or "—")
    lines = [["办件编号", notice["case_no"] or "—"], ["承办部门", dept],
             ["签发日期", chinese_date(notice["issued_on"])]]
    if notice["due_on"]:
        lines.append(["办理期限", chinese_date(notice["due_on"])])
    return {"number": notice["number"], "title": notice["kind"],
            "recipient": hall_name(notice["district_code"]) + dept,
            "opening": "（箱体未上报本文书全文，以下为市级平台登记的文书信息。）",
            "lines": lines, "requirements": [],
            "issuer": f"{hall_name(notice['district_code'])}行政服务中心电子监察室",
            "issued_on": notice["issued_on"]}


def notice_page(data: HubData, notice: dict[str, Any]) -> str:
    """The printable page: as issued, with the card's 过错责任 outcome noted under it."""
    page = notice.get("html")
    if not page:
        content = json.loads(notice["content"] or "{}")
        if not is_complete(content):
            content = _register_content(notice, data)
        page = render_notice_page(content, org=f"{hall_name(notice['district_code'])}"
                                               "行政审批电子监察")
    note = _liability_note(data, notice)
    page = page.replace("</article>", note + "</article>", 1) if note else page
    return _void_mark(data, notice, page)


def _void_mark(data: HubData, notice: dict[str, Any], page: str) -> str:
    """A notice whose alert the box withdrew (later-arriving events disproved it) is void."""
    if notice["alert_id"] is None:
        return page
    events = data.query("select e.at, e.note from hub_alert_events e join hub_alerts a"
                        " on a.box_id = e.box_id and a.alert_id = e.alert_id"
                        " where e.box_id = ? and e.alert_id = ? and e.action = 'withdraw'"
                        " and a.state = 'withdrawn' order by e.event_id desc limit 1",
                        (notice["box_id"], notice["alert_id"]))
    if not events:
        return page
    return void_notice_page(page, events[0]["note"] or "", local_date_of(events[0]["at"]) or "")


def _liability_note(data: HubData, notice: dict[str, Any]) -> str:
    if notice["alert_id"] is None:
        return ""
    found = data.query("select liability from hub_alerts where box_id = ? and alert_id = ?",
                       (notice["box_id"], notice["alert_id"]))
    if not found or not found[0]["liability"]:
        return ""
    events = data.query("select at, actor, note from hub_alert_events where box_id = ?"
                        " and alert_id = ? and action = 'liability' order by event_id desc"
                        " limit 1", (notice["box_id"], notice["alert_id"]))
    last = events[0] if events else {"at": "", "actor": "", "note": ""}
    when = f"（{local_date_of(last['at'])}，{last['actor']}）" if last["at"] else ""
    text = f"过错责任认定：{liability_name(found[0]['liability'])}{when}"
    return (f'<div class="liability" style="margin-top:24pt;border:1px solid #c00;padding:6pt;'
            f'text-indent:0">{html.escape(text)}<br>{html.escape(last["note"] or "")}</div>')
