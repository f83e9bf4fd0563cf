"""A department user (审批部门) in a real browser: it explains its own alert, the hall manager
returns the explanation once and then accepts the second one."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from standard.records import LOCAL_TZ
from tests.boxes import REPO
from tests.e2e.conftest import sign_in
from tests.integration.relay_harness import wait_for

pytestmark = pytest.mark.browser


def late_case(case_no: str, item: str) -> list[dict]:
    accepted = dt.datetime.now(LOCAL_TZ) - dt.timedelta(weeks=6)
    return [{"event_id": f"{case_no}-{n}", "case_no": case_no, "item_code": item,
             "dept_code": "440605" + item.split("-")[1], "district_code": "440605",
             "event_type": kind, "occurred_at": (accepted + dt.timedelta(minutes=n)).isoformat(),
             "actor": {"id": "S017", "name": "李敏"}} for n, kind in enumerate(("申请", "受理"))]


def overdue_alert(box, case_no: str) -> int | None:
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
        row = db.execute("select id from alerts where case_no = ? and rule = '超期'",
                         (case_no,)).fetchone()
    return row[0] if row else None


def department_user(box, username: str, dept: str) -> str:
    answer = subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "user", "add", username, "--role",
         "department", "--dept", dept, "--name", "南海区市场监管局", "--config",
         str(box.folder / "box.toml")], capture_output=True, text=True, cwd=REPO, timeout=60,
        check=True)
    return re.search(r"的密码：(\S+)", answer.stdout)[1]


def first_sign_in(page, url: str, username: str, one_time: str, chosen: str) -> None:
    sign_in(page, url, username, one_time)
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.fill("input[name=current]", one_time)
    page.fill("input[name=new]", chosen)
    page.fill("input[name=repeat]", chosen)
    page.get_by_role("button", name="保存").click()


def act(page, action: str, button: str, text: str) -> None:
    form = page.locator(f"form.action-{action}")
    form.locator("textarea").fill(text)
    form.get_by_role("button", name=button).click()


def test_a_department_explains_and_the_manager_returns_once_then_accepts(hall_box, browser):
    events = late_case("NH-DEPT-SCJ", "440605-SCJ-001") + late_case("NH-DEPT-MZJ",
                                                                    "440605-MZJ-006")
    status, _ = hall_box.post("/api/v1/platform/events",
                              json.dumps(events, ensure_ascii=False).encode())
    assert status == 200
    own = wait_for(lambda: overdue_alert(hall_box, "NH-DEPT-SCJ"), 20, what="the SCJ alert")
    other = wait_for(lambda: overdue_alert(hall_box, "NH-DEPT-MZJ"), 20, what="the MZJ alert")
    one_time = department_user(hall_box, "nh-scj", "440605SCJ")

    department = browser.new_context(locale="zh-CN").new_page()
    manager = browser.new_context(locale="zh-CN").new_page()
    for page in (department, manager):
        page.set_default_timeout(15_000)
    first_sign_in(department, hall_box.url, "nh-scj", one_time, "nh-scj-own-password-1")
    expect(department.locator("h1")).to_have_text("预警纠错")  # a department lands on its alerts
    listed = department.locator("tbody")
    expect(listed.locator(f"tr[data-alert='{own}']")).to_be_visible()
    expect(listed.locator(f"tr[data-alert='{other}']")).to_have_count(0)
    expect(department.locator("nav")).not_to_contain_text("实时看板")

    department.goto(f"{hall_box.url}/alerts/{own}")
    act(department, "explain", "说明理由", "系统升级停机两天导致延误。")
    expect(department.locator("#alert-state")).to_have_text("已说明理由")
    expect(department.locator("#explanation-state")).to_have_text("待审核")

    sign_in(manager, hall_box.url, hall_box.admin, hall_box.password)
    manager.goto(f"{hall_box.url}/alerts/{own}")
    expect(manager.locator("ol.timeline")).to_contain_text("系统升级停机两天导致延误。")
    act(manager, "return_explanation", "退回说明", "请补充已采取的整改措施。")
    expect(manager.locator("#alert-state")).to_have_text("已退回")

    department.reload()
    expect(department.locator("#alert-state")).to_have_text("已退回")
    expect(department.locator("ol.timeline")).to_contain_text("请补充已采取的整改措施。")
    act(department, "explain", "说明理由", "已办结；建立每日时限巡检，经办人批评教育。")
    expect(department.locator("#explanation-state")).to_have_text("待审核")
    expect(department.locator("form.action-accept_explanation")).to_have_count(0)

    manager.reload()
    act(manager, "accept_explanation", "采纳说明", "理由成立，措施可行。")
    expect(manager.locator("#alert-state")).to_have_text("理由已采纳")
    expect(manager.locator("#explanation-state")).to_have_text("已采纳")
    steps = manager.locator("ol.timeline li strong").all_text_contents()
    assert steps[-4:] == ["说明理由", "退回说明", "说明理由", "采纳说明"]

    department.goto(f"{hall_box.url}/alerts/{other}")
    expect(department.locator("h1")).to_contain_text("页面不存在")
