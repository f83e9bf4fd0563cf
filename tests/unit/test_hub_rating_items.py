"""The department page's satisfaction per item comes from ``hub_rating_item_daily``
(hub/projections/ratingitems.py), kept on write, and shows what joining the month's ratings to
their cases showed, on both engines: for ratings sent before their case, ratings revised
(level, validity, another case), ratings of no case, and after migration 18 fills the table
from a database that had none.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.services import Scope
from hub.services.departments import department_view
from hub.storage.migrations import migrate
from standard.records import LOCAL_TZ
from tests.hubkit import dashboard_on

NOW = dt.datetime(2026, 11, 20, 10, tzinfo=LOCAL_TZ)
MONTHS = ("2026-10", "2026-11")
# The page's former query: each rating joined to its case for the case's item.
JOINED = (
    "select c.item_code, r.district_code, sum(r.effective) as counted,"
    " sum(case when r.effective = 1 and r.level >= 4 then 1 else 0 end) as satisfied"
    " from hub_ratings r"
    " join hub_cases c on c.district_code = r.district_code and c.case_no = r.case_no"
    " where r.rated_on between ? and ? and r.dept_suffix = ?"
    " group by c.item_code, r.district_code")


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00").replace(tzinfo=LOCAL_TZ)


def _rating(box: SimBox, rating_id: int, case_no: str | None, level: int, day: str,
            dept: str = "440605SCJ", **more) -> tuple:
    stamp = _at(day, 15).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    return box.record("rating", {"id": rating_id, "channel": "评价器", "level": level,
                                 "case_no": case_no, "window_no": 2, "dept_code": dept,
                                 "counted": True, "rated_at": stamp, **more}, _at(day, 15))


@pytest.fixture
def hub(tmp_path, hub_database):
    dashboard = dashboard_on(tmp_path / "hub", hub_database, NOW)
    store = dashboard.data.store
    box = SimBox("440605-01", "440605")
    feed(store, box, box.history(dt.date(2026, 10, 8), 40, 3, today=NOW.date()), batch=97)
    early = {"case_no": "NH-LATE-CASE", "item": box.items[0]}
    other = {"case_no": "NH-OTHER", "item": box.items[1]}
    feed(store, box, [
        _rating(box, 80_001, "NH-LATE-CASE", 5, "10-20"),        # before its case
        _rating(box, 80_002, "NH-LATE-CASE", 2, "10-21"),
        _rating(box, 80_003, None, 5, "10-21"),                  # a window's, no case
        _rating(box, 80_004, "NH-NOWHERE", 4, "10-22"),          # its case never comes
        box._event(early, "受理", _at("10-19")),
        _rating(box, 80_002, "NH-LATE-CASE", 1, "10-21", invalid_reason="误评"),
        box._event(other, "受理", _at("10-19")),
        _rating(box, 80_005, "NH-OTHER", 5, "10-23"),
        _rating(box, 80_005, "NH-LATE-CASE", 4, "10-23"),        # moved to another case
        _rating(box, 80_006, "NH-OTHER", 3, "11-02", dept="440605JTJ"),
        _rating(box, 80_006, "NH-OTHER", 5, "11-02"),            # moved to another department
    ], batch=3)
    yield dashboard
    store.close()


def _page(data, suffix: str, month: str) -> dict[tuple[str, str], tuple[int, float | None]]:
    view = department_view(data, Scope.city(), suffix, month)
    return {(item["key"], code): (cell["counted"], cell["satisfaction"])
            for item in view.items for code, cell in item["districts"].items()}


def _joined(data, suffix: str, month: str) -> dict[tuple[str, str], tuple[int, float | None]]:
    first, last = f"{month}-01", f"{month}-31"
    return {(row["item_code"].split("-", 1)[1], row["district_code"]):
            (row["counted"], row["satisfied"] / row["counted"] if row["counted"] else None)
            for row in data.query(JOINED, (first, last, suffix))}


def _rated_cells(page: dict) -> dict:
    return {key: value for key, value in page.items() if value[0]}


def test_satisfaction_per_item_is_what_the_join_of_ratings_to_cases_gives(hub):
    data = hub.data
    for suffix in ("SCJ", "JTJ"):
        for month in MONTHS:
            assert _rated_cells(_page(data, suffix, month)) == {
                key: value for key, value in _joined(data, suffix, month).items() if value[0]}
    late = data.query("select item_code, level, effective from hub_ratings where"
                      " case_no = 'NH-LATE-CASE' order by rating_id")
    assert [row["item_code"] for row in late] == [data.query(
        "select item_code from hub_cases where case_no = 'NH-LATE-CASE'")[0]["item_code"]] * 3
    assert data.query("select item_code from hub_ratings where rating_id in (80003, 80004)"
                      " order by rating_id") == [{"item_code": None}, {"item_code": None}]


def test_migration_18_fills_the_items_and_the_aggregate_from_stored_ratings(hub):
    store = hub.data.store
    before = {suffix: _page(hub.data, suffix, "2026-10") for suffix in ("SCJ", "JTJ")}
    aggregate = store.query("select * from hub_rating_item_daily order by 1, 2, 3, 4")
    with store.transaction() as conn:   # a database as migration 17 left it
        conn.execute("drop table hub_rating_item_daily")
        conn.execute("drop index hub_ratings_unplaced")
        conn.execute("update hub_ratings set item_code = null")
        conn.execute("delete from schema_migrations where version = 18")
    assert migrate(store.engine) == [18]
    assert [row for row in store.query("select * from hub_rating_item_daily order by 1, 2, 3, 4")
            if row["total"]] == [row for row in aggregate if row["total"]]
    assert {suffix: _page(hub.data, suffix, "2026-10") for suffix in before} == before
