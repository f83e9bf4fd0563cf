"""电子建言 at the hub over HTTP, on SQLite and PostgreSQL: complaints from the portal, from staff
(hotline, letter, phone) and from the 12345 system's API; linked to a case and turned into a
督办 (移交督办); replies made public without personal data.

The 12345 API is fuzzed with Hypothesis: whatever the body, the answer is 200, 400 or 422
(never a 500), every refusal names a field, and a ticket posted twice is taken once (the
intake's hardening and quarantine, against a real server: test_hub_complaint_intake.py).
"""

from __future__ import annotations

import json
import os
import re
import stat
import uuid

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallwatch.cli import main
from hub.api_token import token_path
from tests.hubkit import (
    add_users,
    captcha_answer,
    case_of,
    checkpoint,
    copy_hub,
    seeded_hub,
    sign_in,
)
from web.hub import create_app


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_module_database):
    folder = tmp_path_factory.mktemp("seed")
    dashboard = seeded_hub(folder, database=hub_module_database)
    passwords = add_users(dashboard)
    checkpoint(dashboard)
    target = tmp_path_factory.mktemp("complaints") / "hub"
    dashboard = copy_hub(folder, target)
    made = CliRunner().invoke(main, ["hub", "token", "--config", str(target / "hub.toml"),
                                     "--show"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
    yield dashboard, app, passwords, token
    dashboard.data.store.close()


def client(hub, username):
    dashboard, app, passwords, _ = hub
    return sign_in(app, username, passwords[username])


def post_api(hub, body, token: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return hub[1].test_client().post(
        "/api/v1/complaints", data=raw, content_type="application/json",
        headers={"Authorization": f"Bearer {token or hub[3]}"})


def ticket(number: str, **fields) -> dict:
    return {"version": 1, "ticket_no": number, "kind": "投诉", "subject": "窗口办理超时",
            "content": "市民来电反映企业设立登记超过承诺时限仍未办结。",
            "received_at": "2026-11-20T09:12:00+08:00", "district_code": "440605",
            "dept": "SCJ", "contact_name": "李四", "contact_phone": "13900000000",
            "publish": True, **fields}


def submit_on_portal(hub, **fields) -> str:
    public = hub[1].test_client()
    page = public.get("/portal/complaints/new").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    token = re.search(r'name="captcha_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "captcha_token": token,
            "captcha": captcha_answer(hub[1].secret_key, token), "kind": "投诉",
            "district": "440605", "dept": "SCJ", "subject": "审批超时",
            "content": "我叫王小明，电话13812345678，营业执照申请超过三个工作日仍未办结。",
            "contact_name": "王小明", "contact_phone": "13812345678", **fields}
    done = public.post("/portal/complaints/new", data=form).get_data(as_text=True)
    return re.search(r'id="tracking-number">(TS\w+)<', done).group(1)


def complaint_id(hub, tracking_no: str) -> int:
    return hub[0].data.store.query("select id from complaints where tracking_no = ?",
                                   (tracking_no,))[0]["id"]


def test_a_portal_complaint_is_linked_turned_into_a_duban_and_answered_in_public(hub):
    dashboard = hub[0]
    number = submit_on_portal(hub, publish_ok="1")
    cid = complaint_id(hub, number)
    chief = client(hub, "chief")
    detail = chief.client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "网上提交" in detail and "群众同意公开" in detail
    # Not linked yet: no 移交督办; an unknown case and another district's case are refused.
    assert 'id="transfer-duban"' not in detail
    for case_no, message in (("NOPE-1", "办件编号 NOPE-1 不存在或不在您的监察范围内"),
                             (case_of(dashboard, "440606"), "属于顺德区，与投诉涉及的南海区不一致")):
        page = chief.client.post(f"/complaints/{cid}/link", data={
            "case_no": case_no, "csrf_token": chief.csrf}, follow_redirects=True)
        assert message in page.get_data(as_text=True)
    case_no = case_of(dashboard, "440605", "SCJ", open_only=True)
    shunde = client(hub, "shunde")
    assert shunde.client.post(f"/complaints/{cid}/link", data={
        "case_no": case_no, "csrf_token": shunde.csrf}).status_code == 404
    chief.client.post(f"/complaints/{cid}/link", data={"case_no": case_no,
                                                       "csrf_token": chief.csrf})
    detail = chief.client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert f'href="/cases/{case_no}"' in detail and 'id="transfer-duban"' in detail
    # Another district's supervisor cannot reach it; a department user may not transfer.
    assert shunde.client.post(f"/complaints/{cid}/transfer", data={
        "requirement": "x", "csrf_token": shunde.csrf}).status_code == 404
    scj = client(hub, "scj")
    assert scj.client.post(f"/complaints/{cid}/transfer", data={
        "requirement": "x", "csrf_token": scj.csrf}).status_code == 403
    moved = chief.client.post(f"/complaints/{cid}/transfer", data={
        "requirement": "请核实群众反映的超时问题并依法办结。", "csrf_token": chief.csrf})
    assert moved.status_code == 302 and "/dubans/" in moved.headers["Location"]
    duban_page = chief.client.get(moved.headers["Location"]).get_data(as_text=True)
    duban_number = re.search(r"佛山电监〔2026〕\d+号", duban_page).group(0)
    assert number in duban_page  # the 督办's record names the complaint it came from
    notice = chief.client.get(moved.headers["Location"] + "/notice").get_data(as_text=True)
    assert number in notice and case_no in notice and "南海区市场监督管理局" in notice
    detail = chief.client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert duban_number in detail and "已受理" in detail and "移交督办" in detail
    again = chief.client.post(f"/complaints/{cid}/transfer", data={
        "requirement": "再次", "csrf_token": chief.csrf}, follow_redirects=True)
    assert "该件已移交督办" in again.get_data(as_text=True)
    events = [e["action"] for e in dashboard.data.store.query(
        "select action from complaint_events where complaint_id = ? order by id", (cid,))]
    assert events == ["submit", "link_case", "transfer"]
    assert dashboard.data.store.query("select complaint_id from dubans where number = ?",
                                      (duban_number,))[0]["complaint_id"] == cid
    # The reply, published: on the portal without the name or the phone.
    chief.client.post(f"/complaints/{cid}/reply", data={
        "note": "经核查，王小明反映属实，已责成南海区市场监督管理局于11月24日前办结，联系电话13812345678。",
        "publish": "1", "finding": "属实", "csrf_token": chief.csrf})
    replies = hub[1].test_client().get("/portal/complaints/replies").get_data(as_text=True)
    assert "审批超时" in replies and "已责成南海区市场监督管理局" in replies
    assert "13812345678" not in replies and "王小明" not in replies and "138****5678" in replies
    assert "王**" in replies
    assert "审批超时" in hub[1].test_client().get("/portal/complaints").get_data(as_text=True)


def test_a_district_supervisor_transfers_its_own_complaint_to_a_district_duban(hub):
    """区监察室 closes the loop in its own district: link, 移交督办 (the district's own 督办,
    numbered by its own counter), the department answers, the district closes it."""
    dashboard = hub[0]
    number = submit_on_portal(hub, subject="南海窗口推诿")
    cid = complaint_id(hub, number)
    nanhai = client(hub, "nanhai")
    case_no = case_of(dashboard, "440605", "SCJ", open_only=True)
    nanhai.client.post(f"/complaints/{cid}/link", data={"case_no": case_no,
                                                        "csrf_token": nanhai.csrf})
    detail = nanhai.client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert 'id="transfer-duban"' in detail and "发出本区督办" in detail
    moved = nanhai.client.post(f"/complaints/{cid}/transfer", data={
        "requirement": "请核实窗口推诿问题，三日内书面反馈。", "csrf_token": nanhai.csrf})
    assert moved.status_code == 302 and "/dubans/" in moved.headers["Location"]
    duban_url = moved.headers["Location"]
    page = nanhai.client.get(duban_url).get_data(as_text=True)
    assert "南海区督办" in page and number in page
    duban_number = re.search(r"南海电监督〔2026〕(\d+)号", page)
    assert duban_number, page
    row = dashboard.data.store.query("select issuer, seq, complaint_id from dubans where"
                                     " number = ?", (duban_number.group(0),))[0]
    assert (row["issuer"], row["complaint_id"]) == ("440605", cid)
    # Numbered by the district's own counter, apart from the city's 佛山电监〔2026〕N号.
    assert row["seq"] == len(dashboard.data.store.query(
        "select id from dubans where issuer = '440605'"))
    notice = nanhai.client.get(duban_url + "/notice").get_data(as_text=True)
    assert ("南海区行政审批电子监察" in notice and "南海区行政服务中心电子监察室" in notice
            and "南海区市场监督管理局" in notice and number in notice)
    detail = nanhai.client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert duban_number.group(0) in detail and "已受理" in detail
    events = [e["action"] for e in dashboard.data.store.query(
        "select action from complaint_events where complaint_id = ? order by id", (cid,))]
    assert events == ["submit", "link_case", "transfer"]
    # The city sees it on its list; another district does not; the department answers it,
    # the issuing district closes it.
    chief = client(hub, "chief")
    assert duban_number.group(0) in chief.client.get("/dubans?state=all").get_data(as_text=True)
    shunde = client(hub, "shunde")
    assert shunde.client.get(duban_url).status_code == 404
    scj = client(hub, "scj")
    scj.client.post(duban_url + "/answer", data={"note": "已约谈窗口人员并办结。",
                                                 "csrf_token": scj.csrf})
    closed = nanhai.client.post(duban_url + "/close", data={"note": "核实整改到位。",
                                                            "csrf_token": nanhai.csrf},
                                follow_redirects=True).get_data(as_text=True)
    assert "已办结" in closed and "已约谈窗口人员并办结" in closed


def test_a_reply_is_public_only_when_the_citizen_agreed(hub):
    number = submit_on_portal(hub, subject="不同意公开的投诉")
    cid = complaint_id(hub, number)
    chief = client(hub, "chief")
    chief.client.post(f"/complaints/{cid}/accept", data={"note": "", "csrf_token": chief.csrf})
    page = chief.client.post(f"/complaints/{cid}/reply", data={
        "note": "已答复", "publish": "1", "csrf_token": chief.csrf}, follow_redirects=True)
    assert "群众未同意公开" in page.get_data(as_text=True)
    chief.client.post(f"/complaints/{cid}/reply", data={"note": "已答复",
                                                        "csrf_token": chief.csrf})
    assert 'action="/complaints/%d/publish"' % cid not in chief.client.get(
        f"/complaints/{cid}").get_data(as_text=True)
    assert "不同意公开的投诉" not in hub[1].test_client().get(
        "/portal/complaints/replies").get_data(as_text=True)


def test_staff_enter_letters_and_calls_within_their_district(hub):
    nanhai = client(hub, "nanhai")
    form = {"channel": "letter", "kind": "建言", "district": "440605", "dept": "",
            "subject": "建议延长周六办事时间", "content": "来信建议周六上午开放综合窗口。",
            "contact_name": "赵六", "contact_phone": "", "received_on": "2026-11-18",
            "ticket_no": "", "csrf_token": nanhai.csrf}
    done = nanhai.client.post("/complaints/new", data=form)
    assert done.status_code == 302
    detail = nanhai.client.get(done.headers["Location"]).get_data(as_text=True)
    assert "来信" in detail and "2026-11-18" in detail and "南海区" in detail
    for changed, message in (({"district": "440606"}, "涉及的区须为南海区"),
                             ({"subject": "  "}, "请填写标题"),
                             ({"channel": "portal"}, "来源渠道须为"),
                             ({"received_on": "2026-13-01"}, "收到日期格式应为")):
        page = nanhai.client.post("/complaints/new", data={**form, **changed})
        assert page.status_code == 400 and message in page.get_data(as_text=True), changed
    chief = client(hub, "chief")
    call = {**form, "channel": "hotline", "ticket_no": "12345-STAFF-0001",
            "csrf_token": chief.csrf}
    assert chief.client.post("/complaints/new", data=call).status_code == 302
    twice = chief.client.post("/complaints/new", data=call)
    assert twice.status_code == 400 and "12345工单号 12345-STAFF-0001 已登记过" in twice.get_data(
        as_text=True)
    assert client(hub, "scj").client.get("/complaints/new").status_code == 403
    listing = chief.client.get("/complaints?channel=letter").get_data(as_text=True)
    assert "建议延长周六办事时间" in listing and "审批超时" not in listing


def test_the_12345_api_takes_a_ticket_once_and_refuses_a_conflicting_one(hub):
    dashboard = hub[0]
    first = post_api(hub, ticket("12345-20261120-0001"))
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["accepted"] == 1 and answer["created"][0]["index"] == 0
    tracking = answer["created"][0]["tracking_no"]
    again = post_api(hub, ticket("12345-20261120-0001", received_at="2026-11-20T01:12:00Z"))
    assert again.status_code == 200
    assert again.get_json()["duplicate"] == [{"index": 0, "ticket_no": "12345-20261120-0001",
                                              "tracking_no": tracking}]
    changed = post_api(hub, ticket("12345-20261120-0001", subject="另一个标题"))
    assert changed.status_code == 422
    (conflict,) = changed.get_json()["conflicting"]
    assert conflict["fields"] == ["subject"] and tracking in conflict["message"]
    rows = dashboard.data.store.query("select * from complaints where ticket_no = ?",
                                      ("12345-20261120-0001",))
    assert len(rows) == 1 and rows[0]["channel"] == "hotline" and rows[0]["publish_ok"] == 1
    chief = client(hub, "chief")
    detail = chief.client.get(f"/complaints/{rows[0]['id']}").get_data(as_text=True)
    assert "12345热线" in detail and "12345-20261120-0001" in detail


def test_the_12345_api_judges_each_record_and_names_the_field(hub):
    dashboard = hub[0]
    case_no = case_of(dashboard, "440606", "SCJ")
    body = [ticket("12345-MIX-1"),
            ticket("12345-MIX-2", district_code="440699"),
            ticket("12345-MIX-3", kind="表扬", subject=""),
            ticket("12345-MIX-4", colour="red"),
            ticket("12345-MIX-5", case_no="NO-SUCH-CASE"),
            ticket("12345-MIX-6", received_at="2026-11-20 09:12"),
            "not an object",
            ticket("12345-MIX-8", district_code=None, dept=None, case_no=case_no)]
    response = post_api(hub, body)
    assert response.status_code == 200
    answer = response.get_json()
    assert [c["index"] for c in answer["created"]] == [0, 7]
    refused = {r["index"]: {e["field"]: e["message"] for e in r["errors"]}
               for r in answer["rejected"]}
    assert "区代码 440699 不存在" in refused[1]["district_code"]
    assert set(refused[2]) == {"kind", "subject"} and "不能为空" in refused[2]["subject"]
    assert "未知字段" in refused[3]["colour"]
    assert "办件编号 NO-SUCH-CASE" in refused[4]["case_no"]
    assert "时间格式不符" in refused[5]["received_at"]
    assert "记录必须是 JSON 对象" in refused[6]["(record)"]
    linked = dashboard.data.store.query("select district_code, dept_suffix, case_no from"
                                        " complaints where ticket_no = '12345-MIX-8'")[0]
    assert linked == {"district_code": "440606", "dept_suffix": "SCJ", "case_no": case_no}
    nothing = post_api(hub, [ticket("12345-BAD", kind="x")])
    assert nothing.status_code == 422 and nothing.get_json()["accepted"] == 0
    for raw, message in ((b"[]", "空数组"), (b"\xff\xfe", "不是 JSON 数组或 NDJSON"),
                         (b'[{"a": 1} x', "不是有效的 JSON")):
        bad = post_api(hub, raw)
        assert bad.status_code == 400 and message in bad.get_json()["error"], raw
    broken = post_api(hub, b"{not json")  # one NDJSON record, refused by its index
    assert broken.status_code == 422
    assert "不是有效的 JSON" in broken.get_json()["rejected"][0]["errors"][0]["message"]


def test_the_12345_api_needs_its_token_and_a_new_token_replaces_the_old(hub):
    dashboard, app, _, token = hub
    assert post_api(hub, ticket("12345-TOKEN-1"), token="wrong").status_code == 401
    no_header = app.test_client().post("/api/v1/complaints", json=ticket("12345-TOKEN-1"))
    assert no_header.status_code == 401 and "令牌" in no_header.get_json()["error"]
    path = token_path(dashboard.config)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = str(path.parent.parent / "hub.toml")
    made = CliRunner().invoke(main, ["hub", "token", "--config", config, "--show"])
    new = made.output.strip().splitlines()[-1]
    assert post_api(hub, ticket("12345-TOKEN-1"), token=token).status_code == 401
    assert post_api(hub, ticket("12345-TOKEN-1"), token=new).status_code == 200
    path.unlink()
    assert post_api(hub, ticket("12345-TOKEN-2"), token=new).status_code == 503
    CliRunner().invoke(main, ["hub", "token", "--config", config])
    hub_token = path.read_text().strip()
    assert post_api(hub, ticket("12345-TOKEN-2"), token=hub_token).status_code == 200


# -- fuzzing the API -------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                               max_size=5),
    max_leaves=12)
FIELDS = ("version", "ticket_no", "kind", "subject", "content", "received_at", "district_code",
          "dept", "contact_name", "contact_phone", "publish", "case_no")


@st.composite
def near_records(draw):
    """A valid ticket with some fields dropped, replaced by anything, or added."""
    record = ticket(draw(st.from_regex(r"FZ-[0-9A-Z]{1,12}", fullmatch=True)))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = draw(json_values)
    if draw(st.booleans()):
        record[draw(st.text(max_size=8))] = draw(json_values)
    return record


def current_token(hub) -> str:
    return token_path(hub[0].config).read_text().strip()


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(json_values, st.lists(near_records(), min_size=1, max_size=4),
                      near_records(), st.binary(max_size=64)))
def test_fuzz_any_body_is_answered_200_400_or_422_with_named_fields(hub, body):
    response = post_api(hub, body, token=current_token(hub))
    assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
    answer = response.get_json()
    if response.status_code == 400:
        assert answer["error"]
        return
    for refused in answer["rejected"]:
        assert refused["errors"] and all(e["field"] and e["message"] for e in refused["errors"])
    for item in answer["created"] + answer["duplicate"]:
        assert re.fullmatch(r"TS\d{8}[A-Z2-9]{6}", item["tracking_no"])


texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=1, max_size=60).filter(str.strip)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(number=st.from_regex(r"PROP-[0-9A-Z]{1,16}", fullmatch=True), subject=texts,
       content=texts, publish=st.booleans())
def test_fuzz_a_valid_ticket_is_taken_once_however_often_it_is_posted(hub, number, subject,
                                                                     content, publish):
    number = f"{number}-{uuid.uuid4().hex[:8]}"  # each example its own ticket
    record = ticket(number, subject=subject, content=content, publish=publish)
    token = current_token(hub)
    first = post_api(hub, record, token=token).get_json()
    second = post_api(hub, [record, record], token=token).get_json()
    held = first["created"] or first["duplicate"]
    assert len(held) == 1 and len(second["duplicate"]) == 2
    assert {d["tracking_no"] for d in second["duplicate"]} == {held[0]["tracking_no"]}
    rows = hub[0].data.store.query("select subject, content from complaints where ticket_no = ?",
                                   (number,))
    assert rows == [{"subject": subject.strip(), "content": content.strip()}]
