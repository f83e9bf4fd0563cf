"""The hub's dashboard and portal over HTTP (Flask client on a real SQLite file, and on a
PostgreSQL database), its CLI, and ``hallwatch hub serve`` as a real process."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from hallwatch.cli import main
from hub.score_periods import period_scores
from hub.scoring import compute_month
from hub.services import Scope
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ
from tests.hubkit import (
    add_users,
    captcha_answer,
    case_of,
    checkpoint,
    copy_hub,
    init_hub_folder,
    seeded_hub,
    sign_in,
    start_hub,
    write_hub_folder,
)
from web.hub import create_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, hub_module_database):
    folder = tmp_path_factory.mktemp("seed")
    dashboard = seeded_hub(folder, database=hub_module_database)
    passwords = add_users(dashboard)
    checkpoint(dashboard)
    return folder, passwords


@pytest.fixture(scope="module")
def hub(seeded, tmp_path_factory):
    folder, passwords = seeded
    dashboard = copy_hub(folder, tmp_path_factory.mktemp("pages") / "hub")
    app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
    yield dashboard, app, passwords
    dashboard.data.store.close()


def client_for(hub, username):
    dashboard, app, passwords = hub
    return sign_in(app, username, passwords[username])


def test_every_page_answers_for_every_role(hub):
    dashboard = hub[0]
    for username, extra in (("chief", ["/users", "/halls"]), ("viewer", ["/halls"]),
                            ("nanhai", ["/halls"]), ("scj", [])):
        signed = client_for(hub, username)
        home = "440605" if username == "nanhai" else "440606"
        case_no = case_of(dashboard, home, "SCJ")
        urls = ["/", "/live.json", f"/districts/{home}", "/departments/SCJ",
                f"/items/{home}-SCJ-001", "/cases", "/cases?state=all&light=red",
                f"/cases/{case_no}", "/cases.csv", "/cases.xlsx", "/supervision", "/forwarded",
                "/scores", "/scores/formula", "/complaints", "/scores/year/2026", *extra]
        for url in urls:
            response = signed.client.get(url)
            assert response.status_code == 200, (username, url, response.status_code)


def test_out_of_scope_urls_answer_not_found(hub):
    dashboard = hub[0]
    nanhai = client_for(hub, "nanhai").client
    for url in (f"/cases/{case_of(dashboard, '440606')}", "/districts/440606",
                "/items/440606-SCJ-001"):
        response = nanhai.get(url)
        assert response.status_code == 404 and "不在您的监察范围内" in response.get_data(
            as_text=True), url
    scj = client_for(hub, "scj").client
    for url in ("/departments/WJJ", f"/cases/{case_of(dashboard, '440605', 'WJJ')}",
                "/items/440605-WJJ-003"):
        assert scj.get(url).status_code == 404, url
    assert "共 0 件" in nanhai.get("/cases?district=440606&state=all").get_data(as_text=True)


def test_cases_are_found_by_number_item_code_or_item_name(hub):
    """办件监察's search box: an item's code or part of its name lists that item's cases (a
    department user's list too, which walks its own index); digits are a case number."""
    dashboard = hub[0]
    item = dashboard.data.catalogue["440605-SCJ-001"]
    nanhai = client_for(hub, "nanhai").client

    def listed(client, query: str) -> tuple[set[str], str]:
        page = client.get("/cases", query_string={"q": query, "state": "all"}).get_data(
            as_text=True)
        return set(re.findall(r'href="/cases/([^"]+)"', page)), page

    by_code, page = listed(nanhai, "440605-SCJ-001")
    assert by_code and 'value="440605-SCJ-001"' in page
    codes = {row["case_no"]: row["item_code"] for row in dashboard.data.store.query(
        "select case_no, item_code from hub_cases where district_code = '440605'")}
    assert {codes[n] for n in by_code} == {"440605-SCJ-001"}
    by_name, _ = listed(nanhai, item.name[1:5])  # part of the name
    assert by_code <= by_name
    assert all(item.name[1:5] in dashboard.data.catalogue[codes[n]].name for n in by_name)
    one = sorted(by_code)[0]
    assert listed(nanhai, one)[0] == {one}  # a whole case number: that case
    assert listed(nanhai, "没有这个事项")[0] == set()
    scj, _ = listed(client_for(hub, "scj").client, item.name[1:5])
    items = {row["item_code"] for row in dashboard.data.store.query(
        f"select item_code from hub_cases where case_no in ({', '.join('?' * len(scj))})",
        tuple(scj))}
    assert scj and all(item.name[1:5] in dashboard.data.catalogue[code].name
                       for code in items)


def handled_by(dashboard) -> dict[tuple[str, str], set[str]]:
    """(district, staff id or name) -> the case numbers whose events name that staff member,
    read from the records as the boxes sent them."""
    found: dict[tuple[str, str], set[str]] = {}
    for row in dashboard.data.store.query(
            "select e.district_code, e.case_no, r.body from hub_case_events e"
            " join records r on r.box_id = e.box_id and r.seq = e.seq"):
        actor = json.loads(row["body"])["body"]["actor"]
        for who in (actor["id"], actor["name"]):
            found.setdefault((row["district_code"], who), set()).add(row["case_no"])
    return found


def test_cases_are_found_by_the_staff_who_handled_them_in_scope_only(hub):
    """办件监察's search box takes a staff member's id or name (issue 20: search by staff): a
    district finds the cases its staff handled, never another district's; a department only
    its own; the city every district's."""
    dashboard = hub[0]
    staff = handled_by(dashboard)
    nanhai, chief = client_for(hub, "nanhai").client, client_for(hub, "chief").client

    def listed(client, query: str) -> tuple[set[str], str]:
        page = client.get("/cases", query_string={"q": query, "state": "all"}).get_data(
            as_text=True)
        return set(re.findall(r'href="/cases/([^"]+)"', page)), page

    by_id, page = listed(nanhai, "S007")
    assert by_id == staff[("440605", "S007")] and 0 < len(by_id) < 50
    assert f"共 {len(by_id)} 件" in page and "经办人“S007”经办的办件" in page
    assert listed(nanhai, "s007")[0] == by_id
    city_wide, page = listed(chief, "S007")   # 50 a page
    everywhere = set().union(*(staff.get((code, "S007"), set()) for code in DISTRICTS))
    assert city_wide <= everywhere and len(everywhere) > len(by_id)
    assert f"共 {len(everywhere)} 件" in page
    # a name that staff of 南海 and of another district both bear: 南海 finds only its own
    name = next(who for (code, who) in sorted(staff) if code == "440605" and not who.isascii()
                and any((other, who) in staff for other in DISTRICTS if other != "440605"))
    by_name, page = listed(nanhai, name)
    assert by_name == staff[("440605", name)] and "南海区" in page
    assert not by_name & set().union(*(staff.get((code, name), set())
                                       for code in DISTRICTS if code != "440605"))
    # a name only another district's staff bear: nothing for 南海, and nothing named
    elsewhere = next(who for (code, who) in sorted(staff) if code != "440605"
                     and not who.isascii() and ("440605", who) not in staff)
    found, page = listed(nanhai, elsewhere)
    assert found == set() and "经办的办件" not in page
    # a department: the cases of its own department only
    scj, _ = listed(client_for(hub, "scj").client, "S007")
    depts = {row["case_no"]: row["dept_suffix"] for row in dashboard.data.store.query(
        "select case_no, dept_suffix from hub_cases")}
    assert scj and scj <= everywhere and {depts[n] for n in scj} == {"SCJ"}


def test_exports_hold_only_the_scope(hub):
    nanhai = client_for(hub, "nanhai").client
    rows = list(csv.reader(io.StringIO(
        nanhai.get("/cases.csv?state=all").get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "区" and len(rows) > 10 and {row[0] for row in rows[1:]} == {"南海区"}
    scj = client_for(hub, "scj").client
    book = load_workbook(io.BytesIO(scj.get("/cases.xlsx?state=all").data), read_only=True)
    values = list(book["办件"].iter_rows(values_only=True))
    assert len(values) > 10 and {row[4] for row in values[1:]} == {"市场监督管理局"}
    assert len({row[0] for row in values[1:]}) == len(DISTRICTS)  # every unit


def test_city_only_actions_and_user_admin_are_refused_to_others(hub):
    dashboard = hub[0]
    signed = client_for(hub, "nanhai")
    case_no = case_of(dashboard, "440605")
    for url, form in (("/scores/compute", {"month": "2026-10"}),
                      ("/scores/publish", {"month": "2026-10"}),
                      (f"/cases/{case_no}/duban", {"requirement": "x"}),
                      ("/users", {"username": "evil", "role": "city"})):
        response = signed.client.post(url, data={**form, "csrf_token": signed.csrf})
        assert response.status_code == 403, url
    assert signed.client.get("/users").status_code == 403
    assert client_for(hub, "viewer").client.get("/users").status_code == 403  # not an admin
    forged = signed.client.post("/scores/compute", data={"month": "2026-10"})
    assert forged.status_code in (400, 403)  # no CSRF token


def test_user_admin_adds_users_with_a_scope_on_the_shared_pages(hub):
    chief = client_for(hub, "chief")
    page = chief.client.get("/users").get_data(as_text=True)
    assert "范围（区代码或部门代码）" in page and '<option value="440605">南海区</option>' in page
    assert "可管理用户（仅市监察局）" in page and "公众门户" in page
    form = {"username": "sanshui", "display_name": "三水区监察室", "role": "district",
            "csrf_token": chief.csrf}
    bad = chief.client.post("/users", data={**form, "scope": "999999"})
    assert bad.status_code == 400 and "区监察室用户须指定所属区的代码" in bad.get_data(as_text=True)
    added = chief.client.post("/users", data={**form, "scope": "440607"}).get_data(as_text=True)
    password = re.search(r'<code class="password">([^<]+)</code>', added).group(1)
    assert re.search(r"<td>sanshui</td><td>三水区监察室</td>\s*<td>区监察室</td>\s*<td>三水区</td>",
                     added)
    sanshui = sign_in(hub[1], "sanshui", password)
    assert sanshui.client.post("/account/password", data={  # a one-time password comes first
        "current": password, "new": "sanshui-own-password", "repeat": "sanshui-own-password",
        "csrf_token": sanshui.csrf}).status_code == 302
    home = sanshui.client.get("/").get_data(as_text=True)
    assert "区监察室 · 三水区" in home and 'href="/hub-static/hub.css' in home
    assert sanshui.client.get("/districts/440605").status_code == 404


def test_city_issues_duban_and_the_district_answers(hub):
    dashboard = hub[0]
    chief = client_for(hub, "chief")
    case_no = case_of(dashboard, "440605", open_only=True)
    response = chief.client.post(f"/cases/{case_no}/duban",
                                 data={"requirement": "请三日内办结", "csrf_token": chief.csrf})
    assert response.status_code == 302
    page = chief.client.get(response.headers["Location"]).get_data(as_text=True)
    number = re.search(r"佛山电监〔2026〕\d+号", page).group(0)
    duban_url = response.headers["Location"]
    nanhai = client_for(hub, "nanhai")
    assert number in nanhai.client.get("/supervision").get_data(as_text=True)
    nanhai.client.post(f"{duban_url}/answer", data={"note": "已办结", "csrf_token": nanhai.csrf})
    assert "已反馈" in nanhai.client.get(duban_url).get_data(as_text=True)
    assert client_for(hub, "shunde").client.get(duban_url).status_code == 404
    chief.client.post(f"{duban_url}/close", data={"note": "核实无误", "csrf_token": chief.csrf})
    assert "已办结" in chief.client.get(duban_url).get_data(as_text=True)


def test_scores_compute_publish_explain_and_report(hub):
    chief = client_for(hub, "chief")
    for url in ("/scores/compute", "/scores/publish"):
        response = chief.client.post(url, data={"month": "2026-10", "csrf_token": chief.csrf})
        assert response.status_code == 302
    page = chief.client.get("/scores?month=2026-10").get_data(as_text=True)
    assert "第1版 · 已发布" in page and "逐项说明" in page and "经办件数" in page
    unit = re.search(r'href="(/scores/2026-10/v1/dept/[^"]+)"', page).group(1)
    detail = chief.client.get(unit).get_data(as_text=True)
    assert "计算过程" in detail and "提前办结率" in detail
    assert re.search(r"按时办结 \d+ / 本月到期 \d+ 件", detail)
    assert "达到100%时得30分，每低1个百分点扣1分" in detail and "[satisfaction]" not in detail
    formula = chief.client.get("/scores/formula?month=2026-10&version=1").get_data(as_text=True)
    assert "按时办结率" in formula and "满意度等级分" in formula and "基本满意" in formula
    assert "per_point" not in formula and "[on_time]" not in formula
    assert chief.client.get("/scores/formula").status_code == 200
    assert chief.client.get("/scores/formula?month=2026-10&version=9").status_code == 404

    book = load_workbook(io.BytesIO(chief.client.get("/scores/2026-10.xlsx").data))
    ranking = list(book["部门排名"].iter_rows(values_only=True))
    departments = {item.dept_code for item in hub[0].data.catalogue.values()}
    assert ranking[1][:4] == ("名次", "单位", "经办件数", "得分")
    assert len(ranking) == 2 + len(departments)
    assert "打印" in chief.client.get("/scores/2026-10/print").get_data(as_text=True)
    nanhai = client_for(hub, "nanhai").client.get("/scores?month=2026-10").get_data(as_text=True)
    assert "南海区" in nanhai and "顺德区市场监督管理局" not in nanhai

    # The hub's clock is 2026-11-20: November cannot be published yet, except by force.
    post = {"month": "2026-11", "csrf_token": chief.csrf}
    chief.client.post("/scores/compute", data=post)
    refused = chief.client.post("/scores/publish", data=post, follow_redirects=True)
    assert "尚未结束（月末为 2026-11-30）" in refused.get_data(as_text=True)
    forced = chief.client.post("/scores/publish", data={**post, "force": "1",
                                                        "reason": "市政府常务会议需要"},
                               follow_redirects=True).get_data(as_text=True)
    assert "强制提前发布" in forced and "市政府常务会议需要" in forced

    # A correction of October needs its reason; both versions stay listed.
    post = {"month": "2026-10", "csrf_token": chief.csrf}
    no_reason = chief.client.post("/scores/compute", data=post, follow_redirects=True)
    assert "如需更正请写明更正原因" in no_reason.get_data(as_text=True)
    corrected = chief.client.post("/scores/compute", data={**post, "reason": "补录漏报记录"},
                                  follow_redirects=True).get_data(as_text=True)
    assert "第2版（更正） · 草稿（未发布）" in corrected and "更正原因：补录漏报记录" in corrected
    assert "第1版 · 已发布" in corrected

    public = hub[1].test_client()
    shown = public.get("/portal/scores?month=2026-10").get_data(as_text=True)
    assert "第1版 · 已发布" in shown and "顺德区市场监督管理局" in shown
    assert "更正" not in shown and "chief" not in shown  # drafts and names stay inside
    assert "按时办结率" in public.get("/portal/scores/formula").get_data(as_text=True)
    assert public.get("/portal/scores?month=2026-10&version=2").status_code == 404
    year = public.get("/portal/scores/year/2026").get_data(as_text=True)
    nanhai = next(u for u in period_scores(hub[0].scorebook, 2026, Scope.city(), hub[0].scoring)
                  if u["kind"] == "district" and u["district_code"] == "440605")
    row = re.search(r"<tr><td>南海区</td>.*?</tr>", year).group(0)
    assert "全年等级" in year and nanhai["Y_grade"]  # the year is graded, like its quarters
    assert row.endswith(f'<td class="grade-{nanhai["Y_grade"]}">{nanhai["Y_grade"]}</td>'
                        f'<td class="num-cell">{nanhai["Y_months"]}</td></tr>')


def solve(app, page: str) -> tuple[str, str]:
    """(token, answer) of the form's captcha."""
    token = re.search(r'name="captcha_token" value="([^"]+)"', page).group(1)
    return token, captcha_answer(app.secret_key, token)


def test_a_complaint_from_the_portal_to_its_reply(hub):
    public = hub[1].test_client()
    page = public.get("/portal/complaints/new").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    token, answer = solve(hub[1], page)
    form = {"csrf_token": csrf, "captcha_token": token, "kind": "投诉", "district": "440605",
            "dept": "SCJ", "subject": "窗口工作人员离岗", "content": "上午十点三号窗口无人",
            "contact_name": "李四", "contact_phone": "13900000000"}
    wrong = public.post("/portal/complaints/new", data={**form, "captcha": str(int(answer) + 1)})
    assert wrong.status_code == 400 and "验证码错误" in wrong.get_data(as_text=True)
    done = public.post("/portal/complaints/new", data={**form, "captcha": answer})
    number = re.search(r'id="tracking-number">(TS\d{8}[A-Z0-9]{6})<', done.get_data(
        as_text=True)).group(1)
    replay = public.post("/portal/complaints/new", data={**form, "captcha": answer})
    assert replay.status_code == 400 and "已使用" in replay.get_data(as_text=True)
    track = public.get(f"/portal/complaints/track?no={number}").get_data(as_text=True)
    assert "待受理" in track and "13900000000" not in track and "李四" not in track
    nanhai = client_for(hub, "nanhai")
    listing = nanhai.client.get("/complaints").get_data(as_text=True)
    complaint_id = re.search(rf'href="/complaints/(\d+)">{number}<', listing).group(1)
    assert client_for(hub, "shunde").client.get(f"/complaints/{complaint_id}").status_code == 404
    for action, note, finding in (("accept", "已受理", ""),
                                  ("reply", "已批评教育当事人并调整排班", "属实")):
        nanhai.client.post(f"/complaints/{complaint_id}/{action}",
                           data={"note": note, "finding": finding, "csrf_token": nanhai.csrf})
    track = public.get(f"/portal/complaints/track?no={number}").get_data(as_text=True)
    assert "已答复" in track and "已批评教育当事人并调整排班" in track
    detail = nanhai.client.get(f"/complaints/{complaint_id}").get_data(as_text=True)
    assert "核查结论" in detail and "计入绩效评估“属实投诉”" in detail
    scores = compute_month(hub[0].data, hub[0].scoring, "2026-11")  # found on 2026-11-20
    assert next(u for u in scores if u.dept_code == "440605SCJ").inputs["complaints"] == 1
    assert "市场监督管理局" in public.get("/portal/complaints").get_data(as_text=True)


def test_portal_pages_and_the_case_lookup_show_no_personal_data(hub):
    dashboard, app, _ = hub
    public = app.test_client()
    for url in ("/portal/", "/portal/guide", "/portal/guide/440605-SCJ-001", "/portal/rates",
                "/portal/scores", "/portal/scores/year/2026", "/portal/scores/formula",
                "/portal/complaints"):
        assert public.get(url).status_code == 200, url
    guide = public.get("/portal/guide/440605-SCJ-001").get_data(as_text=True)
    for heading in ("审批内容", "办事程序", "政策依据", "申报材料", "承诺时限", "收费标准"):
        assert heading in guide
    case_no = case_of(dashboard, "440606")
    page = public.get(f"/portal/cases?no={case_no}").get_data(as_text=True)
    assert "受理" in page and case_no in page
    from hub.services import Scope
    from hub.services.cases import case_events, find_case

    events = case_events(dashboard.data, find_case(dashboard.data, Scope.city(), case_no))
    for event in events:
        assert event["actor"]["name"] not in page and event["actor"]["id"] not in page
    assert public.get("/portal/cases?no=NOPE").status_code == 404
    assert public.get("/cases").status_code == 302  # the dashboard needs a sign-in


def test_the_portal_limits_requests_per_address(tmp_path):
    write_hub_folder(tmp_path)
    (tmp_path / "hub.toml").write_text((tmp_path / "hub.toml").read_text() +
                                       "\n[portal]\nrequests_per_minute = 5\n", encoding="utf-8")
    from tests.hubkit import open_dashboard

    app = create_app(open_dashboard(tmp_path), {"TESTING": True}, announce=lambda *first: None)
    client = app.test_client()
    codes = [client.get("/portal/guide").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    other = app.test_client().get("/portal/guide", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


def test_user_commands_and_score_commands(seeded, tmp_path):
    from tests.hubkit import open_dashboard

    folder = tmp_path / "hub"
    copy_hub(seeded[0], folder)
    config = str(folder / "hub.toml")
    runner = CliRunner()
    added = runner.invoke(main, ["hub", "user", "add", "--config", config, "--name", "foshan-sc",
                                 "--role", "department", "--scope", "SCJ"])
    assert added.exit_code == 0, added.output
    password = re.search(r"首次登录密码：(\S+)", added.output).group(1)
    bad = runner.invoke(main, ["hub", "user", "add", "--config", config, "--name", "x1",
                               "--role", "district", "--scope", "999999"])
    assert bad.exit_code != 0 and "440605" in bad.output
    app = create_app(open_dashboard(folder), {"TESTING": True}, announce=lambda *first: None)
    signed = sign_in(app, "foshan-sc", password)  # a one-time password: 修改密码 comes first
    assert "请先设置自己的密码" in signed.client.get("/account/password").get_data(as_text=True)
    assert signed.client.get("/cases").headers["Location"] == "/account/password"
    reset = runner.invoke(main, ["hub", "user", "reset", "--config", config, "--name",
                                 "foshan-sc"])
    new_password = re.search(r"新密码：(\S+)", reset.output).group(1)
    sign_in(app, "foshan-sc", new_password)
    runner.invoke(main, ["hub", "user", "disable", "--config", config, "--name", "foshan-sc"])
    with pytest.raises(AssertionError):
        sign_in(app, "foshan-sc", new_password)
    scored = runner.invoke(main, ["hub", "score", "--config", config, "--month", "2026-10",
                                  "--json"])
    assert scored.exit_code == 0, scored.output
    rows = [json.loads(line) for line in scored.output.splitlines() if line.startswith("{")]
    departments = {item.dept_code for item in open_dashboard(folder).data.catalogue.values()}
    assert len(rows) == len(departments) + len(DISTRICTS)
    assert {row["status"] for row in rows} == {"draft"}
    districts = [row for row in rows if row["kind"] == "district"]
    assert sorted(row["unit"] for row in districts) == sorted(DISTRICTS)
    for row in rows:
        assert {"unit", "name", "cases", "score", "lines"} <= set(row)
        assert row["cases"] > 0 and 0 <= row["score"] <= 105
        assert {"indicator", "inputs", "rate", "points"} <= set(row["lines"][0])
    assert rows[0]["lines"][0]["indicator"] == "按时办结率"
    published = runner.invoke(main, ["hub", "publish-scores", "--config", config, "--month",
                                     "2026-10"])
    assert published.exit_code == 0 and "第1版 · 已发布" in published.output
    again = runner.invoke(main, ["hub", "publish-scores", "--config", config, "--month",
                                 "2026-10"])
    assert again.exit_code != 0 and "没有待发布的成绩" in again.output
    frozen = runner.invoke(main, ["hub", "score", "--config", config, "--month", "2026-10",
                                  "--json"])
    assert frozen.exit_code == 0 and "更正请加 --reason" in frozen.output
    assert [json.loads(line) for line in frozen.output.splitlines()
            if line.startswith("{")] == [{**row, "status": "published"} for row in rows]
    # The CLI runs on the real clock, in the hub's time zone: on a machine on UTC the last
    # eight hours of a month are already the next month's first day there.
    this_month = f"{dt.datetime.now(LOCAL_TZ):%Y-%m}"
    early = runner.invoke(main, ["hub", "score", "--config", config, "--month", this_month])
    assert early.exit_code == 0 and "各部门" in early.output
    refused = runner.invoke(main, ["hub", "publish-scores", "--config", config, "--month",
                                   this_month])
    assert refused.exit_code != 0 and "尚未结束" in refused.output
    forced = runner.invoke(main, ["hub", "publish-scores", "--config", config, "--month",
                                  this_month, "--force", "--reason", "演示"])
    assert forced.exit_code == 0 and "强制提前发布" in forced.output
    quiet = runner.invoke(main, ["hub", "score", "--config", config, "--month", "2026-01",
                                 "--json"])  # before the seeded months: 无办件 everywhere
    assert quiet.exit_code == 0, quiet.output
    empty = [json.loads(line) for line in quiet.output.splitlines() if line.startswith("{")]
    assert empty and all(row["score"] is None and row["rank"] is None and row["cases"] == 0
                         for row in empty)
    assert '"score": null' in quiet.output
    wrong = runner.invoke(main, ["hub", "score", "--config", config, "--month", "2026-13"])
    assert wrong.exit_code != 0 and "YYYY-MM" in wrong.output


def test_hub_serve_announces_the_first_login_once_without_a_password(tmp_path):
    toml = init_hub_folder(tmp_path / "hub")
    hub = start_hub(toml)
    try:
        # stdout is a pipe here, as under systemd: the password stays out of it.
        assert sum("首次登录" in line for line in hub.lines) == 1
        assert " 密码 " not in "".join(hub.lines)
        assert "hallwatch hub user reset --name admin" in "".join(hub.lines)
        for path in ("/login", "/portal/"):
            with urllib.request.urlopen(hub.url + path, timeout=10) as response:
                assert response.status == 200
    finally:
        assert hub.stop() == 0
    hub = start_hub(toml)  # the second start has users: nothing said
    hub.stop()
    assert not any("首次登录" in line for line in hub.lines)


def test_docs_name_every_dashboard_command_and_route(hub):
    from hub.cli import hub as hub_group

    page = (REPO / "docs" / "hub.md").read_text(encoding="utf-8")
    for name in ("score", "publish-scores", "rebuild-views"):
        assert f"hub {name} --config" in page, name
        assert hub_group.commands[name].help, name
    for name in hub_group.commands["user"].commands:
        assert f"hub user {name} --config" in page, name
    app = hub[1]
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("overview", "cases", "supervision", "halls",
                                           "scores", "complaints", "users", "portal"):
            head = re.split(r"[<.]", rule.rule)[0].rstrip("/") or "/"
            assert f"`{head}" in page or f"`POST {head}" in page, rule.rule
