"""Phone width (390 px): the pages a hall manager and the public open on a phone fit the screen.

No page scrolls sideways and the navigation stays readable (no label broken one character per
line). Wide tables scroll inside their own box instead of widening the page.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in
from tests.hubkit import add_users, seeded_hub
from web.hub.server import WebServer

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("hub-phone"))
    passwords = add_users(dashboard)
    server = WebServer(dashboard, "127.0.0.1", 0)
    server.start()
    yield server.url, passwords
    server.stop()


def overflow(page) -> int:
    """How far the page reaches past the screen's right edge, in CSS pixels."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def nav_labels_broken(page) -> list[str]:
    """Navigation labels laid out on more than one line."""
    return page.evaluate("""() => [...document.querySelectorAll('nav.nav a')]
        .filter(a => a.getClientRects().length > 1 ||
                     a.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(a).lineHeight || 20))
        .map(a => a.textContent.trim())""")


@pytest.mark.parametrize("path", ["/", "/cases", "/alerts"])
def test_box_pages_fit_a_phone(hall_box, phone, path):
    sign_in(phone, hall_box.url, hall_box.admin, hall_box.password)
    phone.goto(hall_box.url + path)
    assert overflow(phone) <= 0
    assert nav_labels_broken(phone) == []


@pytest.mark.parametrize("path", ["/portal/", "/portal/rates", "/portal/guide", "/portal/scores"])
def test_portal_pages_fit_a_phone(hub, phone, path):
    url, _ = hub
    phone.goto(url + path)
    assert overflow(phone) <= 0


def test_hub_overview_fits_a_phone(hub, phone):
    url, passwords = hub
    sign_in(phone, url, "chief", passwords["chief"])
    phone.goto(url + "/")
    assert overflow(phone) <= 0
    assert nav_labels_broken(phone) == []
