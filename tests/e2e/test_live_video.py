"""实时画面 in a real browser against a real box process whose camera plays a generated clip:
the hall manager sees the window live (the MJPEG <img> receives a frame), and an auditor is
refused the page and the stream."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.boxes import start_box, write_box_folder
from tests.e2e.conftest import sign_in
from tests.e2e.test_department_pages import first_sign_in
from tests.integration.test_presence_box import profile_text
from tests.presence_clips import Segment, make_clip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def camera_box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-hall")
    make_clip(folder / "hall.avi", [Segment(4, present={1})], fps=10)
    (folder / "hall.toml").write_text(profile_text([("cam-1", "hall.avi", [1, 2])]),
                                      encoding="utf-8")
    write_box_folder(folder, district_name="南海区", profile="hall.toml")
    box = start_box(folder)
    yield box, *box.admin_password()
    box.stop()


def test_the_manager_watches_a_window_live(camera_box, page):
    box, admin, password = camera_box
    sign_in(page, box.url, admin, password)
    page.goto(f"{box.url}/presence")
    page.locator("#live-link").click()
    page.get_by_role("link", name="1号窗口").click()
    stream = page.locator("#live-stream")
    expect(stream).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=stream.element_handle())  # a JPEG frame has arrived
    assert stream.evaluate("img => img.naturalWidth") <= 640
    page.goto(f"{box.url}/presence/live")  # leaving the page ends the stream
    expect(page.locator("#video-access")).to_contain_text("实时画面")


def test_an_auditor_is_refused(camera_box, page):
    box, _, _ = camera_box
    one_time = box.add_user("shenji", "auditor")
    first_sign_in(page, box.url, "shenji", one_time, "shenji-own-password-1")
    answer = page.goto(f"{box.url}/presence/live/1")
    assert answer.status == 403
    expect(page.locator("main")).to_contain_text("无权")
    assert page.request.get(f"{box.url}/presence/live/1.mjpg").status == 403
    page.goto(f"{box.url}/presence")
    expect(page.locator("#live-link")).to_have_count(0)
