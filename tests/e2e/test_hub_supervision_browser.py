"""督办与红黄牌 in a real browser against a real (waitress) hub server: the card list's count,
pages and filters, the department's 说明理由, a box's notice opened from its number, and the
city's 督办通知书 printed on one A4 page (Chromium's PDF, as the print dialog makes it)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hub.dubans import MAX_REQUIREMENT
from hub.services import Scope
from tests.e2e.conftest import serving_hub, sign_in
from tests.hubkit import EXPLANATION, case_of, feed_cards, seeded_hub

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("hub-cards"))
    feed_cards(dashboard.data.store, 25)
    yield from serving_hub(dashboard)


def card_total(page) -> int:
    return int(page.locator("#card-total").inner_text())


def test_cards_are_counted_paged_and_filtered(hub, page):
    dashboard, url, passwords = hub
    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/supervision")
    total = card_total(page)
    assert total > 150
    rows = page.locator("#card-table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator(".pager-total")).to_contain_text(f"共 {total} 条")
    page.locator("nav.pager").get_by_role("link", name="末页").click()
    expect(page.locator("nav.pager .current")).to_have_text(str(-(-total // 50)))
    expect(rows).to_have_count(total - 50 * (-(-total // 50) - 1))

    # 高明 only, red only, overdue only: every row says so, and the count follows.
    page.select_option("select[name=district]", "440608")
    page.select_option("select[name=card]", "red")
    page.check("input[name=overdue]")
    page.locator("#cards form").get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"district=440608.*card=red.*overdue=1"))
    filtered = card_total(page)
    assert 0 < filtered < total
    expect(rows).to_have_count(filtered)
    for cells in rows.all():
        expect(cells.locator("td").nth(0)).to_have_text("红牌")
        expect(cells.locator("td").nth(1)).to_have_text("高明区")
        expect(cells.locator("td").nth(6)).to_contain_text("超期")

    page.goto(f"{url}/supervision?state=explained")
    expect(page.locator("#card-table")).to_contain_text(EXPLANATION)
    expect(page.locator("#card-table")).to_contain_text("已说明理由")
    expect(page.locator("#card-table")).not_to_contain_text("explained")
    page.context.clear_cookies()


def test_a_district_sees_its_own_cards_only_whatever_the_address_says(hub, page):
    _, url, passwords = hub
    sign_in(page, url, "nanhai", passwords["nanhai"])
    page.goto(f"{url}/supervision?district=440606")
    expect(page.locator("select[name=district]")).to_have_count(0)
    districts = set(page.locator("#card-table tbody tr td:nth-child(2)").all_text_contents())
    assert districts == {"南海区"}
    page.context.clear_cookies()


def test_a_notice_number_opens_its_printable_notice(hub, page):
    _, url, passwords = hub
    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/supervision?district=440607")
    link = page.locator("a.notice-link").first
    number = link.inner_text()
    link.click()
    expect(page.locator(".number")).to_have_text(number)
    expect(page.locator("h1")).to_have_text(re.compile("限期办理通知书|整改建议书"))
    page.context.clear_cookies()


def test_the_city_duban_notice_prints_on_one_a4_page(hub, page):
    dashboard, url, passwords = hub
    case_no = case_of(dashboard, "440604", open_only=True)
    notice = dashboard.dubans.issue(
        dashboard.data, Scope.city(), case_no, user="王芳（chief）",
        requirement=("该件已超过承诺时限。请你单位立即核查原因，依法办结该件，书面说明超期原因、"
                     "责任人及整改措施，并举一反三，排查同类在办件，防止类似问题再次发生。"
                     * 8)[:MAX_REQUIREMENT])  # the longest requirement a 督办 takes
    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/dubans/{notice['id']}")
    page.locator("#duban-notice").click()
    expect(page.locator("h1")).to_have_text("督办通知书")
    expect(page.locator(".number")).to_have_text(notice["number"])
    expect(page.locator(".signature")).to_contain_text("佛山市电子监察中心")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    page.context.clear_cookies()
