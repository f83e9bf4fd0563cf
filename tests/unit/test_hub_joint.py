"""Joint cases (联办件) at the hub, on both engines: the projections keep each participating
department's share; a co-department sees the joint cases it takes part in (and no others); the
city's 督办 can go to any participating department; the shares' clocks move with the lights.

The case: 南海 accepts 企业投资项目核准 (lead 发展和改革局 FGJ, 20 working days: due 11-30) on
Monday 2026-11-02 and sends it to 交通运输局 (JTJ, 10 days from 11-04: due 11-18) and
住房和城乡建设局 (ZJJ, 15 days from 受理: due 11-23), which answers on 11-16.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.dubans import DubanError
from hub.projections import rebuild
from hub.projections.lights import refresh_lights
from hub.scoring import ScoringConfig, score_lines
from hub.scoring_inputs import month_counts
from hub.services import NotFound, Scope
from hub.services.cases import CaseFilter, case_detail, case_page, find_case, iter_cases
from standard.records import LOCAL_TZ
from tests.hubkit import CASE, JOINT, Clock, joint_case, open_dashboard, write_hub_folder

EVERYTHING = CaseFilter(state="all")


@pytest.fixture
def hub(tmp_path, hub_database):
    from tests.conftest import hub_database_toml

    database = hub_database_toml(hub_database).get("database", {}).get("url")
    folder = tmp_path / "hub"
    write_hub_folder(folder, database)
    clock = Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ))
    dashboard = open_dashboard(folder, clock)
    box = SimBox("440605-01", "440605")
    feed(dashboard.data.store, box, joint_case(box))
    other = {"case_no": "NH-PLAIN-1", "item": {"item_code": "440605-WJJ-003",
                                               "dept_code": "440605WJJ"}}
    day = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)
    feed(dashboard.data.store, box, [box._event(other, "受理", day)])
    yield dashboard
    dashboard.data.store.close()


def test_a_co_department_sees_the_joint_cases_it_takes_part_in(hub):
    data = hub.data
    jtj, wjj = Scope.department("JTJ"), Scope.department("WJJ")
    assert [row["case_no"] for row in case_page(data, jtj, EVERYTHING).rows] == [CASE]
    assert [row["case_no"] for row in iter_cases(data, jtj, EVERYTHING)] == [CASE]
    assert [row["case_no"] for row in case_page(data, wjj, EVERYTHING).rows] == ["NH-PLAIN-1"]
    with pytest.raises(NotFound):
        find_case(data, wjj, CASE)
    nanhai_jtj = Scope.for_user("department", "440605JTJ")   # one district's 交通运输局
    assert [row["case_no"] for row in case_page(data, nanhai_jtj, EVERYTHING).rows] == [CASE]
    assert find_case(data, nanhai_jtj, CASE)
    assert case_page(data, Scope.for_user("department", "440606JTJ"), EVERYTHING).rows == []
    city = case_page(data, Scope.city(), CaseFilter(dept="JTJ", state="all"))
    assert [row["case_no"] for row in city.rows] == [CASE]   # the filter follows the shares too
    detail = case_detail(data, jtj, CASE)
    assert detail.case["dept_code"] == "440605FGJ" and detail.case["light"] == "green"
    assert detail.case["reasons"] == []      # the shares' parallel 承办 is no 程序异常
    shares = {share["dept_code"]: share for share in detail.shares}
    assert (shares["440605JTJ"]["deadline"], shares["440605JTJ"]["remaining"],
            shares["440605JTJ"]["state"], shares["440605JTJ"]["light"]) == (
        "2026-11-18", -2, "late", "red")
    assert (shares["440605ZJJ"]["back_on"], shares["440605ZJJ"]["state"]) == ("2026-11-16", "done")


def test_city_duban_can_go_to_a_participating_department(hub):
    data, city = hub.data, Scope.city()
    notice = hub.dubans.issue(data, city, CASE, user="市局", requirement="请说明逾期未反馈原因",
                              dept_code="440605JTJ")
    assert (notice["dept_code"], notice["dept_suffix"]) == ("440605JTJ", "JTJ")
    assert [d["number"] for d in hub.dubans.list(Scope.department("JTJ"))] == [notice["number"]]
    assert hub.dubans.list(Scope.department("FGJ")) == []
    lead = hub.dubans.issue(data, city, CASE, user="市局", requirement="请按期办结")
    assert lead["dept_code"] == "440605FGJ"
    with pytest.raises(DubanError, match="不是办件 NH-JOINT-1 的牵头部门或协办部门"):
        hub.dubans.issue(data, city, CASE, user="市局", requirement="x", dept_code="440605WJJ")


def test_the_shares_clocks_move_with_the_lights_and_survive_a_rebuild(hub):
    store, ctx = hub.data.store, hub.context
    ctx.clock.at = dt.datetime(2026, 11, 23, 10, 0, tzinfo=LOCAL_TZ)   # the hub's Clock
    refresh_lights(store, ctx)
    (late,) = store.query("select remaining from hub_case_shares where dept_code = '440605JTJ'")
    assert late["remaining"] == -3
    rebuild(store)
    rows = store.query("select dept_code, state from hub_case_shares order by dept_code")
    assert [(r["dept_code"], r["state"]) for r in rows] == [("440605JTJ", "late"),
                                                           ("440605ZJJ", "done")]


def test_the_pages_show_the_shares_and_the_city_targets_the_late_department(hub):
    from tests.hubkit import sign_in
    from web.hub import create_app

    users = hub.users.setup()
    users.add("jtj", "department", "JTJ", password="jtj-password-1")
    users.add("chief", "city", None, is_admin=True, password="chief-password-1")
    app = create_app(hub, {"TESTING": True}, announce=lambda *first: None)
    jtj = sign_in(app, "jtj", "jtj-password-1")
    assert CASE in jtj.client.get("/cases?state=all").get_data(as_text=True)
    page = jtj.client.get(f"/cases/{CASE}").get_data(as_text=True)
    shares = page[page.index('id="joint-departments"'):]
    assert "牵头部门" in page and "交通运输局" in shares and "超时" in shares
    assert "协办部门 交通运输局" in page           # its 承办 in the timeline
    assert 'name="dept_code"' not in page          # only the city issues 督办
    chief = sign_in(app, "chief", "chief-password-1")
    page = chief.client.get(f"/cases/{CASE}").get_data(as_text=True)
    assert '<option value="440605JTJ" selected>' in page
    answer = chief.client.post(f"/cases/{CASE}/duban", data={
        "requirement": "请说明逾期未反馈原因", "dept_code": "440605JTJ", "csrf_token": chief.csrf})
    assert answer.status_code == 302
    duban = jtj.client.get(answer.headers["Location"])
    assert duban.status_code == 200 and "请说明逾期未反馈原因" in duban.get_data(as_text=True)


def test_each_participating_department_is_scored_on_its_own_share(hub):
    """按时办结率 counts a joint case for each participating department by its own limit: on
    11-20, 交通运输局 is two days past its 11-18 share and 住建局 answered in time; the lead's
    own deadline (11-30) has not come."""
    counts = month_counts(hub.data, ScoringConfig(), "2026-11")
    jtj, zjj, fgj = (counts[("440605", f"440605{dept}")] for dept in ("JTJ", "ZJJ", "FGJ"))
    assert (jtj.cases, jtj.due, jtj.on_time) == (1, 1, 0)
    assert (zjj.cases, zjj.due, zjj.on_time) == (1, 1, 1)
    assert (zjj.finished, zjj.early, zjj.late) == (1, 1, 0)  # 反馈 on 11-16, due 11-23
    assert (jtj.finished, jtj.late) == (0, 0)                # no 反馈 yet
    assert (fgj.cases, fgj.due, fgj.on_time) == (1, 0, 0)
    line = {line.key: line for line in score_lines(ScoringConfig(), jtj)}["on_time"]
    assert line.inputs == "按时办结 0 / 本月到期 1 件" and line.rate_text == "0.0%"
