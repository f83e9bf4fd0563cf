"""督办与红黄牌 at the hub over HTTP, on SQLite and PostgreSQL: every card counted, paged and
filtered within the scope; the department's 说明理由 shown in Chinese; the boxes' notices and
the city's 督办通知书 printable, each only in scope.

The seeded hub holds six weeks of six boxes; this module adds 150 cards (25 per unit, a third
of them red, some overdue, some explained) as boxes relay them: ``alert``, ``alert_event`` and
``notice`` records through ``HubStore.apply_batch``.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import pytest

from edge.supervision.noticebook import Notice, render_notice_html
from hallwatch.hubsim import SimBox, feed
from hub.dubans import DubanError
from hub.services import Scope
from standard.districts import DISTRICTS
from standard.supervision import STATES
from tests.hubkit import (
    CARD_AT,
    EXPLANATION,
    add_users,
    case_of,
    checkpoint,
    copy_hub,
    feed_cards,
    seeded_hub,
    sign_in,
)
from web.hub import create_app

CARDS_PER_UNIT = 25
AT = CARD_AT
STAMP = AT.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_module_database):
    folder = tmp_path_factory.mktemp("seed")
    dashboard = seeded_hub(folder, database=hub_module_database)
    passwords = add_users(dashboard)
    store = dashboard.data.store
    feed_cards(store, CARDS_PER_UNIT)
    checkpoint(dashboard)
    dashboard = copy_hub(folder, tmp_path_factory.mktemp("pages") / "hub")
    app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
    yield dashboard, app, passwords
    dashboard.data.store.close()


def client(hub, username):
    dashboard, app, passwords = hub
    return sign_in(app, username, passwords[username]).client


def active_cards(dashboard, where: str = "1 = 1", params: tuple = ()) -> int:
    states = ", ".join(f"'{s}'" for s in STATES if s not in ("closed", "resolved"))
    return dashboard.data.store.query(
        f"select count(*) as n from hub_alerts where card is not null and state in ({states})"
        f" and {where}", params)[0]["n"]


def listed(page: str) -> list[str]:
    """The 区 column of the card table's rows."""
    table = page.split('id="card-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr class="light-row-\w+">\s*<td>.*?</td>\s*<td>(.*?)</td>', table,
                      re.S)


def total(page: str) -> int:
    return int(re.search(r'id="card-total">(\d+)<', page).group(1))


def test_every_card_is_counted_and_reached_page_by_page(hub):
    dashboard = hub[0]
    chief = client(hub, "chief")
    first = chief.get("/supervision").get_data(as_text=True)
    expected = active_cards(dashboard)
    assert expected > 150 and total(first) == expected
    assert f"共 {expected} 条" in first and "下一页" in first
    pages = -(-expected // 50)
    seen = []
    for number in range(1, pages + 1):
        page = chief.get(f"/supervision?page={number}").get_data(as_text=True)
        seen += listed(page)
    assert len(seen) == expected
    # Every unit is reachable, 三水 and 高明 too (the old list stopped at 500 and lost them).
    assert {DISTRICTS[code] for code in DISTRICTS} <= set(seen)


def test_filters_by_unit_card_overdue_and_state(hub):
    dashboard = hub[0]
    chief = client(hub, "chief")
    sanshui = chief.get("/supervision?district=440607").get_data(as_text=True)
    assert set(listed(sanshui)) == {"三水区"}
    assert total(sanshui) == active_cards(dashboard, "district_code = ?", ("440607",))
    red = chief.get("/supervision?card=red&district=440608").get_data(as_text=True)
    assert total(red) == active_cards(dashboard, "district_code = ? and card = 'red'",
                                      ("440608",)) > 0
    assert "黄牌</strong>" not in red.split('id="card-table"')[1]
    late = chief.get("/supervision?overdue=1").get_data(as_text=True)
    assert total(late) == active_cards(dashboard, "card_due < '2026-11-20'") > 0
    explained = chief.get("/supervision?state=explained").get_data(as_text=True)
    assert total(explained) == active_cards(dashboard, "state = 'explained'") > 0
    assert "已说明理由" in explained and EXPLANATION in explained
    # A district outside the user's scope is no filter: 南海 sees its own cards only.
    nanhai = client(hub, "nanhai").get("/supervision?district=440606").get_data(as_text=True)
    assert set(listed(nanhai)) == {"南海区"}
    assert total(nanhai) == active_cards(dashboard, "district_code = ?", ("440605",))
    scj = client(hub, "scj").get("/supervision").get_data(as_text=True)
    assert total(scj) == active_cards(dashboard, "dept_suffix = 'SCJ'")


def test_states_and_answers_are_in_chinese(hub):
    page = client(hub, "chief").get("/supervision?state=all").get_data(as_text=True)
    for code in STATES:
        assert f">{code}<" not in page, code
    assert "待处理" in page and "已说明理由" in page
    assert f"说明理由（承办科（dept）" in page and EXPLANATION in page
    escalated = hub[0].data.store.query("select count(*) as n from hub_alerts"
                                        " where state = 'escalated'")[0]["n"]
    assert f'id="escalated-total">共 {escalated} 条' in page


def test_box_notices_are_links_to_their_printable_page_in_scope(hub):
    dashboard = hub[0]
    chief = client(hub, "chief")
    page = chief.get("/supervision?district=440605").get_data(as_text=True)
    link = next(href for href in re.findall(r'href="(/notices/440605-01/[^"]+)"', page)
                if "测试" in unquote(href))
    notice = chief.get(link)
    text = notice.get_data(as_text=True)
    assert notice.status_code == 200 and "default-src 'none'" in notice.headers[
        "Content-Security-Policy"]
    # The simulator relays no full text: the hub prints its register entry, A4 and all.
    assert "测试电监〔2026〕" in text and "@page { size: A4" in text and "南海区" in text
    assert client(hub, "shunde").get(link).status_code == 404
    assert client(hub, "nanhai").get(link).status_code == 200
    case_no = dashboard.data.store.query(
        "select case_no from hub_notices where box_id = '440605-01' and number like '测试%'"
        " limit 1")[0]["case_no"]
    case_page = chief.get(f"/cases/{case_no}").get_data(as_text=True)
    assert 'href="/notices/440605-01/' in case_page


def test_a_notice_relayed_with_its_page_is_served_as_issued(hub):
    dashboard = hub[0]
    store = dashboard.data.store
    case_no = case_of(dashboard, "440606", open_only=True)
    content = {
        "version": 1, "kind": "限期办理通知书", "title": "限期办理通知书",
        "number": "顺德电监〔2026〕77号", "recipient": "顺德区市场监督管理局",
        "opening": "经行政审批电子监察系统监测，你单位办理的下列办件已亮红灯，现发出黄牌督办：",
        "lines": [["办件编号", case_no], ["当前环节", "审核"]],
        "requirements": ["请你单位于2026年11月24日前依法办结该件。", "特此通知。"],
        "issuer": "顺德区行政服务中心电子监察室", "issued_on": "2026-11-19",
        "due_on": "2026-11-24"}
    notice = Notice("顺德电监〔2026〕77号", "限期办理通知书", "440606", 2026, 77, 1, case_no,
                    "440606SCJ", STAMP, "2026-11-19", "2026-11-24", content)
    html = render_notice_html(notice)
    box = SimBox.continuing(store, "440606-01", "440606")
    feed(store, box, [box.record("notice", {**notice.__dict__, "html": html,
                                            "text": ""}, AT)])
    served = client(hub, "chief").get("/notices/440606-01/顺德电监〔2026〕77号")
    assert served.get_data(as_text=True) == html


def test_the_city_duban_notice_prints_with_its_case_and_date(hub):
    dashboard = hub[0]
    chief = client(hub, "chief")
    case_no = case_of(dashboard, "440607", open_only=True)
    notice = dashboard.dubans.issue(dashboard.data, Scope.city(), case_no, user="王芳（chief）",
                                    requirement="请于期限内依法办结该件，并书面说明超期原因。")
    page = chief.get(f"/dubans/{notice['id']}/notice").get_data(as_text=True)
    for text in ("督办通知书", notice["number"], "三水区", case_no, "佛山市电子监察中心",
                 "2026年11月20日", "请于期限内依法办结该件"):
        assert text in page, text
    assert client(hub, "nanhai").get(f"/dubans/{notice['id']}/notice").status_code == 404
    detail = chief.get(f"/dubans/{notice['id']}").get_data(as_text=True)
    assert f'href="/dubans/{notice["id"]}/notice"' in detail
    assert "发出督办" in detail
    # The requirement prints on the one-page notice: a longer one is refused, with its length.
    with pytest.raises(DubanError, match="督办要求不能超过400字（现有401字）"):
        dashboard.dubans.issue(dashboard.data, Scope.city(), case_no, user="王芳（chief）",
                               requirement="请" * 401)


def test_city_dubans_are_counted_and_all_reachable(hub):
    dashboard = hub[0]
    store = dashboard.data.store
    cases = store.query("select case_no, district_code from hub_cases where is_open = 1"
                        " and district_code in ('440604', '440606') order by case_no limit 12")
    for case in cases:
        dashboard.dubans.issue(dashboard.data, Scope.city(), case["case_no"], user="王芳（chief）",
                               requirement="请依法办结。")
    active = store.query("select count(*) as n from dubans where state != 'closed'")[0]["n"]
    chief = client(hub, "chief")
    page = chief.get("/supervision").get_data(as_text=True)
    assert re.search(rf'id="duban-total">{active}<', page)
    assert page.split('id="dubans"')[1].split("</section>")[0].count("/notice\"") == 10
    listing = chief.get("/dubans?state=all").get_data(as_text=True)
    assert f"共 {store.query('select count(*) as n from dubans')[0]['n']} 条" in listing
    shunde = chief.get("/dubans?district=440606").get_data(as_text=True)
    expected = sum(1 for c in cases if c["district_code"] == "440606")
    assert f"共 {expected} 条" in shunde and "禅城区" not in shunde.split("duban-table")[1]
    nanhai = client(hub, "nanhai").get("/dubans?district=440606&state=all").get_data(
        as_text=True)
    assert "顺德区" not in nanhai.split("duban-table")[1]
