"""A joint case (联办件) on the box's pages and in ``edge cases --json``: the lead's light is its
own, each participating department has its own deadline and state, and the late department's
alert is addressed to it.

The box's clock is Tuesday 2026-12-01 10:00. The case is accepted Monday 11-16: the lead
(发展和改革局, 20 working days) is due 12-14; 交通运输局 (10 days from its 分送 on 11-16) was due
11-30 and has not answered; 住房和城乡建设局 (15 days, no 分送: from 受理) is due 12-07.
"""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import quote

from tests.boxes import REPO
from tests.integration.test_box_pages import (  # noqa: F401  (fixtures)
    TOKEN,
    app,
    box,
    event,
    manager,
    signed_in,
    text,
)

JOINT = "440605-FGJ-010"
CASE = "NH-JNT-0001"


def post_joint_case(app, box) -> None:
    lead, jtj = {"item": JOINT}, "440605JTJ"
    body = [event(CASE, "申请", "2026-11-16T09:00:00", case_type="联办件", **lead),
            event(CASE, "受理", "2026-11-16T09:05:00", **lead),
            event(CASE, "分送", "2026-11-16T10:00:00", to_dept_code=jtj, **lead),
            {**event(CASE, "承办", "2026-11-17T09:00:00", **lead), "dept_code": jtj},
            event(CASE, "承办", "2026-11-17T10:00:00", **lead)]
    answer = app.test_client().post(
        "/api/v1/platform/events", headers={"Authorization": f"Bearer {TOKEN}"},
        data="\n".join(json.dumps(e, ensure_ascii=False) for e in body).encode())
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 5
    assert box.checker.wait_idle(timeout=60)


def test_a_joint_case_shows_each_department_and_the_late_one_is_carded(app, box, manager):
    post_joint_case(app, box)
    page = text(manager.get(f"/cases/{CASE}"))
    assert "牵头部门" in page and "联办部门" in page
    shares = page[page.index('id="joint-departments"'):page.index("办理环节")]
    assert "交通运输局" in shares and "2026-11-30" in shares and "超时" in shares
    assert "住房和城乡建设局" in shares and "2026-12-07" in shares and "办理中" in shares
    assert "协办部门：交通运输局" in page   # its 承办 in the timeline, not the lead's
    alerts = box.supervision.alerts(case_no=CASE)
    assert [(a.rule, a.dept_code, a.card) for a in alerts] == [("超期", "440605JTJ", "yellow")]
    notice = box.supervision.notice(alerts[0].notices[0])
    assert notice.content["recipient"] == "交通运输局" and notice.dept_code == "440605JTJ"

    rows = subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "cases", "--config",
         str(box.config.path("box.toml")), "--at", "2026-12-01T10:00", "--json"],
        capture_output=True, text=True, cwd=REPO, check=True).stdout.splitlines()
    (row,) = [json.loads(line) for line in rows if CASE in line]
    assert (row["light"], row["deadline"], row["remaining_working_days"]) == (
        "green", "2026-12-14", 9)
    assert [{key: d[key] for key in ("dept_code", "deadline", "remaining_working_days", "light",
                                     "state")} for d in row["departments"]] == [
        {"dept_code": "440605ZJJ", "deadline": "2026-12-07", "remaining_working_days": 4,
         "light": "green", "state": "waiting"},
        {"dept_code": "440605JTJ", "deadline": "2026-11-30", "remaining_working_days": -1,
         "light": "red", "state": "late"}]


def test_a_participating_department_sees_the_joint_case_on_the_box(app, box):
    from tests.integration.test_box_pages import token

    if not box.supervision.alerts(case_no=CASE):
        post_joint_case(app, box)
    users = app.extensions["users"]
    for name, dept in (("jtj", "440605JTJ"), ("wjj", "440605WJJ")):
        users.add(name, f"{name}-用户", "department", password=f"{name}-password-1",
                  dept_code=dept)

    def client(name):
        web = app.test_client()
        answer = web.post("/login", data={"username": name, "password": f"{name}-password-1",
                                          "csrf_token": token(web)})
        assert answer.status_code == 302
        return web

    jtj, wjj = client("jtj"), client("wjj")
    assert CASE in text(jtj.get("/cases"))
    page = text(jtj.get(f"/cases/{CASE}"))
    assert "联办部门" in page and "超时" in page
    assert CASE not in text(wjj.get("/cases")) and wjj.get(f"/cases/{CASE}").status_code == 404
    (alert,) = box.supervision.alerts(case_no=CASE)                   # 交通运输局's own card
    assert f'data-alert="{alert.id}"' in text(jtj.get("/alerts"))
    assert f'data-alert="{alert.id}"' not in text(wjj.get("/alerts"))
    number = quote(alert.notices[0])
    assert "交通运输局" in text(jtj.get(f"/notices/{number}"))
    assert wjj.get(f"/notices/{number}").status_code == 404
    answer = jtj.post(f"/alerts/{alert.id}/explain", data={
        "note": "等待交通影响评价报告，已催办。", "csrf_token": token(jtj)})
    assert answer.status_code == 302
    assert box.supervision.alert(alert.id).state == "explained"       # it answers its own card
