"""A citizen's key press changes the live board, in a real browser.

The box runs in this process, served by waitress on 127.0.0.1, with the 4-window example
profile on gpiozero's mock pins: the test presses the key by driving the pin, exactly as the
button's wire would, and Chromium watches the board update without a reload.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.boxes import keyed_box_in_process
from tests.e2e.conftest import sign_in
from web.auth import UserStore

pytestmark = pytest.mark.browser
WAIT = 10
PASSWORD = "manager-password-e2e-1"
KEY_5_OF_WINDOW_2 = 2  # hall-4.toml: window 2's 非常满意 key is on GPIO 2


@pytest.fixture(scope="module")
def keyed_box(tmp_path_factory):
    with keyed_box_in_process(tmp_path_factory.mktemp("keys")) as (box, url):
        UserStore(box.store).add("wangfang", "王芳", "manager", password=PASSWORD)
        yield box, url


def serve_case_at_window_2(box, url: str) -> None:
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    event = {"event_id": "KEY-E2E-1", "case_no": "NH-KEY-E2E-1", "item_code": "440605-SCJ-001",
             "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
             "occurred_at": at.isoformat(), "actor": {"id": "S031", "name": "陈晓"},
             "window_no": 2}
    request = urllib.request.Request(
        f"{url}/api/v1/platform/events", data=json.dumps([event]).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": f"Bearer {box.platform_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.loads(response.read())["accepted"] == 1


def test_a_key_press_at_a_window_changes_the_board(keyed_box, page):
    box, url = keyed_box
    sign_in(page, url, "wangfang", PASSWORD)
    window = page.locator("[data-window='2']")
    expect(window).to_contain_text("今日暂无评价")
    serve_case_at_window_2(box, url)
    expect(window).to_contain_text("NH-KEY-E2E-1")  # armed: the case being served
    expect(window).to_contain_text("陈晓")

    keys = box.evaluations.keys
    assert keys.flush(WAIT)
    pin = keys.factories["main"].pin(KEY_5_OF_WINDOW_2)
    pin.drive_low()
    pin.drive_high()

    expect(window.locator(".window-rating")).to_contain_text("今日评价 1 次 · 满意率 100%",
                                                              timeout=20_000)
    expect(window).to_contain_text("最近办理 NH-KEY-E2E-1")  # rated: the window is disarmed
