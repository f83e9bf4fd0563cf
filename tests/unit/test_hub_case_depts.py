"""A department's case list walks ``hub_case_depts`` (hub/projections/casedepts.py), on both
engines: it shows exactly the cases the department leads or takes part in (联办件), within the
user's district, in the list's order; migration 12 fills the table from the cases and shares
already stored.

The cases: in 南海 (440605), a joint case led by 发展和改革局 (FGJ) sent to 交通运输局 (JTJ)
and 住建局 (ZJJ), a JTJ case still open, a JTJ case concluded, a 市场监管局 (SCJ) case; in 顺德
(440606), a JTJ case and a joint case of the same item (its catalogue names JTJ and ZJJ).
"""

from __future__ import annotations

import datetime as dt

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.services import Scope
from hub.projections.lights import refresh_lights
from hub.services.cases import _LIGHT_ORDER, CaseFilter, case_page, iter_cases
from hub.storage.migrations import migrate
from standard.records import LOCAL_TZ
from tests.hubkit import dashboard_on

ALL, OPEN, DONE = CaseFilter(state="all"), CaseFilter(state="open"), CaseFilter(state="finished")


NOW = dt.datetime(2026, 11, 20, 10, tzinfo=LOCAL_TZ)


def _at(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00+08:00")


def _case(box: SimBox, case_no: str, item: str, dept: str, *stages: str,
          joint_to: tuple[str, ...] = ()) -> list[tuple]:
    case = {"case_no": case_no, "item": {"item_code": item, "dept_code": dept}}
    records = [box._event(case, "受理", _at("11-02", 10))]
    for to in joint_to:
        records.append(box._event(case, "分送", _at("11-03"), to_dept_code=to))
    for n, stage in enumerate(stages):
        records.append(box._event(case, stage, _at("11-04", 9 + n)))
    return records


@pytest.fixture
def hub(tmp_path, hub_database):
    dashboard = dashboard_on(tmp_path / "hub", hub_database, NOW)
    store = dashboard.data.store
    nanhai, shunde = SimBox("440605-01", "440605"), SimBox("440606-01", "440606")
    feed(store, nanhai, [
        *_case(nanhai, "NH-JOINT", "440605-FGJ-010", "440605FGJ",
               joint_to=("440605JTJ", "440605ZJJ")),
        *_case(nanhai, "NH-JTJ-OPEN", "440605-JTJ-008", "440605JTJ", "承办"),
        *_case(nanhai, "NH-JTJ-DONE", "440605-JTJ-008", "440605JTJ", "承办", "审核", "批准",
               "办结"),
        *_case(nanhai, "NH-SCJ", "440605-SCJ-001", "440605SCJ", "承办")])
    feed(store, shunde, [
        *_case(shunde, "SD-JTJ", "440606-JTJ-008", "440606JTJ"),
        *_case(shunde, "SD-JOINT", "440606-FGJ-010", "440606FGJ", joint_to=("440606ZJJ",))])
    shares = store.query("select case_no, dept_suffix from hub_case_shares")
    assert sorted((row["case_no"], row["dept_suffix"]) for row in shares) == [
        ("NH-JOINT", "JTJ"), ("NH-JOINT", "ZJJ"), ("SD-JOINT", "JTJ"), ("SD-JOINT", "ZJJ")]
    yield dashboard
    store.close()


def _listed(data, scope: Scope, where: CaseFilter) -> list[str]:
    page = case_page(data, scope, where)
    numbers = [row["case_no"] for row in page.rows]
    assert page.total == len(numbers) and not page.more
    assert sorted(row["case_no"] for row in iter_cases(data, scope, where)) == sorted(numbers)
    return numbers


def test_a_department_lists_what_it_leads_or_takes_part_in_newest_first(hub):
    data, city = hub.data, Scope.city()
    jtj = ["SD-JOINT", "SD-JTJ", "NH-JTJ-DONE", "NH-JTJ-OPEN", "NH-JOINT"]   # newest first
    assert _listed(data, city, CaseFilter(dept="JTJ", state="all")) == jtj
    assert _listed(data, Scope.department("JTJ"), ALL) == jtj
    assert _listed(data, Scope.department("FGJ"), ALL) == ["SD-JOINT", "NH-JOINT"]
    assert _listed(data, Scope.department("ZJJ"), ALL) == ["SD-JOINT", "NH-JOINT"]
    assert _listed(data, city, CaseFilter(dept="SCJ", state="all")) == ["NH-SCJ"]
    assert sorted(_listed(data, Scope.department("JTJ"), OPEN)) == [
        "NH-JOINT", "NH-JTJ-OPEN", "SD-JOINT", "SD-JTJ"]
    assert _listed(data, Scope.department("WJJ"), ALL) == []
    assert _listed(data, Scope.department("JTJ"), DONE) == ["NH-JTJ-DONE"]
    # a filter on the cases' own columns joins them
    assert _listed(data, city, CaseFilter(dept="JTJ", state="all", item="440606-JTJ-008")) == [
        "SD-JTJ"]
    assert sorted(_listed(data, city, CaseFilter(dept="JTJ", state="open", case_no="NH-J"))) \
        == ["NH-JOINT", "NH-JTJ-OPEN"]

def test_district_and_unit_scopes_still_hold(hub):
    data = hub.data
    nanhai_jtj, shunde = Scope.for_user("department", "440605JTJ"), Scope.district("440606")
    assert _listed(data, nanhai_jtj, ALL) == ["NH-JTJ-DONE", "NH-JTJ-OPEN", "NH-JOINT"]
    assert sorted(_listed(data, nanhai_jtj, OPEN)) == ["NH-JOINT", "NH-JTJ-OPEN"]
    assert _listed(data, nanhai_jtj, CaseFilter(item="440605-JTJ-008")) == ["NH-JTJ-OPEN"]
    assert sorted(_listed(data, shunde, CaseFilter(dept="JTJ"))) == ["SD-JOINT", "SD-JTJ"]
    assert _listed(data, nanhai_jtj, CaseFilter(state="all", district="440606")) == []
    assert _listed(data, Scope.for_user("department", "440605SCJ"), ALL) == ["NH-SCJ"]
    assert _listed(data, Scope.for_user("department", "440606ZJJ"), ALL) == ["SD-JOINT"]
    assert _listed(data, shunde, CaseFilter(dept="JTJ", state="all")) == ["SD-JOINT", "SD-JTJ"]
    assert _listed(data, shunde, CaseFilter(dept="ZJJ", state="all")) == ["SD-JOINT"]
    # a department user filtering by another department: the cases both take part in
    assert _listed(data, nanhai_jtj, CaseFilter(dept="FGJ", state="all")) == ["NH-JOINT"]
    assert _listed(data, nanhai_jtj, CaseFilter(dept="SCJ", state="all")) == []
    # a scope of several departments (no single walk): each case once
    assert _listed(data, Scope.department("JTJ", "FGJ"), ALL) == [
        "SD-JOINT", "SD-JTJ", "NH-JTJ-DONE", "NH-JTJ-OPEN", "NH-JOINT"]


def _depts(store) -> list[tuple]:
    return sorted((row["dept_suffix"], row["district_code"], row["case_no"], row["is_open"])
                  for row in store.query(
                      "select d.dept_suffix, d.district_code, c.case_no, d.is_open"
                      " from hub_case_depts d join hub_cases c on c.id = d.case_id"))


def test_the_rows_follow_the_cases_and_migration_12_fills_them_from_stored_data(hub):
    store = hub.data.store
    projected = _depts(store)
    assert ("JTJ", "440605", "NH-JOINT", 1) in projected
    assert ("JTJ", "440605", "NH-JTJ-DONE", 0) in projected      # concluded: no longer open
    assert len(projected) == 6 + 4                               # a lead each, 4 shares
    with store.transaction() as conn:   # a database as migration 11 left it
        conn.execute("drop table hub_case_depts")
        conn.execute("delete from schema_migrations where version = 12")
    assert migrate(store.engine) == [12]
    assert _depts(store) == projected


def _urgency_order(store, dept: str) -> list[str]:
    """The department's open cases as hub_cases' own columns order them (most urgent first)."""
    return [row["case_no"] for row in store.query(
        f"select case_no from hub_cases where is_open = 1 and id in (select case_id from"
        f" hub_case_depts where dept_suffix = ?) order by {_LIGHT_ORDER}, remaining is null,"
        " remaining, case_no, id", (dept,))]


def _ids_plan(data, scope: Scope, where: CaseFilter) -> str:
    """The plan of the page's ids (the inner walk), as the engine describes it."""
    issued = []
    real = data.query
    data.query = lambda sql, params=(): issued.append((sql, list(params))) or real(sql, params)
    try:
        case_page(data, scope, where, page=2, per_page=1)
    finally:
        del data.query
    sql, params = issued[-1]
    inner = sql[sql.index("id in (") + len("id in ("):sql.rindex(") order by")]
    engine = data.store.engine
    if engine.name == "postgresql":
        return " | ".join(row["QUERY PLAN"] for row in data.query(f"explain {inner}", params))
    return " | ".join(row["detail"] for row in data.query(f"explain query plan {inner}", params))


def test_open_lists_walk_the_departments_urgency_index_and_follow_the_lights(hub):
    """Migration 19: a department's open list, however deep, walks hub_case_depts_urgent in
    the order hub_cases' columns give, after the lights refresher moved lights too."""
    data, store = hub.data, hub.data.store
    jtj, nanhai_jtj = Scope.department("JTJ"), Scope.for_user("department", "440605JTJ")
    for moment in (NOW, NOW + dt.timedelta(days=40)):   # 40 days on: overdue, red
        store.projection_context.clock = lambda moment=moment: moment.astimezone(dt.timezone.utc)
        refresh_lights(store, store.projection_context)
        expected = _urgency_order(store, "JTJ")
        assert _listed(data, jtj, OPEN) == expected
        assert _listed(data, Scope.city(), CaseFilter(dept="JTJ")) == expected
        assert _listed(data, nanhai_jtj, OPEN) == [n for n in expected if n.startswith("NH")]
    assert {row["light"] for row in store.query("select light from hub_cases"
                                                " where is_open = 1")} == {"red"}
    for scope, where, index in ((jtj, OPEN, "hub_case_depts_urgent"),
                                (Scope.city(), CaseFilter(dept="JTJ"), "hub_case_depts_urgent"),
                                (nanhai_jtj, OPEN, "hub_case_depts_urgent_unit")):
        plan = _ids_plan(data, scope, where)
        assert index in plan and "Sort" not in plan and "TEMP B-TREE" not in plan, plan
    with store.transaction() as conn:   # a database as migration 18 left it
        conn.execute("update hub_case_depts set list_light = null, list_remaining = null,"
                     " list_case_no = null")
        conn.execute("drop index hub_case_depts_urgent")
        conn.execute("drop index hub_case_depts_urgent_unit")
        conn.execute("delete from schema_migrations where version = 19")
    assert migrate(store.engine) == [19]
    assert _listed(data, jtj, OPEN) == _urgency_order(store, "JTJ")
