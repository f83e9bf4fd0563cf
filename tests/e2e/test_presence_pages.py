"""离岗监测 in a real browser against a real box process whose camera plays a generated clip.

Window 1 is staffed throughout; nobody ever sits at window 2. With office hours all day and an
absence threshold of about a second, window 2's absence alert (and its two JPEGs) exists a few
seconds after the box starts, whenever the test runs. The page is not live: Playwright polls
a fetch of the page until the absence is listed, then the test reloads.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from standard.records import LOCAL_TZ
from tests.boxes import start_box, write_box_folder
from tests.e2e.conftest import sign_in
from tests.integration.test_presence_box import profile_text
from tests.presence_clips import REGIONS, Segment, make_clip

pytestmark = pytest.mark.browser
PRESENCE = {"absent_after_minutes": 0.02, "leave_grace_seconds": 0.5, "every_day": True,
            "office_hours": ["00:00-23:59"]}
# A wait_for_function predicate must answer at once (a Promise would count as true): each
# poll starts a fetch unless one is under way, and reports what the last one found.
ABSENCE_LISTED = """() => {
    if (window.absenceListed === undefined) {
        window.absenceListed = null;
        fetch('/presence?window=2').then(answer => answer.text()).then(page => {
            window.absenceListed = page.includes('/presence/snapshots/') || undefined;
        }).catch(() => { window.absenceListed = undefined; });
    }
    return window.absenceListed === true;
}"""


@pytest.fixture(scope="module")
def camera_box(tmp_path_factory):
    """A box process with one camera on a clip (relative to box.toml) and its admin login."""
    if dt.datetime.now(LOCAL_TZ).time() >= dt.time(23, 58):
        pytest.skip("the test's office hours (00:00-23:59) end within the run")
    folder = tmp_path_factory.mktemp("camera-hall")
    make_clip(folder / "hall.avi", [Segment(4, present={1})], fps=10)
    (folder / "hall.toml").write_text(profile_text([("cam-1", "hall.avi", [1, 2])]),
                                      encoding="utf-8")
    write_box_folder(folder, district_name="南海区", profile="hall.toml", presence=PRESENCE)
    box = start_box(folder)
    yield box, *box.admin_password()
    box.stop()


def loaded(page, image) -> int:
    """Wait until ``image`` has loaded; its natural width."""
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=image.element_handle())
    return image.evaluate("img => img.naturalWidth")


def test_the_timeline_and_an_absence_with_its_snapshots(camera_box, page):
    box, user, password = camera_box
    sign_in(page, box.url, user, password)
    page.get_by_role("link", name="离岗监测").click()
    expect(page.locator("h1")).to_have_text("离岗监测")
    expect(page.locator("svg.chart.timeline")).to_be_visible()
    page.wait_for_function(ABSENCE_LISTED, polling=500, timeout=30_000)
    page.reload()

    expect(page.locator("g[data-row='2号窗口'] rect[data-state='absent']").first).to_be_visible()
    expect(page.locator("g[data-row='1号窗口'] rect[data-state='present']").first).to_be_visible()
    row = page.locator("#presence-absences tr[data-window='2']").last
    expect(row).to_contain_text("仍离岗")
    expect(row).to_contain_text("待处理")
    thumbnails = row.locator("img")
    expect(thumbnails).to_have_count(2)
    assert loaded(page, thumbnails.nth(0)) == REGIONS[1].roi.w
    assert loaded(page, thumbnails.nth(1)) == 320

    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.locator("#alert-state")).to_have_text("待处理")
    snapshots = page.locator("#absence-snapshots img")
    expect(snapshots).to_have_count(2)
    assert loaded(page, snapshots.first) == REGIONS[1].roi.w


def test_the_health_page_shows_the_snapshot_quota_and_the_camera(camera_box, page):
    box, user, password = camera_box
    sign_in(page, box.url, user, password)
    page.goto(f"{box.url}/health")
    expect(page.locator("#snapshot-quota")).to_have_text("512.0 MB")
    expect(page.locator("#snapshot-storage svg.chart")).to_be_visible()
    expect(page.locator("section.device").filter(has_text="摄像头")).to_contain_text(
        re.compile(r"已处理 \d+ 帧"))


def test_a_box_without_cameras_says_not_connected(hall_box, page):
    sign_in(page, hall_box.url, hall_box.admin, hall_box.password)
    page.get_by_role("link", name="离岗监测").click()
    expect(page.locator("#presence-off")).to_contain_text("未接入（本机未配置摄像头）")
    expect(page.locator("svg.chart.timeline")).to_have_count(0)
