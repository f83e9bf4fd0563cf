"""The monthly report in a real browser: a supervisor publishes October's scores, the hub's
scheduler writes the reports by itself (PDF printed by Chromium), the 报告 page lists them, the
report reads as an A4 document, and the PDF has pages that pdftoppm can render."""

from __future__ import annotations

import queue
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from hub.reports import ReportWriter
from hub.score_scheduler import ScoreScheduler
from standard.districts import DISTRICTS
from tests.e2e.conftest import sign_in
from tests.hubkit import add_users, seeded_hub
from web.hub.server import WebServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("report-e2e"))  # the hub's clock: 2026-11-20
    passwords = add_users(dashboard)
    scheduler = next(s for s in dashboard.services if isinstance(s, ScoreScheduler))
    ticks: queue.Queue = queue.Queue()
    scheduler.listeners.append(ticks.put)
    writer = next(s for s in scheduler.listeners if isinstance(s, ReportWriter))
    reports: queue.Queue = queue.Queue()
    writer.listeners.append(reports.put)
    scheduler.start()
    assert [run.month for run in ticks.get(timeout=60)] == ["2026-10"]  # the draft
    server = WebServer(dashboard, "127.0.0.1", 0)
    server.start()
    yield dashboard, server.url, passwords, reports
    server.stop()
    scheduler.stop()


def test_publishing_a_month_brings_its_report_with_a_pdf(hub, browser, page, tmp_path):
    dashboard, url, passwords, reports = hub
    sign_in(page, url, "nanhai", passwords["nanhai"])
    page.goto(f"{url}/reports")
    expect(page.locator("#report-history")).to_contain_text("还没有报告")

    chief = browser.new_context(locale="zh-CN").new_page()
    chief.on("dialog", lambda dialog: dialog.accept())
    sign_in(chief, url, "chief", passwords["chief"])
    chief.goto(f"{url}/scores?month=2026-10")
    chief.get_by_role("button", name="发布本月成绩").click()
    expect(chief.locator(".flash.success")).to_contain_text("已发布")
    chief.context.close()
    written = []
    while len(written) < 6:  # the publication poked the scheduler, whose tick woke the writer
        written += reports.get(timeout=120)
    assert {unit for _, unit, _ in written} == {"city", *DISTRICTS}

    page.get_by_role("link", name="报告", exact=True).click()
    history = page.locator("#report-history tbody tr")
    expect(history).to_have_count(2)  # 南海区's own and the city's, not the other districts'
    expect(page.locator("#report-history")).not_to_contain_text("顺德区")
    page.get_by_role("link", name="南海区2026年10月电子监察报告").click()
    expect(page.locator("h1")).to_have_text("佛山市南海区2026年10月电子监察报告")
    expect(page.locator("body")).to_contain_text("按时办结率")
    ranking = page.locator("table").last
    expect(ranking.locator("tbody tr").first).to_contain_text("南海区")
    assert page.locator(".tools").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".tools").is_visible()  # print CSS: the tools stay off the paper
    page.emulate_media(media="screen")

    pdf_link = page.get_by_role("link", name="下载 PDF")
    answer = page.request.get(url + pdf_link.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body()[:5] == b"%PDF-"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(answer.body())
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        pages = int(next(line.split()[-1] for line in info.stdout.splitlines()
                         if line.startswith("Pages:")))
        assert pages > 0 and "(A4)" in info.stdout
    assert shutil.which("pdftoppm"), "pdftoppm is missing: apt-get install poppler-utils"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True)
    (first_page,) = tmp_path.glob("page*.png")
    assert first_page.stat().st_size > 10_000  # a page with text on it, not a blank sheet
