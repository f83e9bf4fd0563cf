"""好差评 in a real browser against a real box process: a bad review worked through its forms."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import expect

from standard.records import LOCAL_TZ
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_bad_review_is_called_back_and_rectified_through_the_forms(hall_box, page):
    now = dt.datetime.now(LOCAL_TZ)
    served = {"event_id": "NH-E2E-EV-1-1", "case_no": "NH-E2E-EV-1",
              "item_code": "440605-SCJ-001", "dept_code": "440605SCJ", "district_code": "440605",
              "event_type": "受理", "occurred_at": (now - dt.timedelta(minutes=20)).isoformat(),
              "actor": {"id": "S031", "name": "周丽"}, "window_no": 2}
    status, _ = hall_box.post("/api/v1/platform/events", json.dumps([served]).encode())
    assert status == 200
    rating = {"version": 1, "evaluation_id": "QR-E2E-1", "channel": "二维码",
              "case_no": "NH-E2E-EV-1", "level": 1, "rated_at": now.isoformat(),
              "text": "窗口人员态度冷淡", "citizen_phone": "13800138000"}
    status, answer = hall_box.post("/api/v1/evaluations",
                                   json.dumps(rating, ensure_ascii=False).encode())
    assert status == 200 and answer["ratings"][0]["followup_opened"]
    rating_id = answer["ratings"][0]["rating_id"]

    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    page.locator("nav.nav").get_by_role("link", name="好差评").click()
    expect(page.locator("h1")).to_contain_text("好差评")
    row = page.locator(f"tr[data-review='{rating_id}']")
    expect(row).to_contain_text("待回访")
    expect(row).to_contain_text("周丽")
    expect(page.locator("table[data-group=windows] tr[data-key='2']")).to_contain_text("2 号窗口")
    row.get_by_role("link", name=f"#{rating_id}").click()

    expect(page.locator("#review-state")).to_have_text("待回访")
    expect(page.locator("#citizen")).to_contain_text("13800138000")  # the manager calls back
    call = page.locator("form.step-return_call")
    call.locator("textarea").fill("已电话联系群众，致歉并说明情况")
    call.get_by_role("button", name="登记回访").click()
    expect(page.locator(".flash.success")).to_have_text("已记录回访")
    expect(page.locator("#review-state")).to_have_text("整改中")
    expect(page.locator("form.step-return_call")).to_have_count(0)

    fix = page.locator("form.step-rectification")
    fix.locator("textarea").fill("对窗口人员进行服务礼仪培训")
    fix.get_by_role("button", name="登记整改").click()
    expect(page.locator(".flash.success")).to_have_text("已记录整改")
    expect(page.locator("#review-state")).to_have_text("已整改")
    trail = page.locator("#review-audit")
    expect(trail.locator("li")).to_have_count(3)
    expect(trail).to_contain_text("已电话联系群众，致歉并说明情况")
    expect(trail).to_contain_text("对窗口人员进行服务礼仪培训")

    page.get_by_role("link", name="返回好差评").click()
    expect(page.locator(f"tr[data-review='{rating_id}']")).to_contain_text("已整改")
