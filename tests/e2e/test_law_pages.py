"""法规查询 on the portal in a real browser: an item's legal basis links to the law's page at
the article it names, the page says which text prevails and marks summaries as such, and the
library is searchable (a hit, and a query it does not hold)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.hubkit import seeded_hub
from web.hub.server import WebServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("laws-e2e"), cases_per_day=1)
    server = WebServer(dashboard, "127.0.0.1", 0)
    server.start()
    yield server.url
    server.stop()


def test_an_items_legal_basis_opens_the_article(url, page):
    page.goto(f"{url}/portal/guide/440605-SCJ-001")
    basis = page.locator("dd.legal-basis a")
    expect(basis).to_have_text("《中华人民共和国行政许可法》第四十二条")
    basis.click()
    expect(page).to_have_url(f"{url}/portal/laws/xingzheng-xuke-fa#art-42")
    expect(page.locator("h1")).to_have_text("中华人民共和国行政许可法")
    expect(page.locator("#law-note")).to_contain_text("以国家法律法规数据库公布的文本为准")
    article = page.locator("#art-42")
    expect(article).to_be_in_viewport()
    expect(article).to_contain_text("办理的时间不得超过四十五日")
    expect(article.locator(".tag")).to_have_count(0)  # verbatim text carries no 摘要 mark
    expect(page.locator("#art-32 .tag")).to_have_text("摘要（非原文）")


def test_the_library_is_searchable(url, page):
    page.goto(f"{url}/portal/")
    page.get_by_role("link", name="法规查询").click()
    page.get_by_label("关键词").fill("听证")
    page.get_by_role("button", name="查询").click()
    hits = page.locator("#law-hits li")
    expect(hits.first).to_contain_text("第四十五条")
    hits.first.get_by_role("link").click()
    expect(page.locator("#art-45")).to_contain_text("所需时间不计算在本节规定的期限内")

    page.goto(f"{url}/portal/laws?q=食品安全法")
    expect(page.locator("#law-hits")).to_contain_text("本库暂未收录与“食品安全法”相关的条文")
