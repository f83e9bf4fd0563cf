"""The hub's query layer filters by scope in SQL, for every function the pages and exports use;
and the projections it reads are built exactly once per record, whatever order they come in."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.complaint_public import public_status
from hub.complaints import ComplaintError
from hub.dubans import DubanError
from hub.projections import rebuild
from hub.scorebook import Scorebook
from hub.scoring import compute_month
from hub.services import NotFound, Scope, ScopeError
from hub.services.cases import CaseFilter, case_detail, case_page, find_case, iter_cases
from hub.services.departments import department_view, district_view, item_view
from hub.services.overview import box_states, district_tiles
from hub.services.supervision import CardFilter, card_page, escalated, forwarded_cases
from standard.districts import DISTRICTS
from tests.hubkit import case_of, seeded_hub

CITY = Scope.city()
NANHAI = Scope.district("440605")
SCJ = Scope.department("SCJ")
START_DAY = dt.date(2026, 11, 2)


def cards(data, scope: Scope) -> list[dict]:
    """Every active card in scope (one page holding them all)."""
    return card_page(data, scope, CardFilter(), per_page=100_000).rows


@pytest.fixture(scope="module")
def hub(tmp_path_factory, hub_module_database):
    dashboard = seeded_hub(tmp_path_factory.mktemp("hub"), database=hub_module_database)
    yield dashboard
    dashboard.data.store.close()


def test_scope_from_role_and_scope_text():
    assert Scope.for_user("city", None) == CITY
    assert Scope.for_user("district", "440605") == NANHAI
    assert Scope.for_user("district", "440600") == Scope.district("440600")  # 市本级
    assert Scope.for_user("department", "scj, wjj") == Scope.department("SCJ", "WJJ")
    for role, text in (("district", None), ("district", "440699"), ("department", ""),
                       ("city", "440605"), ("mayor", None), ("department", "SC J")):
        with pytest.raises(ScopeError):
            Scope.for_user(role, text)
    assert NANHAI.sql() == ("district_code in (?)", ["440605"])
    assert SCJ.sql(dept_col=None) == ("1 = 0", [])  # no department column: nothing


NANHAI_SCJ = Scope.for_user("department", "440605SCJ")


def test_a_department_of_one_district_is_a_scope():
    assert NANHAI_SCJ == Scope("department", districts=("440605",), depts=("SCJ",))
    assert NANHAI_SCJ.text == "440605SCJ" and not NANHAI_SCJ.sees_boxes
    assert NANHAI_SCJ.describe() == "南海区 SCJ"
    assert Scope.for_user("department", "440605scj,440605WJJ").text == "440605SCJ,440605WJJ"
    for text, message in (("440605SCJ,440606SCJ", "同一个区"), ("440605SCJ,WJJ", "同一个区"),
                          ("440699SCJ", "区代码 440699 不存在")):
        with pytest.raises(ScopeError, match=message):
            Scope.for_user("department", text)


@pytest.mark.parametrize(("role", "text", "message"), [
    ("department", "440605XYZ", "部门 XYZ 不在南海区的事项目录中"),
    ("department", "XYZ", "部门 XYZ 不在任何区的事项目录中"),
    ("department", "SCJ,NOPE", "部门 NOPE"),
])
def test_a_scope_no_catalogue_knows_is_refused(role, text, message):
    known = {"440605SCJ", "440606SCJ", "440605WJJ"}
    scope = Scope.for_user(role, text)
    with pytest.raises(ScopeError, match=message):
        scope.check_known(known)
    Scope.for_user("department", "440605SCJ,440605WJJ").check_known(known)
    Scope.for_user("department", "SCJ").check_known(known)


def test_a_department_of_one_district_sees_only_its_data(hub):
    data = hub.data
    everything = CaseFilter(state="all")
    rows = list(iter_cases(data, NANHAI_SCJ, everything))
    assert rows and {(r["district_code"], r["dept_code"]) for r in rows} == \
        {("440605", "440605SCJ")}
    assert {t.code for t in district_tiles(data, NANHAI_SCJ)} == {"440605"}
    assert box_states(data, NANHAI_SCJ) == []
    with pytest.raises(NotFound):
        find_case(data, NANHAI_SCJ, case_of(hub, "440606", "SCJ"))
    with pytest.raises(NotFound):
        find_case(data, NANHAI_SCJ, case_of(hub, "440605", "WJJ"))
    assert {c["dept_code"] for c in cards(data, NANHAI_SCJ)} <= {"440605SCJ"}
    view = department_view(data, NANHAI_SCJ, "SCJ", "2026-10")
    assert set(view.per_district) == {"440605"}
    with pytest.raises(NotFound):
        department_view(data, NANHAI_SCJ, "WJJ", "2026-10")


def test_overview_tiles_and_boxes(hub):
    data = hub.data
    assert [t.code for t in district_tiles(data, CITY)] == list(DISTRICTS)
    city = {t.code: t for t in district_tiles(data, CITY)}
    (nanhai,) = district_tiles(data, NANHAI)
    assert nanhai.code == "440605" and nanhai.lights == city["440605"].lights
    assert [b.box_id for b in box_states(data, NANHAI)] == ["440605-01"]
    assert len(box_states(data, CITY)) == len(DISTRICTS) and box_states(data, SCJ) == []
    scj = {t.code: t for t in district_tiles(data, SCJ)}
    assert set(scj) == set(DISTRICTS) and all(not t.boxes for t in scj.values())
    open_scj = data.query("select district_code, count(*) as n from hub_cases"
                          " where is_open = 1 and dept_suffix = 'SCJ' group by 1")
    assert {r["district_code"]: r["n"] for r in open_scj} == \
        {code: t.open_cases for code, t in scj.items() if t.open_cases}
    assert sum(t.open_cases for t in scj.values()) < sum(t.open_cases for t in city.values())


def test_case_lists_and_exports_hold_only_the_scope(hub):
    data = hub.data
    everything = CaseFilter(state="all")
    total = case_page(data, CITY, everything).total
    nanhai = case_page(data, NANHAI, everything)
    assert 0 < nanhai.total < total
    assert {row["district_code"] for row in iter_cases(data, NANHAI, everything)} == {"440605"}
    assert {row["dept_suffix"] for row in iter_cases(data, SCJ, everything)} == {"SCJ"}
    assert sum(1 for _ in iter_cases(data, SCJ, everything)) == case_page(data, SCJ,
                                                                          everything).total
    # A filter for another district cannot widen a scope.
    assert case_page(data, NANHAI, CaseFilter(district="440606", state="all")).total == 0
    assert case_page(data, SCJ, CaseFilter(dept="WJJ", state="all")).total == 0


def test_case_pages_walk_the_whole_list_and_a_long_one_says_more(hub, monkeypatch):
    import hub.services.cases as cases

    data = hub.data
    for where in (CaseFilter(), CaseFilter(state="all"), CaseFilter(district="440605")):
        first = case_page(data, CITY, where, per_page=7)
        walked = [row["case_no"] for page in range(1, first.pages + 1)
                  for row in case_page(data, CITY, where, page=page, per_page=7).rows]
        assert len(walked) == len(set(walked)) == first.total > 7
        if where.state == "open":  # red first, then by working days left
            ranks = [cases.LIGHT_RANK.get(row["light"], 3) for page in range(1, first.pages + 1)
                     for row in case_page(data, CITY, where, page=page, per_page=7).rows]
            assert ranks == sorted(ranks)
        else:  # newest first
            ids = {row["case_no"]: row["id"] for row in data.query(
                "select case_no, id from hub_cases")}
            assert [ids[n] for n in walked] == sorted((ids[n] for n in walked), reverse=True)
    # A case number's first digits find exactly the cases that start with them.
    numbers = [row["case_no"] for row in iter_cases(data, CITY, CaseFilter(state="all"))]
    prefix = numbers[0][:-1]
    found = case_page(data, CITY, CaseFilter(state="all", case_no=prefix), per_page=1000)
    assert sorted(row["case_no"] for row in found.rows) == \
        sorted(n for n in numbers if n.startswith(prefix))
    # Past the counting limit the list says "more than" and pages only that far.
    monkeypatch.setattr(cases, "COUNT_LIMIT", 10)
    capped = case_page(data, CITY, CaseFilter(state="all"), per_page=4)
    assert (capped.total, capped.more, capped.pages) == (10, True, 3)
    assert not case_page(data, NANHAI, CaseFilter(case_no=prefix, state="all")).more


def test_one_case_is_not_found_outside_the_scope(hub):
    data = hub.data
    shunde_case = case_of(hub, "440606")
    scj_case = case_of(hub, "440606", "SCJ")
    wjj_case = case_of(hub, "440605", "WJJ")
    assert find_case(data, CITY, shunde_case)["district_code"] == "440606"
    for scope, case_no in ((NANHAI, shunde_case), (SCJ, wjj_case)):
        with pytest.raises(NotFound):
            case_detail(data, scope, case_no)
    detail = case_detail(data, SCJ, scj_case)
    assert detail.case["dept_suffix"] == "SCJ" and detail.events[0]["event_type"] == "申请"


def test_drill_down_pages_refuse_what_the_scope_does_not_cover(hub):
    data, month = hub.data, "2026-10"
    assert district_view(data, NANHAI, "440605", month).departments
    with pytest.raises(NotFound):
        district_view(data, NANHAI, "440606", month)
    view = district_view(data, SCJ, "440606", month)
    assert [d["suffix"] for d in view.departments] == ["SCJ"]
    scj = department_view(data, SCJ, "SCJ", month)
    assert set(scj.per_district) == set(DISTRICTS) and scj.items
    # The city's own 市场监督管理局 sits next to its district counterparts (两纵).
    assert "440600" in scj.per_district and any("440600" in i["codes"] for i in scj.items)
    assert set(department_view(data, NANHAI, "SCJ", month).per_district) == {"440605"}
    with pytest.raises(NotFound):
        department_view(data, SCJ, "WJJ", month)
    assert item_view(data, NANHAI, "440605-SCJ-001")["code"] == "440605-SCJ-001"
    for scope, item in ((NANHAI, "440606-SCJ-001"), (SCJ, "440605-WJJ-003"),
                        (CITY, "440605-NOPE-999")):
        with pytest.raises(NotFound):
            item_view(data, scope, item)


def test_cards_escalations_and_forwarded_cases_are_scoped(hub):
    data = hub.data
    store = data.store
    # One escalated alert in 顺德 and one 上报件 in 南海, as a box would report them.
    box = SimBox.continuing(store, "440606-01", "440606")
    stamp = "2026-11-19T01:00:00.000+00:00"
    feed(store, box, [box.record("alert", {
        "id": 9001, "subject": "case:X", "rule": "超期", "level": "red", "state": "escalated",
        "detail": "超期", "opened_at": stamp, "updated_at": stamp, "case_no": "X",
        "dept_code": "440606SCJ", "card": "red", "card_due": "2026-11-10"}, hub.data.clock())])
    assert {a["district_code"] for a in escalated(data, CITY)} == {"440606"}
    assert escalated(data, NANHAI) == []
    assert [a["district_code"] for a in escalated(data, SCJ)] == ["440606"]
    all_cards = cards(data, CITY)
    assert {c["district_code"] for c in cards(data, NANHAI)} <= {"440605"}
    assert all(c["dept_suffix"] == "SCJ" for c in cards(data, SCJ))
    assert any(c["alert_id"] == 9001 and c["overdue"] for c in all_cards)
    nanhai_box = SimBox.continuing(store, "440605-01", "440605")
    case = {"case_no": "NH-SB-0001", "item": nanhai_box.items[2]}
    at = data.clock()
    feed(store, nanhai_box, [nanhai_box._event(case, "申请", at, case_type="上报件"),
                             nanhai_box._event(case, "受理", at)])
    hub.dubans.issue(data, CITY, "NH-SB-0001", user="city", requirement="跟踪上报件")
    (forwarded,) = forwarded_cases(data, CITY)
    assert forwarded["case_no"] == "NH-SB-0001" and forwarded["is_open"] == 1
    assert forwarded["city_part"][0]["state"] == "issued"
    assert forwarded_cases(data, NANHAI) == [forwarded]
    assert forwarded_cases(data, Scope.district("440606")) == []
    assert forwarded_cases(data, SCJ) == []  # a 卫健 item


def test_complaints_are_seen_and_handled_only_in_scope(hub):
    desk = hub.complaints
    number = desk.submit(kind="投诉", subject="窗口无人", content="十点无人", district="440606",
                         dept="SCJ", contact_name="张三", contact_phone="13800138000")
    complaint = next(r for r in desk.list(CITY) if r["tracking_no"] == number)
    assert complaint["accept_due"] == "2026-11-27"  # 5 working days after Fri 11-20
    assert all(r["tracking_no"] != number for r in desk.list(NANHAI))
    assert any(r["tracking_no"] == number for r in desk.list(SCJ))
    with pytest.raises(NotFound):
        desk.get(complaint["id"], NANHAI)
    assert desk.get(complaint["id"], SCJ)["actions"] == ()  # not yet forwarded to them
    with pytest.raises(ComplaintError):
        desk.act(complaint["id"], SCJ, "accept", user="scj")
    with pytest.raises(ComplaintError, match="监察范围"):
        desk.act(complaint["id"], Scope.district("440606"), "forward", user="sd",
                 note="转南海", district="440605")
    desk.act(complaint["id"], CITY, "accept", user="city", note="受理")
    done = desk.act(complaint["id"], SCJ, "reply", user="scj", note="已约谈窗口负责人")
    assert done["state"] == "replied"
    public = public_status(hub.data.store, number.lower())
    assert public["reply"] == "已约谈窗口负责人" and "contact_phone" not in public


def test_city_duban_is_numbered_per_year_and_scoped(hub):
    desk, data = hub.dubans, hub.data
    shunde_case = case_of(hub, "440606", "SCJ")
    with pytest.raises(NotFound):  # a district issues only on its own district's cases
        desk.issue(data, NANHAI, shunde_case, user="nh", requirement="x")
    with pytest.raises(DubanError):
        desk.issue(data, SCJ, shunde_case, user="scj", requirement="x")
    first = desk.issue(data, CITY, shunde_case, user="city", requirement="请限期办结")
    second = desk.issue(data, CITY, case_of(hub, "440604"), user="city", requirement="请办结")
    assert first["number"].startswith("佛山电监〔2026〕") and first["due_on"] == "2026-11-27"
    def seq(number: str) -> int:
        return int(re.search(r"〕(\d+)号$", number).group(1))

    assert seq(second["number"]) == seq(first["number"]) + 1
    with pytest.raises(NotFound):
        desk.get(first["id"], NANHAI)
    assert [d["id"] for d in desk.list(SCJ, case_no=shunde_case)] == [first["id"]]
    answered = desk.act(first["id"], SCJ, "answer", user="scj", note="已办结")
    assert answered["state"] == "answered" and answered["actions"] == ("answer",)
    closed = desk.act(first["id"], CITY, "close", user="city", note="核实")
    assert closed["state"] == "closed" and closed["closed_at"]


def test_scores_are_scoped(hub):
    book = Scorebook(hub.data.store)
    run = book.save("2026-10", compute_month(hub.data, hub.scoring, "2026-10"), hub.scoring,
                    hub.scoring_text, user="t")
    city = book.scores(run, CITY)
    assert {r["unit_kind"] for r in city} == {"dept", "district"}
    assert {r["district_code"] for r in book.scores(run, NANHAI)} == {"440605"}
    scj = book.scores(run, SCJ)
    assert {r["unit_kind"] for r in scj} == {"dept"} and {r["dept_suffix"] for r in scj} == {"SCJ"}
    assert len(scj) == len(DISTRICTS)  # the city level and the five districts


def test_projections_are_idempotent_refold_out_of_order_and_refuse_other_districts(tmp_path):
    from tests.hubkit import open_dashboard, write_hub_folder

    write_hub_folder(tmp_path)
    board = open_dashboard(tmp_path)
    store = board.data.store
    box = SimBox("440605-01", "440605")
    records = list(box.history(START_DAY, 10, 3))
    # Apply the second half first (live records ahead of a resent backlog), then the first.
    half = len(records) // 2
    feed(store, box, records[half:])
    feed(store, box, records[:half])
    snapshot = store.query("select case_no, stage, light, outcome, facts from hub_cases"
                           " order by case_no")
    daily = store.query("select * from hub_case_daily order by 1, 2, 3, 4")
    assert snapshot and not store.query("select * from hub_projection_errors")
    rebuild(store)
    assert store.query("select case_no, stage, light, outcome, facts from hub_cases"
                       " order by case_no") == snapshot
    assert store.query("select * from hub_case_daily order by 1, 2, 3, 4") == daily
    # A 南海 box reporting a 顺德 case: the record is kept, the view refuses it.
    liar = SimBox("440605-01", "440606", seq=box.seq, head=box.head)
    record = next(r for r in liar.case(START_DAY, START_DAY) if r[0]["kind"] == "case_event")
    feed(store, box, [record])
    errors = store.query("select kind, error from hub_projection_errors")
    assert errors and errors[0]["kind"] == "case_event" and "440606" in errors[0]["error"]
    assert store.query("select count(*) as n from hub_cases where district_code = '440606'"
                       )[0]["n"] == 0
    assert json.loads(store.query("select body from records where box_id = '440605-01'"
                                  " order by seq desc limit 1")[0]["body"])["seq"] == record[0][
        "seq"]

