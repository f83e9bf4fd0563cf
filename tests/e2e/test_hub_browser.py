"""The hub's dashboard and portal in a real browser against a real (waitress) server.

Each role's view, the scoping refusals, a complaint from the public form to its reply, and a
month computed, published and shown on the portal.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from standard.districts import DISTRICTS
from tests.e2e.conftest import serving_hub, sign_in
from tests.hubkit import captcha_answer, case_of, seeded_hub, web_secret

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("hub-e2e"))
    yield from serving_hub(dashboard)


def test_each_role_sees_its_own_overview(hub, page):
    dashboard, url, passwords = hub
    sign_in(page, url, "chief", passwords["chief"])
    expect(page.locator("h1")).to_have_text("全市总览")
    expect(page.locator(".district-map [data-district]")).to_have_count(len(DISTRICTS))
    expect(page.locator(".district-map .boxline")).to_have_count(len(DISTRICTS))
    expect(page.locator("nav.nav")).to_contain_text("用户管理")
    page.locator("[data-district='440606']").click()
    expect(page.locator("h1")).to_contain_text("顺德区 · 各部门")
    page.get_by_role("link", name="市场监督管理局").click()
    expect(page.locator("h1")).to_contain_text("市场监督管理局 · 各区对比")
    expect(page.locator("table.matrix tbody tr").first).to_contain_text("企业设立登记")
    page.context.clear_cookies()

    sign_in(page, url, "nanhai", passwords["nanhai"])
    expect(page.locator("h1")).to_have_text("南海区总览")
    expect(page.locator(".district-map [data-district]")).to_have_count(1)
    expect(page.locator("nav.nav")).not_to_contain_text("用户管理")
    page.goto(f"{url}/cases?state=all")
    districts = page.locator("table tbody tr td:nth-child(2)").all_text_contents()
    assert districts and set(districts) == {"南海区"}
    page.context.clear_cookies()

    sign_in(page, url, "scj", passwords["scj"])
    expect(page.locator("h1")).to_contain_text("部门纵向监察总览")
    expect(page.locator(".district-map [data-district]")).to_have_count(len(DISTRICTS))
    expect(page.locator(".district-map .boxline")).to_have_count(0)  # boxes are not theirs
    page.goto(f"{url}/cases?state=all")
    expect(page.locator(".scope-note")).to_contain_text("各区 SCJ")


def test_the_overview_header_shows_the_time_of_its_last_update(hub, page):
    _, url, passwords = hub
    sign_in(page, url, "chief", passwords["chief"])
    # The overview polls /live.json every 5 s; after the first poll the header names its time.
    expect(page.locator("#live-status")).to_have_text(
        re.compile(r"^实时更新 · \d{2}:\d{2}:\d{2}$"), timeout=15_000)
    page.context.clear_cookies()


def test_out_of_scope_addresses_are_refused_in_the_browser(hub, page):
    dashboard, url, passwords = hub
    sign_in(page, url, "nanhai", passwords["nanhai"])
    expect(page.locator("h1")).to_have_text("南海区总览")
    for path in (f"/cases/{case_of(dashboard, '440606')}", "/districts/440606",
                 "/items/440606-SCJ-001"):
        response = page.goto(url + path)
        assert response.status == 404
        expect(page.locator("h1")).to_contain_text("404")
    assert page.goto(f"{url}/users").status == 403
    expect(page.locator("h1")).to_contain_text("无权访问")
    page.context.clear_cookies()
    sign_in(page, url, "scj", passwords["scj"])
    expect(page.locator("h1")).to_contain_text("部门纵向监察总览")
    assert page.goto(f"{url}/departments/WJJ").status == 404


def test_a_complaint_from_the_public_form_to_its_reply(hub, browser, page):
    dashboard, url, passwords = hub
    page.goto(f"{url}/portal/complaints/new")
    page.select_option("select[name=kind]", "投诉")
    page.select_option("select[name=district]", "440605")
    page.select_option("select[name=dept]", "SCJ")
    page.fill("input[name=subject]", "办证超时未说明原因")
    page.fill("textarea[name=content]", "企业设立登记承诺3个工作日，已过一周仍未办结")
    # The captcha is a PNG: no text in the page to read. 看不清？换一张 gives a new image and
    # keeps what was typed.
    expect(page.locator("form svg, form text")).to_have_count(0)
    first = page.locator("img.captcha").get_attribute("src")
    assert first.startswith("data:image/png;base64,")
    page.get_by_role("button", name="看不清？换一张").click()
    expect(page.locator("img.captcha")).not_to_have_attribute("src", first)
    expect(page.locator("input[name=subject]")).to_have_value("办证超时未说明原因")
    token = page.locator("input[name=captcha_token]").get_attribute("value")
    page.fill("input[name=captcha]", captcha_answer(web_secret(dashboard), token))
    page.get_by_role("button", name="提交").click()
    number = page.locator("#tracking-number").text_content()
    assert re.fullmatch(r"TS\d{8}[A-Z0-9]{6}", number)

    supervisor = browser.new_context(locale="zh-CN").new_page()
    sign_in(supervisor, url, "nanhai", passwords["nanhai"])
    supervisor.goto(f"{url}/complaints")
    supervisor.get_by_role("link", name=number).click()
    expect(supervisor.locator("h1")).to_contain_text(number)
    supervisor.locator("form[data-action=accept] button").click()
    expect(supervisor.locator(".flash.success")).to_have_text("已记录")
    reply = supervisor.locator("form[data-action=reply]")
    reply.locator("textarea").fill("经核查，该件因补正材料暂停计时，已于今日办结。")
    reply.get_by_role("button", name="答复").click()
    expect(supervisor.locator(".state")).to_have_text("已答复")
    supervisor.context.close()

    page.get_by_role("link", name="查询受理情况和答复").click()
    expect(page.locator("#complaint-state")).to_have_text("已答复")
    expect(page.locator("#complaint-reply")).to_contain_text("已于今日办结")
    page.goto(f"{url}/portal/")  # the public chart of complaints by department counts it
    expect(page.locator("svg.chart")).to_contain_text("市场监督管理局")


def test_a_month_is_computed_published_and_shown_on_the_portal(hub, page):
    dashboard, url, passwords = hub
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, url, "chief", passwords["chief"])
    expect(page.locator("h1")).to_have_text("全市总览")
    page.goto(f"{url}/scores?month=2026-10")
    page.get_by_role("button", name="计算本月成绩").click()
    expect(page.locator(".flash.success")).to_contain_text("草稿")
    page.get_by_role("button", name="发布本月成绩").click()
    expect(page.locator(".flash.success")).to_contain_text("已发布")
    expect(page.get_by_role("button", name="计算更正版本")).to_be_visible()
    page.get_by_role("link", name="逐项说明").first.click()
    expect(page.locator("table.lines")).to_contain_text("提前办结率")

    page.goto(f"{url}/portal/scores")
    expect(page.locator("h1")).to_contain_text("2026-10")
    expect(page.locator("main")).to_contain_text("第1版 · 已发布")
    rows = page.locator("section.card").nth(1).locator("table.ranking > tbody > tr")
    expect(rows).to_have_count(8 * len(DISTRICTS))  # 8 departments in each unit
    rows.first.locator("summary").click()
    expect(rows.first.locator("table.lines")).to_contain_text("按时办结率")
    page.goto(f"{url}/portal/")
    expect(page.locator("main")).to_contain_text("2026-10 绩效评估")


def test_a_district_user_added_on_the_shared_page_sees_its_own_hall(hub, page):
    dashboard, url, passwords = hub
    sign_in(page, url, "chief", passwords["chief"])
    expect(page.locator("h1")).to_have_text("全市总览")
    page.get_by_role("link", name="用户管理").click()
    page.fill("input[name=username]", "gaoming")
    page.fill("input[name=display_name]", "高明区监察室")
    page.select_option("select[name=role]", "district")
    page.fill("input[name=scope]", "440608")
    page.get_by_role("button", name="添加（自动生成密码）").click()
    password = page.locator("code.password").text_content()
    listed = page.locator("section.card", has_text="全部用户").locator("tr", has_text="gaoming")
    expect(listed).to_contain_text("高明区")
    page.context.clear_cookies()

    sign_in(page, url, "gaoming", password)  # a one-time password: 修改密码 comes first
    expect(page.locator("h1")).to_have_text("修改密码")
    page.fill("input[name=current]", password)
    page.fill("input[name=new]", "gaoming-own-password")
    page.fill("input[name=repeat]", "gaoming-own-password")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".who")).to_contain_text("区监察室 · 高明区")
    expect(page.locator(".district-map")).to_have_css("display", "grid")  # hub.css is loaded
    page.get_by_role("link", name="现场与设备").click()
    expect(page.locator("h1")).to_have_text("现场与设备")
    expect(page.locator("#hall-summary tbody tr")).to_have_count(1)
    expect(page.locator("#hall-summary")).to_contain_text("高明区")
    expect(page.locator("nav.nav .portal-link")).to_have_text("公众门户 ↗")


def test_a_district_finds_its_cases_by_the_staff_who_handled_them(hub, page):
    """办件监察's search by staff (issue 20): 南海 types a staff id, then a name, and lists
    exactly its own cases they handled; the public portal's lookup finds nothing by staff."""
    from tests.integration.test_hub_pages import handled_by

    dashboard, url, passwords = hub
    staff = handled_by(dashboard)
    expected = staff[("440605", "S007")]
    sign_in(page, url, "nanhai", passwords["nanhai"])
    page.goto(f"{url}/cases")
    page.get_by_label("搜索").fill("S007")
    page.get_by_label("范围").select_option("all")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".scope-note").last).to_have_text("经办人“S007”经办的办件（按经办人编号或姓名查找）")
    expect(page.locator(".summary-line")).to_have_text(f"共 {len(expected)} 件")
    numbers = page.locator("table tbody tr td a[href^='/cases/']").all_text_contents()
    assert set(numbers) == expected
    assert set(page.locator("table tbody tr td:nth-child(2)").all_text_contents()) == {"南海区"}
    name = next(who for (code, who) in sorted(staff) if code == "440605" and not who.isascii()
                and any((other, who) in staff for other in DISTRICTS if other != "440605"))
    page.get_by_label("搜索").fill(name)
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".summary-line")).to_have_text(f"共 {len(staff[('440605', name)])} 件")
    page.context.clear_cookies()
    # the public portal: a case number only; a staff id finds no case and names no one
    response = page.goto(f"{url}/portal/cases?no=S007")
    assert response.status == 404
    expect(page.locator("body")).to_contain_text("S007")   # the lookup answered
    expect(page.locator("body")).not_to_contain_text(name)
