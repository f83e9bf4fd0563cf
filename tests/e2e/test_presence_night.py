"""A simulated hall at night in Chromium (issue 20: the demo's presence keeps office hours):
the board and the wall display say 非办公时间 instead of showing absences, and 离岗监测 leads
to the previous working day, whose timeline and absences (with snapshots) the box replayed
from its simulated staff when it started. The box's clock starts at 02:46 on a Tuesday,
whatever the time the test runs at.
"""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.integration.test_box_pages import PASSWORDS
from tests.integration.test_box_presence_pages import pages_of
from tests.integration.test_presence_office_hours import MONDAY, night_hall

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def closed_hall(tmp_path_factory):
    from waitress import create_server

    box = night_hall(tmp_path_factory.mktemp("night-e2e"), 1)
    server = create_server(pages_of(box), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(10)
    box.stop()


def test_a_closed_hall_says_so_and_shows_its_last_working_day(closed_hall, page):
    sign_in(page, closed_hall, "manager", PASSWORDS["manager"])
    page.goto(f"{closed_hall}/")
    expect(page.locator("#office-closed")).to_contain_text("非办公时间")
    expect(page.locator("#office-closed")).to_contain_text("08:30–12:00、14:00–17:30")
    expect(page.locator(".window .badge", has_text="非办公时间")).to_have_count(2)
    expect(page.locator(".window .badge.light-red")).to_have_count(0)   # no 离岗 at night
    page.goto(f"{closed_hall}/?screen=wall")
    expect(page.locator("#office-closed").first).to_be_visible()
    page.goto(f"{closed_hall}/presence")
    expect(page.locator("#presence-closed")).to_contain_text("现在是非办公时间")
    page.locator("#presence-last-workday").click()
    expect(page.locator("#presence-day")).to_have_text(MONDAY.isoformat())
    expect(page.locator("#presence-closed")).to_have_count(0)
    expect(page.locator("svg.chart.timeline")).to_be_visible()
    snapshot = page.locator("img[src*='/presence/snapshots/']").first
    snapshot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=snapshot.element_handle())
