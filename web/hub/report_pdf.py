"""The monthly report as a document: its HTML (one template for the page, print and PDF) and
its PDF, printed by the Chromium the project already uses (Playwright, /usr/bin/chromium).

The PDF is rendered once, when the hub writes the report (hub/reports/desk.py), from the
same HTML the page shows. Without Chromium or Playwright, :class:`PdfUnavailable` says so in
Chinese and the report keeps its HTML (printable from the browser) and its XLSX.

Example::

    pdf = render_report_pdf(content)        # bytes starting b"%PDF"
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.reports import PdfUnavailable
from standard.records import LOCAL_TZ

TEMPLATES = Path(__file__).parent / "templates"
CHROMIUM = Path(os.environ.get("HALLWATCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PDF_TIMEOUT_MS = 60_000


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def document_context(content: dict[str, Any], generated_at: str | None = None) -> dict[str, Any]:
    """What report_doc.html needs besides ``links`` (the page adds those)."""
    moment = dt.datetime.fromisoformat(generated_at) if generated_at else \
        dt.datetime.now(dt.timezone.utc)
    return {"c": content, "title": content["title"], "city_name": content["city_name"],
            "generated_on": f"{moment.astimezone(LOCAL_TZ):%Y年%m月%d日}", "pct": pct}


def report_html(content: dict[str, Any], generated_at: str | None = None) -> str:
    """The report's HTML without the page's links (for the PDF)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    css = (Path(__file__).parent / "static" / "report.css").read_text(encoding="utf-8")
    return env.get_template("report_doc.html").render(links=None, inline_css=css,
                                                     **document_context(content, generated_at))


def render_report_pdf(contents: list[dict[str, Any]]) -> list[bytes]:
    """The reports as A4 PDFs, one Chromium for all; PdfUnavailable (with the reason) when
    they cannot be printed."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise PdfUnavailable("本机未安装 Playwright（pip install playwright），无法生成 PDF；"
                             "可使用本页的打印功能或下载 XLSX") from None
    if not CHROMIUM.exists():
        raise PdfUnavailable(f"本机没有 Chromium（{CHROMIUM}，apt-get install chromium "
                             "fonts-noto-cjk），无法生成 PDF；可使用本页的打印功能或下载 XLSX")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            try:
                return [_print(browser, report_html(content)) for content in contents]
            finally:
                browser.close()
    except Error as exc:
        raise PdfUnavailable(f"Chromium 生成 PDF 失败：{str(exc).splitlines()[0]}") from None


def _print(browser, html: str) -> bytes:
    page = browser.new_page()
    try:
        page.set_content(html, wait_until="load", timeout=PDF_TIMEOUT_MS)
        return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                        display_header_footer=True, header_template="<span></span>",
                        footer_template='<div style="width:100%;font-size:8pt;'
                        'text-align:center;color:#666"><span class="pageNumber">'
                        '</span> / <span class="totalPages"></span></div>')
    finally:
        page.close()
