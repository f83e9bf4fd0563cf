"""Browser tests: a real box process (``hallwatch edge serve``) driven by Debian's Chromium.

Skipped, with the reason, when /usr/bin/chromium or Playwright is missing. Never sleeps:
Playwright's ``expect`` waits for what the page shows, with a timeout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.boxes import RunningBox, start_box, write_box_folder

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev requirements pin playwright
    sync_playwright = None


def pytest_collection_modifyitems(items):
    reason = None
    if sync_playwright is None:
        reason = "the playwright package is not installed (pip install -r requirements-dev.txt)"
    elif not CHROMIUM.exists():
        reason = "/usr/bin/chromium is missing: apt-get install chromium fonts-noto-cjk"
    for item in items:
        if "browser" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


class HallBox(RunningBox):
    """A running box plus its first administrator, with a password of its own."""

    admin: str
    password: str


@pytest.fixture(scope="module")
def hall_box(tmp_path_factory) -> HallBox:
    folder = tmp_path_factory.mktemp("hall")
    # Years the calendar package does not know yet (plain Monday to Friday), so the lights of
    # cases made relative to today stay defined whenever these tests run.
    (folder / "calendar.json").write_text(json.dumps(
        {"version": 1, "years": {str(y): {} for y in range(2027, 2031)}}), encoding="utf-8")
    write_box_folder(folder, district_name="南海区", calendar_overrides="calendar.json")
    box = start_box(folder)
    box.__class__ = HallBox
    assert "首次登录：已创建管理员账户 admin" in "".join(box.lines)
    box.admin, box.password = box.admin_password()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def serving_hub(dashboard):
    """Serve ``dashboard`` with its users on a real (waitress) server, for a module fixture:
    ``yield from serving_hub(dashboard)`` gives (dashboard, url, passwords)."""
    from tests.hubkit import add_users
    from web.hub.server import WebServer

    passwords = add_users(dashboard)
    server = WebServer(dashboard, "127.0.0.1", 0)
    server.start()
    assert server.url, server.ready_lines
    yield dashboard, server.url, passwords
    server.stop()


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
