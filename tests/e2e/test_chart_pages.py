"""统计图表 in a real browser against a real box process: SVG drawn by the box, nothing else."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import expect

from standard.records import LOCAL_TZ
from tests.e2e.conftest import sign_in
from tests.e2e.test_hall_pages import accepted_case

pytestmark = pytest.mark.browser
WINDOW = 5


def test_the_charts_show_todays_cases_and_ratings_from_the_box_alone(hall_box, page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    expect(page.locator("h1")).to_have_text("大厅实时看板")
    today = [f"NH-CHART-{n}" for n in range(1, 4)]
    events = accepted_case("NH-CHART-OLD", 10, WINDOW)
    for case_no in today:
        events += accepted_case(case_no, 0, WINDOW)
    status, answer = hall_box.post("/api/v1/platform/events",
                                   json.dumps(events, ensure_ascii=False).encode())
    assert status == 200 and answer["accepted"] == len(events)
    rating = {"version": 1, "evaluation_id": "QR-CHART-1", "channel": "二维码",
              "case_no": today[0], "level": 5,
              "rated_at": dt.datetime.now(LOCAL_TZ).isoformat(timespec="seconds")}
    status, _ = hall_box.post("/api/v1/evaluations", json.dumps(rating).encode())
    assert status == 200
    # The board's window shows the last case once the hall board's snapshot has it.
    expect(page.locator(f"[data-window='{WINDOW}']")).to_contain_text(today[-1], timeout=20_000)

    page.locator("nav.nav").get_by_role("link", name="统计图表").click()
    expect(page.locator("h1")).to_have_text("统计图表")
    daily = page.locator("#daily")
    expect(daily.locator("svg g.chart-column")).to_have_count(30)
    expect(daily.locator("svg g.chart-column rect").first).to_be_visible()
    assert daily.locator("svg").bounding_box()["height"] > 150
    daily.locator("summary").click()
    row = daily.locator(f"tr[data-key='{dt.datetime.now(LOCAL_TZ).date().isoformat()}']")
    expect(row.locator("td").nth(1)).to_have_text("3")  # 受理 today
    satisfaction = page.locator("#satisfaction")
    expect(satisfaction.locator("svg rect.chart-share")).to_have_count(1)
    expect(satisfaction.locator("svg")).to_contain_text("100.0%（计入 1 条）")
    expect(page.locator("#absence")).to_contain_text("未接入（本机未配置摄像头）")

    page.get_by_role("link", name="近7天").click()
    expect(daily.locator("svg g.chart-column")).to_have_count(7)
    expect(page.get_by_role("link", name="近7天")).to_have_attribute("aria-current", "page")
    strangers = [url for url in requested if not url.startswith(hall_box.url + "/")]
    assert len(requested) > 5 and strangers == []
