"""A complaint linked to a case, and turned into a city 督办 (移交督办).

Linking checks the case number against the hub's cases *in the linking user's scope* (a case
outside it is "not found", as everywhere) and against the complaint's own district: a 南海
complaint is not linked to a 顺德 case (forward it to 顺德 first). A complaint that names no
district takes the case's district and department.

移交督办 issues a 督办 on the linked case through :class:`hub.dubans.DubanDesk`, in one
transaction with the complaint's own step: a city user's is a city 督办, a district
supervisor's (区监察室, on a complaint and case of its district) the district's own. The 督办 records the complaint it came from
(``dubans.complaint_id``, its notice names the tracking number) and the complaint records the
督办 (``complaints.duban_id``, a ``transfer`` event). A complaint not yet accepted is accepted
by it, as forwarding does. Every step is in the append-only ``complaint_events``.

Example::

    link_case(desk, data, scope, 7, "44060500000017", user="王芳（wangfang）")
    duban = transfer_to_duban(desk, dubans, data, scope, 7, user="王芳（wangfang）",
                              requirement="请核实群众反映的问题并依法办结")
"""

from __future__ import annotations

from typing import Any

from hub.complaints import CHANNELS, ComplaintDesk, ComplaintError
from hub.dubans import DubanDesk, DubanError
from hub.services import HubData, NotFound, Scope
from hub.services.cases import find_case
from standard.districts import DISTRICTS

TRANSFERABLE = ("submitted", "accepted", "forwarded")


def link_case(desk: ComplaintDesk, data: HubData, scope: Scope, complaint_id: int,
              case_no: str, *, user: str) -> dict[str, Any]:
    """Link the complaint to a case; ComplaintError naming the case number when it is wrong."""
    row = desk.get(complaint_id, scope)
    if scope.role == "department":
        raise ComplaintError("部门用户不能关联办件，请由监察室关联")
    number = (case_no or "").strip()
    if not number:
        raise ComplaintError("请填写办件编号")
    if len(number) > 64:
        raise ComplaintError("办件编号不能超过64个字符")
    try:
        case = find_case(data, scope, number)
    except NotFound:
        raise ComplaintError(f"办件编号 {number} 不存在或不在您的监察范围内，请核对后重新填写"
                             ) from None
    district = row["district_code"]
    if district and district != case["district_code"]:
        raise ComplaintError(
            f"办件 {number} 属于{DISTRICTS.get(case['district_code'])}，与投诉涉及的"
            f"{DISTRICTS.get(district, district)}不一致；如投诉涉及的区有误，请先转办")
    at, _ = desk.now()
    with desk.store.transaction() as conn:
        updated = conn.execute(
            "update complaints set case_no = ?, district_code = coalesce(district_code, ?),"
            " dept_suffix = coalesce(dept_suffix, ?), updated_at = ? where id = ?"
            " and state = ?", (case["case_no"], case["district_code"], case["dept_suffix"], at,
                               complaint_id, row["state"])).rowcount
        if not updated:
            raise ComplaintError("该件状态刚被他人更改，请刷新页面后重试")
        conn.execute("insert into complaint_events (complaint_id, at, actor, action, note)"
                     " values (?, ?, ?, 'link_case', ?)",
                     (complaint_id, at, user, f"办件 {case['case_no']}"))
    return desk.get(complaint_id, scope)


def transfer_to_duban(desk: ComplaintDesk, dubans: DubanDesk, data: HubData, scope: Scope,
                      complaint_id: int, *, user: str, requirement: str,
                      dept_code: str | None = None) -> dict[str, Any]:
    """移交督办: a 督办 on the linked case, the city's or the district's; returns the 督办."""
    row = desk.get(complaint_id, scope)
    if scope.role not in ("city", "district"):
        raise ComplaintError("只有市监察局和区监察室可以移交督办")
    if row["duban_id"]:
        raise ComplaintError(f"该件已移交督办（{row['duban']['number'] if row['duban'] else ''}）")
    if row["state"] not in TRANSFERABLE:
        raise ComplaintError(f"当前状态“{row['state_name']}”不能移交督办")
    if not row["case_no"]:
        raise ComplaintError("请先关联办件，再移交督办")
    source = f"{CHANNELS.get(row['channel'], '')}{row['kind']} {row['tracking_no']}"
    at, today = desk.now()
    accepting = row["state"] == "submitted"

    def record(conn, duban: dict[str, Any]) -> None:
        changes = "duban_id = ?, updated_at = ?"
        params: list[Any] = [duban["id"], at]
        if accepting:
            changes += ", state = 'accepted', accepted_on = ?, reply_due = ?"
            params += [today.isoformat(), desk.reply_due(today)]
        updated = conn.execute(f"update complaints set {changes} where id = ? and state = ?"
                               " and duban_id is null",
                               (*params, complaint_id, row["state"])).rowcount
        if not updated:
            raise ComplaintError("该件状态刚被他人更改，请刷新页面后重试")
        conn.execute("insert into complaint_events (complaint_id, at, actor, action, note)"
                     " values (?, ?, ?, 'transfer', ?)",
                     (complaint_id, at, user, f"移交督办 {duban['number']}"))

    try:
        return dubans.issue(data, scope, row["case_no"], user=user, requirement=requirement,
                            dept_code=dept_code, source=source, complaint_id=complaint_id,
                            also=record)
    except (DubanError, NotFound) as exc:
        raise ComplaintError(str(exc)) from None
