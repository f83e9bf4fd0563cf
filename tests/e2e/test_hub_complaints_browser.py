"""电子建言 in a real browser against a real (waitress) hub server: a 12345 ticket posted over the
API is linked to a case by a city supervisor and turned into a 督办 (移交督办), which appears on
督办与红黄牌 and prints on one A4 page; a portal complaint whose citizen agreed to publication
is answered in public, without the name and phone."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from hub.api_token import new_token, token_path
from tests.e2e.conftest import serving_hub, sign_in
from tests.hubkit import captcha_answer, case_of, seeded_hub, web_secret

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    dashboard = seeded_hub(tmp_path_factory.mktemp("hub-complaints"))
    new_token(token_path(dashboard.config))
    yield from serving_hub(dashboard)


def post_ticket(url: str, token: str, record: dict) -> dict:
    request = urllib.request.Request(
        f"{url}/api/v1/complaints", method="POST",
        data=json.dumps(record, ensure_ascii=False).encode("utf-8"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 200
        return json.load(response)


def test_a_12345_ticket_becomes_a_printable_duban(hub, page):
    dashboard, url, passwords = hub
    token = token_path(dashboard.config).read_text().strip()
    answer = post_ticket(url, token, {
        "version": 1, "ticket_no": "12345-20261120-0042", "kind": "投诉",
        "subject": "营业执照迟迟未办结", "content": "市民来电：10月提交的企业设立登记至今未办结。",
        "received_at": "2026-11-20T09:30:00+08:00", "district_code": "440605", "dept": "SCJ",
        "contact_name": "陈先生", "contact_phone": "13700000000", "publish": False})
    tracking = answer["created"][0]["tracking_no"]
    case_no = case_of(dashboard, "440605", "SCJ", open_only=True)

    sign_in(page, url, "chief", passwords["chief"])
    page.goto(f"{url}/complaints?channel=hotline")
    row = page.locator("#complaint-table tbody tr", has_text=tracking)
    expect(row).to_contain_text("12345热线")
    expect(row).to_contain_text("12345-20261120-0042")
    row.get_by_role("link", name=tracking).click()
    expect(page.locator("#complaint-channel")).to_contain_text("12345工单 12345-20261120-0042")
    expect(page.locator("#transfer-duban")).to_have_count(0)  # no case linked yet

    page.fill("#link-case input[name=case_no]", "NOPE-404")
    page.locator("#link-case button").click()
    expect(page.locator(".flash.error")).to_contain_text("办件编号 NOPE-404 不存在")
    page.fill("#link-case input[name=case_no]", case_no)
    page.locator("#link-case button").click()
    expect(page.locator("#complaint-case")).to_have_text(case_no)

    page.locator("#transfer-duban button").click()
    expect(page.locator("h1")).to_contain_text("市级督办 佛山电监〔2026〕")
    number = re.search(r"佛山电监〔2026〕\d+号", page.locator("h1").inner_text()).group(0)
    expect(page.locator(".timeline")).to_contain_text(tracking)

    page.goto(f"{url}/supervision")
    duban_row = page.locator("#dubans tbody tr", has_text=number)
    expect(duban_row).to_contain_text(case_no)
    duban_row.get_by_role("link", name="打印").click()
    expect(page.locator("h1")).to_have_text("督办通知书")
    expect(page.locator(".number")).to_have_text(number)
    expect(page.locator("table")).to_contain_text(tracking)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1

    page.goto(f"{url}/complaints?channel=hotline")
    expect(page.locator("#complaint-table tbody tr", has_text=tracking)).to_contain_text(
        "已移交督办")
    page.context.clear_cookies()


def test_a_published_reply_shows_on_the_portal_without_personal_data(hub, page):
    dashboard, url, passwords = hub
    page.goto(f"{url}/portal/complaints/new")
    page.select_option("select[name=kind]", "建言")
    page.select_option("select[name=district]", "440606")
    page.fill("input[name=subject]", "建议增加午间服务窗口")
    page.fill("textarea[name=content]", "本人张小红，电话13811112222，建议午间保留一个综合窗口。")
    page.fill("input[name=contact_name]", "张小红")
    page.fill("input[name=contact_phone]", "13811112222")
    page.check("input[name=publish_ok]")
    token = page.locator("input[name=captcha_token]").get_attribute("value")
    page.fill("input[name=captcha]", captcha_answer(web_secret(dashboard), token))
    page.get_by_role("button", name="提交").click()
    tracking = page.locator("#tracking-number").inner_text()

    sign_in(page, url, "shunde", passwords["shunde"])
    page.goto(f"{url}/complaints")
    page.get_by_role("link", name=tracking).click()
    expect(page.locator("#complaint-publication")).to_contain_text("群众同意公开")
    page.locator("form[data-action=accept] button").click()
    reply = page.locator("form[data-action=reply]")
    expect(reply.locator("input[name=publish]")).to_be_checked()
    reply.locator("textarea[name=note]").fill("感谢张小红的建议，自12月起午间保留综合窗口。")
    reply.locator("button").click()
    expect(page.locator("#complaint-publication")).to_contain_text("答复已在门户公开")
    page.context.clear_cookies()

    page.goto(f"{url}/portal/complaints")
    public = page.locator("#public-replies .public-reply", has_text="建议增加午间服务窗口")
    expect(public).to_contain_text("自12月起午间保留综合窗口")
    expect(public).to_contain_text("138****2222")
    expect(public).not_to_contain_text("13811112222")
    expect(public).not_to_contain_text("张小红")
