"""Notices print on one A4 sheet: the signature and date stay with the text.

Chromium renders each notice to PDF exactly as the print dialog would (A4, the page's own
@page margins); the PDF must have one page.
"""

from __future__ import annotations

import re

import pytest

from tests.unit.test_notices import at, make_box

pytestmark = pytest.mark.browser


def pdf_pages(page, html: str) -> int:
    page.set_content(html)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_deadline_notice_and_rectification_proposal_each_fit_one_a4_page(tmp_path, page):
    box = make_box(tmp_path)
    try:
        box.accept("C1", "2026-11-02")
        (deadline,) = box.engine.check(at("2026-11-06")).notices
        (rectify,) = box.engine.check(at("2026-11-12")).notices
    finally:
        box.store.close()
    assert "限期办理通知书" in deadline.html and "整改建议书" in rectify.html
    for notice in (deadline, rectify):
        assert pdf_pages(page, notice.html) == 1, notice.number
