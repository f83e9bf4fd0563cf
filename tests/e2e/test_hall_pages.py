"""The hall manager's pages in a real browser against a real box process."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from standard.records import LOCAL_TZ
from tests.e2e.conftest import sign_in
from tests.integration.relay_harness import wait_for

pytestmark = pytest.mark.browser
NUMBERS = itertools.count(1)


def accepted_case(case_no: str, days_ago: int, window: int = 3,
                  staff: tuple[str, str] = ("S017", "李敏")) -> list[dict]:
    """申请 and 受理 at a window, ``days_ago`` days back, for an item promised in 3 working
    days: six weeks back is a red light."""
    now = dt.datetime.now(LOCAL_TZ)
    accepted = now - dt.timedelta(days=days_ago, minutes=2)
    base = {"case_no": case_no, "item_code": "440605-SCJ-001", "dept_code": "440605SCJ",
            "district_code": "440605", "actor": {"id": staff[0], "name": staff[1]},
            "window_no": window}
    return [{**base, "event_id": f"{case_no}-{next(NUMBERS)}", "event_type": kind,
             "occurred_at": (accepted + dt.timedelta(minutes=n)).isoformat()}
            for n, kind in enumerate(("申请", "受理"))]


def overdue_alert(box, case_no: str) -> bool:
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
        return db.execute("select 1 from alerts where case_no = ? and rule = '超期'",
                          (case_no,)).fetchone() is not None


def test_a_red_case_appears_live_and_the_manager_acknowledges_it(hall_box, page):
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    expect(page.locator("h1")).to_have_text("大厅实时看板")
    urgent = page.locator("[data-live=urgent]")
    expect(urgent).not_to_contain_text("NH-E2E-RED-1")
    events = accepted_case("NH-E2E-RED-1", 42) + accepted_case("NH-E2E-NOW-1", 0,
                                                                 staff=("S021", "王芳"))
    status, answer = hall_box.post("/api/v1/platform/events",
                                   json.dumps(events, ensure_ascii=False).encode())
    assert status == 200 and answer["accepted"] == 4
    expect(urgent).to_contain_text("NH-E2E-RED-1", timeout=20_000)  # polled, no reload
    wait_for(lambda: overdue_alert(hall_box, "NH-E2E-RED-1"), 20,  # the rules run just after
             what="the 超期 alert of NH-E2E-RED-1")
    window = page.locator("[data-window='3']")
    expect(window).to_contain_text("王芳")  # on duty at window 3 today
    expect(window).to_contain_text("NH-E2E-NOW-1")
    urgent.get_by_role("link", name="NH-E2E-RED-1").click()
    expect(page.locator("h1")).to_contain_text("红灯")
    page.get_by_role("row").filter(has_text="超期").get_by_role("link").first.click()
    expect(page.locator("#alert-state")).to_have_text("待处理")
    form = page.locator("form.action-acknowledge")
    form.locator("textarea").fill("已转市场监管局承办科室，要求今日内说明")
    form.get_by_role("button", name="签收").click()
    expect(page.locator("#alert-state")).to_have_text("已签收")
    expect(page.locator(".flash.success")).to_have_text("已签收")
    expect(page.locator("ol.timeline")).to_contain_text("已转市场监管局承办科室")


def test_a_wrong_password_is_refused(hall_box, page):
    sign_in(page, hall_box.url, hall_box.admin, "not-the-password")
    expect(page.locator(".flash.error")).to_have_text("用户名或密码错误")
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_hall_manager_is_refused_a_technicians_page(hall_box, browser, page):
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    expect(page.locator("nav.nav")).not_to_contain_text("接入异常")
    answer = page.goto(f"{hall_box.url}/health/quarantine")
    assert answer.status == 403
    expect(page.locator("h1")).to_contain_text("无权访问")
    # The administrator adds a technician. The generated password is a one-time one: the
    # technician sets their own before any other page, then lands on the device page.
    page.goto(f"{hall_box.url}/users")
    page.fill("input[name=username]", "tech01")
    page.fill("input[name=display_name]", "技术员小张")
    page.select_option("select[name=role]", "technician")
    page.get_by_role("button", name="添加（自动生成密码）").click()
    password = page.locator("code.password").inner_text()
    other = browser.new_context(locale="zh-CN").new_page()
    sign_in(other, hall_box.url, "tech01", password)
    expect(other.locator("h1")).to_have_text("修改密码")
    expect(other.locator("#forced-change")).to_contain_text("请先设置自己的密码")
    expect(other.locator("nav.nav")).to_have_count(0)
    other.goto(f"{hall_box.url}/health")
    expect(other).to_have_url(f"{hall_box.url}/account/password")
    other.fill("input[name=current]", password)
    other.fill("input[name=new]", "tech01-own-password")
    other.fill("input[name=repeat]", "tech01-own-password")
    other.get_by_role("button", name="保存").click()
    expect(other.locator("h1")).to_contain_text("设备状态")
    assert other.goto(f"{hall_box.url}/health/quarantine").status == 200
    assert other.goto(f"{hall_box.url}/cases").status == 403
    other.context.close()


def test_a_post_without_the_csrf_token_is_refused(hall_box, page):
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    expect(page.locator("h1")).to_have_text("大厅实时看板")
    answer = page.request.post(f"{hall_box.url}/logout", form={"x": "1"})
    assert answer.status == 400 and "安全令牌" in answer.text()
    page.reload()
    expect(page.locator("h1")).to_have_text("大厅实时看板")  # still signed in
    data = urllib.parse.urlencode({"username": hall_box.admin,
                                   "password": hall_box.password}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{hall_box.url}/login", data=data, timeout=10)
    assert refused.value.code == 400


def test_the_wall_display_has_large_type_no_navigation_and_panels_in_turn(hall_box, page):
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    normal = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    page.click("text=大屏模式")
    expect(page).to_have_url(re.compile(r"screen=wall"))
    page.goto(f"{hall_box.url}/?screen=wall&rotate=2")
    expect(page.locator("nav.nav")).to_have_count(0)
    expect(page.locator(".wall-title")).to_contain_text("大厅实时看板")
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") > 1.3 * normal
    expect(page.locator(".wall-panel.active")).to_have_attribute("data-panel", "windows")
    expect(page.locator(".wall-panel.active")).to_have_attribute("data-panel", "urgent",
                                                                  timeout=10_000)
    expect(page.locator(".wall-panel.active")).to_have_attribute("data-panel", "departments",
                                                                  timeout=10_000)
    expect(page.locator("#live-status")).to_have_text(re.compile(r"实时更新 · \d\d:\d\d:\d\d"))


def test_the_manager_signs_many_alerts_at_once_with_one_audit_entry_each(hall_box, page):
    cases = [f"NH-E2E-BULK-{n}" for n in range(1, 4)]
    events = [event for case_no in cases for event in accepted_case(case_no, 42)]
    status, _ = hall_box.post("/api/v1/platform/events",
                              json.dumps(events, ensure_ascii=False).encode())
    assert status == 200
    for case_no in cases:
        wait_for(lambda case_no=case_no: overdue_alert(hall_box, case_no), 20,
                 what=f"the 超期 alert of {case_no}")
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    page.goto(f"{hall_box.url}/alerts?state=open")
    page.locator("[data-select-all=ids]").check()
    ticked = page.locator("input[name=ids]:checked").count()
    assert ticked >= 3
    page.get_by_role("button", name="签收选中的预警").click()
    expect(page.locator(".flash.success")).to_have_text(f"已签收 {ticked} 条")
    with sqlite3.connect(f"file:{hall_box.db}?mode=ro", uri=True) as db:
        signed = db.execute(
            "select a.case_no, a.state, count(e.id) from alerts a join alert_events e"
            " on e.alert_id = a.id and e.action = 'acknowledge'"
            f" where a.case_no in ({', '.join('?' * len(cases))}) and a.rule = '超期'"
            " group by a.id", cases).fetchall()
    assert sorted(signed) == [(case_no, "acknowledged", 1) for case_no in cases]


def test_the_manager_finds_cases_by_number_item_or_staff(hall_box, page):
    events = (accepted_case("NH-E2E-FIND-1", 1, staff=("S088", "欧阳明"))
              + accepted_case("NH-E2E-FIND-2", 1, staff=("S089", "司马青")))
    status, _ = hall_box.post("/api/v1/platform/events",
                              json.dumps(events, ensure_ascii=False).encode())
    assert status == 200
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    search = page.get_by_role("searchbox", name="搜索")
    rows = page.locator("table.cases tbody tr[data-case]")

    def listed() -> bool:
        page.goto(f"{hall_box.url}/cases?q=NH-E2E-FIND")
        return rows.count() == 2

    # The case list reads the hall board, which the box refreshes in the background: the
    # posted cases show within a few refreshes, not at once.
    wait_for(listed, 60, what="the hall board to list the posted cases")

    def find(text: str) -> list[str]:
        search.fill(text)
        search.press("Enter")
        expect(page).to_have_url(re.compile(r"[?&]q="))
        expect(page.get_by_role("searchbox", name="搜索")).to_have_value(text)
        return sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.case)"))

    assert find("欧阳明") == ["NH-E2E-FIND-1"]                 # a staff member's name
    assert find("S089") == ["NH-E2E-FIND-2"]                   # a staff id
    assert find("e2e-find") == ["NH-E2E-FIND-1", "NH-E2E-FIND-2"]  # part of the number
    item = find("440605-SCJ-001")                              # an item's code
    assert {"NH-E2E-FIND-1", "NH-E2E-FIND-2"} <= set(item)
    expect(page.locator("#case-total")).to_have_text(str(len(item)))
    assert find("没有这个人") == []
    expect(page.locator("#case-total")).to_have_text("0")
