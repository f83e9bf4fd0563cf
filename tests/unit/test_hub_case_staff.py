"""办件监察 finds cases by the staff who handled them (``hub_case_staff``,
hub/projections/casestaff.py), on both engines: by staff id (any case) or name, only in the
user's scope; the table is filled from the events and records already stored; the
search is a walk down the table's key. (The portal may not read the table:
tests/integration/test_hub_portal.py.)

The cases: in 南海 (440605) NH-A (SCJ) accepted by S017 李敏 and handled by S018 王芳, NH-B
(JTJ) handled by S018 王芳 only; in 顺德 (440606) SD-A (SCJ) by S017 陈静 (ids are a
district's own: another person).
"""

from __future__ import annotations

import datetime as dt

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.services import Scope
from hub.services.cases import CaseFilter, case_page, iter_cases, staff_matching
from hub.projections.staffbackfill import fill_all
from hub.storage.migrations import migrate
from standard.records import LOCAL_TZ
from tests.hubkit import dashboard_on

LI, WANG, CHEN = ({"id": "S017", "name": "李敏"}, {"id": "S018", "name": "王芳"},
                  {"id": "S017", "name": "陈静"})


NOW = dt.datetime(2026, 11, 20, 10, tzinfo=LOCAL_TZ)


def _case(box: SimBox, case_no: str, item: str, dept: str, *steps: tuple) -> list[tuple]:
    case = {"case_no": case_no, "item": {"item_code": item, "dept_code": dept}}
    return [box._event(case, stage, dt.datetime(2026, 11, 2 + n, 10, tzinfo=LOCAL_TZ),
                       actor=actor) for n, (stage, actor) in enumerate(steps)]


@pytest.fixture
def hub(tmp_path, hub_database):
    dashboard = dashboard_on(tmp_path / "hub", hub_database, NOW)
    store = dashboard.data.store
    nanhai, shunde = SimBox("440605-01", "440605"), SimBox("440606-01", "440606")
    # NH-A in two batches, so that a batch adds a staff member to a case already stored
    feed(store, nanhai, [
        *_case(nanhai, "NH-A", "440605-SCJ-001", "440605SCJ", ("受理", LI)),
        *_case(nanhai, "NH-B", "440605-JTJ-008", "440605JTJ", ("受理", WANG), ("承办", WANG))])
    feed(store, nanhai, [nanhai._event({"case_no": "NH-A", "item": {
        "item_code": "440605-SCJ-001", "dept_code": "440605SCJ"}}, "承办",
        dt.datetime(2026, 11, 5, 10, tzinfo=LOCAL_TZ), actor=WANG)])
    feed(store, shunde, _case(shunde, "SD-A", "440606-SCJ-001", "440606SCJ", ("受理", CHEN)))
    yield dashboard
    store.close()


def _found(data, scope: Scope, text: str) -> list[str]:
    """What the search box lists for ``text`` as a staff search ([] when it names no staff)."""
    staff = staff_matching(data, scope, text)
    if not staff:
        return []
    where = CaseFilter(staff=staff, state="all")
    page = case_page(data, scope, where)
    numbers = sorted(row["case_no"] for row in page.rows)
    assert page.total == len(numbers)
    assert sorted(row["case_no"] for row in iter_cases(data, scope, where)) == numbers
    return numbers


def test_cases_are_found_by_staff_id_or_name_within_the_scope(hub):
    data = hub.data
    nanhai, shunde, city = Scope.district("440605"), Scope.district("440606"), Scope.city()
    assert _found(data, nanhai, "S017") == ["NH-A"]
    assert _found(data, nanhai, "s017") == ["NH-A"]          # an id in any case
    assert _found(data, nanhai, "李敏") == ["NH-A"]
    assert _found(data, nanhai, "王芳") == ["NH-A", "NH-B"]  # NH-A's second batch added her
    assert _found(data, nanhai, "S018") == ["NH-A", "NH-B"]
    assert _found(data, city, "S017") == ["NH-A", "SD-A"]
    # a district never finds another district's cases, nor learns its staff
    assert _found(data, shunde, "李敏") == [] and _found(data, shunde, "王芳") == []
    assert _found(data, shunde, "S017") == ["SD-A"]
    assert _found(data, nanhai, "陈静") == []
    # a department: its own cases only (its list walks hub_case_depts)
    assert _found(data, Scope.department("JTJ"), "王芳") == ["NH-B"]
    assert _found(data, Scope.for_user("department", "440605SCJ"), "王芳") == ["NH-A"]
    assert _found(data, Scope.department("WJJ"), "王芳") == []
    # with the list's other filters
    assert [row["case_no"] for row in case_page(data, nanhai, CaseFilter(
        staff=staff_matching(data, nanhai, "王芳"), state="finished")).rows] == []
    assert [row["case_no"] for row in case_page(data, city, CaseFilter(
        staff=staff_matching(data, city, "S017"), district="440606", state="all")).rows] == [
        "SD-A"]


def _staff(store) -> list[tuple]:
    return sorted((row["who"], row["district_code"], row["case_no"]) for row in store.query(
        "select s.who, s.district_code, c.case_no from hub_case_staff s"
        " join hub_cases c on c.id = s.case_id"))


def test_the_rows_follow_the_events_and_migration_15_fills_them_from_stored_data(hub):
    store = hub.data.store
    projected = _staff(store)
    assert projected == sorted([
        ("s017", "440605", "NH-A"), ("李敏", "440605", "NH-A"), ("s018", "440605", "NH-A"),
        ("王芳", "440605", "NH-A"), ("s018", "440605", "NH-B"), ("王芳", "440605", "NH-B"),
        ("s017", "440606", "SD-A"), ("陈静", "440606", "SD-A")])
    with store.transaction() as conn:   # a database as migration 14 left it
        conn.execute("drop table hub_case_staff")
        conn.execute("delete from schema_migrations where version = 15")
    assert migrate(store.engine) == [15]
    assert _staff(store) == []              # filled online afterwards, not by the migration
    assert fill_all(store.engine)           # (tests/unit/test_hub_case_staff_backfill.py)
    assert _staff(store) == projected


def test_a_staff_search_walks_the_key(hub):
    """The search's rows come from hub_case_staff's key and the cases' ids, never a scan of
    either (on PostgreSQL with scans discouraged: so few rows would be read whole anyway)."""
    store = hub.data.store
    where, params = CaseFilter(staff=("s017", "S017"), state="all").sql()
    sql = f"select id from hub_cases where district_code = ? and {where}"
    with store.transaction() as conn:
        if store.is_postgres:
            conn.execute("set local enable_seqscan = off")
            plan = " | ".join(row[0] for row in conn.execute(f"explain {sql}",
                                                             ["440605", *params]))
            assert "hub_case_staff_pkey" in plan and "Seq Scan" not in plan, plan
        else:
            plan = " | ".join(row[3] for row in conn.execute(f"explain query plan {sql}",
                                                             ["440605", *params]))
            assert "hub_case_staff USING PRIMARY KEY" in plan or \
                "hub_case_staff USING COVERING INDEX" in plan, plan
            assert "SCAN hub_case_staff" not in plan and "SCAN hub_cases" not in plan, plan
