"""The score pages in a real browser: a unit's explanation line by line, the formula as a Chinese
table, publication refused before the month's end and forced with a reason, the portal's
ranking with the same explanations."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from hub.scoring_config import MEASURES
from standard.districts import DISTRICTS
from tests.e2e.conftest import serving_hub, sign_in
from tests.hubkit import seeded_hub

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("scores-e2e"))  # the hub's clock: 2026-11-20
    yield from serving_hub(dashboard)


def test_a_score_is_explained_indicator_by_indicator_and_the_formula_is_a_table(hub, page):
    dashboard, url, passwords = hub
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/scores?month=2026-10")
    page.get_by_role("button", name="计算本月成绩").click()
    expect(page.locator(".flash.success")).to_contain_text("草稿")
    districts = page.locator("section.card", has_text="各区（单位）排名")
    expect(districts.locator("table.scores > tbody > tr")).to_have_count(len(DISTRICTS))
    page.locator("section.card", has_text="部门排名").get_by_role("link", name="逐项说明").first \
        .click()

    expect(page.locator("h1")).to_contain_text("2026-10 绩效得分")
    lines = page.locator("table.score-lines > tbody > tr")
    expect(lines).to_have_count(len(MEASURES))
    on_time = page.locator("tr[data-indicator=on_time]")
    expect(on_time.locator(".inputs")).to_have_text(re.compile(r"按时办结 \d+ / 本月到期 \d+ 件"))
    expect(on_time.locator(".rate")).to_have_text(re.compile(r"\d+\.\d%"))
    expect(on_time.locator(".rule")).to_contain_text("达到100%时得30分，每低1个百分点扣1分")
    satisfaction = page.locator("tr[data-indicator=satisfaction] .inputs")
    expect(satisfaction).to_contain_text("基本满意")
    headline = page.locator("h1 .score").text_content()
    expect(page.locator("table.score-lines tr.total .score")).to_have_text(headline)
    assert 0 <= float(headline) <= 105

    page.get_by_role("link", name=dashboard.scoring.formula).click()
    expect(page.locator("h1")).to_have_text("绩效评估计分办法")
    rows = page.locator("table.formula-table > tbody > tr")
    expect(rows).to_have_count(len(MEASURES))
    expect(page.locator("tr[data-indicator=complaints]")).to_contain_text("每百件每多1件扣5分")
    grade_points = page.locator("table.grade-points")
    expect(grade_points.locator("tr", has_text="基本满意")).to_contain_text("80")
    expect(page.locator("main")).not_to_contain_text("per_point")
    expect(page.locator("main")).not_to_contain_text("[on_time]")


def test_publication_waits_for_the_month_end_unless_forced_and_the_portal_explains(hub, page):
    dashboard, url, passwords = hub
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/scores?month=2026-11")
    page.get_by_role("button", name="计算本月成绩").click()
    page.get_by_role("button", name="发布本月成绩").click()
    expect(page.locator(".flash.error")).to_contain_text("尚未结束（月末为 2026-11-30）")
    page.locator("details.force summary").click()
    page.locator("input[name=force]").check()
    page.locator("details.force input[name=reason]").fill("市政府月度会议需要")
    page.get_by_role("button", name="发布本月成绩").click()
    expect(page.locator(".flash.success")).to_contain_text("强制提前发布")
    expect(page.locator(".flash.warning")).to_contain_text("市政府月度会议需要")

    page.goto(f"{url}/scores?month=2026-10")
    if page.get_by_role("button", name="计算本月成绩").count():
        page.get_by_role("button", name="计算本月成绩").click()
    page.get_by_role("button", name="发布本月成绩").click()
    expect(page.locator(".flash.success")).to_contain_text("已发布")

    page.goto(f"{url}/portal/scores?month=2026-10")
    expect(page.locator("main")).to_contain_text("第1版 · 已发布")
    first = page.locator("section.card", has_text="各部门").locator(
        "table.ranking > tbody > tr").first
    first.locator("summary").click()
    expect(first.locator("tr[data-indicator=on_time] .inputs")).to_have_text(
        re.compile(r"按时办结 \d+ / 本月到期 \d+ 件"))
    expect(first.locator("tr.total")).to_contain_text("总分")
    page.get_by_role("link", name=dashboard.scoring.formula).click()
    expect(page.locator("table.formula-table > tbody > tr")).to_have_count(len(MEASURES))
    page.goto(f"{url}/portal/scores?month=2026-11")
    expect(page.locator("main")).to_contain_text("提前发布，原因：市政府月度会议需要")
