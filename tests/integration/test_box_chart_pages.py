"""统计图表 through the Flask test client, on a real box with a real store.

Cases arrive through the platform API and ratings through the evaluations API, as in a hall.
The box's clock is fixed at Tuesday 2026-12-01 10:00, so "the last 30 days" are 11-02 to 12-01.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter

import pytest

from edge.app import build_box
from edge.cases import CaseFilter
from edge.config import load_box_config
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from tests.integration.test_box_pages import PASSWORDS, signed_in
from web.box import create_app

AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
FIRM, FOOD, MARRIAGE = "440605-SCJ-001", "440605-SCJ-002", "440605-MZJ-006"  # 3, 10, 0 days
NUMBERS = itertools.count(1)

# case, item, 受理 day, 办结 day or None, what the daily chart counts it as
CASES = [
    ("CH-TODAY-1", FOOD, "2026-12-01", None, "green"),
    ("CH-TODAY-2", FOOD, "2026-12-01", None, "green"),
    ("CH-TODAY-3", FOOD, "2026-12-01", None, "green"),
    ("CH-MZJ-1", MARRIAGE, "2026-12-01", None, "yellow"),  # 即办件: due today
    ("CH-RED-1", FIRM, "2026-11-02", None, "red"),
    ("CH-OLD-1", FIRM, "2026-10-30", None, "red"),  # only in the 90 days
    ("CH-EARLY-1", FIRM, "2026-11-23", "2026-11-24", "early"),  # due 11-26
    ("CH-ONTIME-1", FIRM, "2026-11-23", "2026-11-26", "on_time"),
    ("CH-LATE-1", FIRM, "2026-11-16", "2026-11-27", "late"),  # due 11-19
]
# case, level, rated at: this month's counted ratings are SCJ 3 of 4 satisfied, MZJ 1 of 1
RATINGS = [("CH-TODAY-1", 5, "2026-12-01T09:30"), ("CH-TODAY-2", 4, "2026-12-01T09:31"),
           ("CH-TODAY-3", 2, "2026-12-01T09:32"), ("CH-EARLY-1", 5, "2026-12-01T09:33"),
           ("CH-TODAY-1", 1, "2026-12-01T09:40"),  # a repeat: not counted
           ("CH-MZJ-1", 5, "2026-12-01T09:35"),
           ("CH-LATE-1", 1, "2026-11-28T10:00")]  # last month


def event(case_no: str, item: str, kind: str, day: str, hour: int = 9) -> dict:
    return {"event_id": f"{case_no}-{next(NUMBERS)}", "case_no": case_no, "item_code": item,
            "dept_code": "440605" + item.split("-")[1], "district_code": "440605",
            "event_type": kind, "occurred_at": f"{day}T{hour:02d}:00:00+08:00",
            "actor": {"id": "S001", "name": "李敏"}, "window_no": 1}


def case_events() -> list[dict]:
    events = [event("CH-APPLY-1", FOOD, "申请", "2026-12-01")]  # not accepted: not counted
    for case_no, item, accepted, finished, _ in CASES:
        events.append(event(case_no, item, "受理", accepted))
        if finished:
            events.append(event(case_no, item, "办结", finished, hour=15))
    return events


def evaluations() -> list[dict]:
    return [{"version": 1, "evaluation_id": f"QR-CH-{n}", "channel": "二维码", "case_no": case,
             "level": level, "rated_at": f"{at}:00+08:00"}
            for n, (case, level, at) in enumerate(RATINGS)]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A started box with the cases and ratings posted, and its app with a user per role."""
    config = load_box_config(write_box_folder(tmp_path_factory.mktemp("box")))
    box = build_box(config, clock=lambda: AT).start()
    box.hall.refresh_seconds = 0  # pages see every ingest at once
    app = create_app(box)
    for role, password in PASSWORDS.items():
        app.extensions["users"].add(role, f"{role}-用户", role, password=password)
    client, headers = app.test_client(), {"Authorization": f"Bearer {box.platform_token}"}
    for path, body in (("/api/v1/platform/events", case_events()),
                       ("/api/v1/evaluations", evaluations())):
        answer = client.post(path, data=json.dumps(body, ensure_ascii=False).encode(),
                             headers=headers)
        assert answer.status_code == 200 and not answer.get_json()["rejected"], answer.get_json()
    yield app
    box.stop()


@pytest.fixture(scope="module")
def box(app):
    return app.extensions["box"]


@pytest.fixture(scope="module")
def manager(app):
    return signed_in(app, "manager")


def section(page: str, key: str) -> str:
    found = re.search(rf'<section class="card chart-card" id="{key}">(.*?)</section>', page,
                      re.S)
    assert found, f"no section {key}"
    return found[1]


def table(page: str, key: str) -> dict[str, dict[str, str]]:
    """The section's data table: row key → {column heading: cell text}."""
    part = section(page, key)
    head = re.findall(r"<th>(.*?)</th>", part)
    return {row_key: dict(zip(head, re.findall(r"<td[^>]*>(.*?)</td>", cells)))
            for row_key, cells in re.findall(r'<tr data-key="([^"]+)">(.*?)</tr>', part, re.S)}


def expected_days(days: int) -> dict[str, Counter]:
    """What the daily chart should count, from the posted cases themselves."""
    first = (AT - dt.timedelta(days=days - 1)).date().isoformat()
    expected: dict[str, Counter] = {}
    for _, _, accepted, finished, state in CASES:
        if accepted >= first:
            expected.setdefault(accepted, Counter())[state] += 1
        if finished and finished >= first:
            expected.setdefault(finished, Counter())["finished"] += 1
    return expected


COLUMNS = {"red": "红灯", "unknown": "无法判断", "yellow": "黄灯", "green": "绿灯",
           "early": "提前办结", "on_time": "按时办结", "late": "超期办结", "other": "其他办结",
           "finished": "当日办结"}


@pytest.mark.parametrize("days", [7, 30, 90])
def test_daily_chart_counts_the_cases_of_each_day_by_light(manager, days):
    answer = manager.get(f"/charts?days={days}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    rows = table(page, "daily")
    assert len(rows) == days and min(rows) == (AT - dt.timedelta(days=days - 1)).date().isoformat()
    expected = expected_days(days)
    for day, row in rows.items():
        counts = expected.get(day, Counter())
        assert {key: int(row[name]) for key, name in COLUMNS.items()} == \
            {key: counts[key] for key in COLUMNS}, day
        assert int(row["受理"]) == sum(counts.values()) - counts["finished"], day
    assert section(page, "daily").count('class="chart-column"') == days
    assert 'aria-current="page">近%d天' % days in page


def test_the_hall_board_series_follows_the_snapshot(box, app):
    series = box.hall.daily_cases(30)
    assert [d.day for d in series][-1] == AT.date() and len(series) == 30
    today = series[-1]
    assert today.received == Counter(green=3, yellow=1) and today.finished == 0
    assert {d.day.isoformat(): d.finished for d in series if d.finished} == {
        "2026-11-24": 1, "2026-11-26": 1, "2026-11-27": 1}


def test_satisfaction_per_department_counts_this_months_ratings(manager):
    page = manager.get("/charts").get_data(as_text=True)
    rows = table(page, "satisfaction")
    assert rows["440605SCJ"] == {"部门": "市场监督管理局", "满意率": "75.0%", "计入评价": "4",
                                 "满意（4–5 分）": "3", "差评（1–2 分）": "1"}
    assert rows["440605MZJ"]["满意率"] == "100.0%" and rows["440605MZJ"]["计入评价"] == "1"
    assert list(rows) == ["440605SCJ", "440605MZJ"]  # lowest first; November's not counted
    chart = section(page, "satisfaction")
    assert "75.0%（计入 4 条）" in chart and chart.count('class="chart-share"') == 2


def test_satisfaction_needs_the_ratings_service(manager, box):
    saved, box.evaluations = box.evaluations, None
    try:
        page = manager.get("/charts").get_data(as_text=True)
    finally:
        box.evaluations = saved
    assert "未接入（本机未启用好差评服务）" in section(page, "satisfaction")


def test_absence_needs_cameras(manager):
    part = section(manager.get("/charts").get_data(as_text=True), "absence")
    assert "未接入（本机未配置摄像头）" in part and "<svg" not in part


def test_absence_minutes_per_window_and_day(manager, box):
    class Presence:
        def absence_minutes(self, day: dt.date) -> dict[int, float]:
            return {AT.date(): {1: 12.4, 2: 0.0},
                    AT.date() - dt.timedelta(days=1): {1: 30.0}}.get(day, {})

    saved, box.presence = box.presence, Presence()
    try:
        page = manager.get("/charts").get_data(as_text=True)
    finally:
        box.presence = saved
    rows = table(page, "absence")
    assert rows["1"]["11-30"] == "30" and rows["1"]["12-01"] == "12" and rows["1"]["合计"] == "42"
    assert rows["2"]["12-01"] == "0" and rows["2"]["11-30"] == "—" and rows["2"]["合计"] == "0"
    assert section(page, "absence").count('class="chart-cell"') == 2 * 7


def test_a_failing_section_says_so_and_the_page_still_answers(manager, box):
    class Presence:
        def absence_minutes(self, day: dt.date) -> dict[int, float]:
            raise OSError("database is locked")

    saved, box.presence = box.presence, Presence()
    try:
        answer = manager.get("/charts")
    finally:
        box.presence = saved
    assert answer.status_code == 200
    assert "读取数据失败" in section(answer.get_data(as_text=True), "absence")


@pytest.mark.parametrize("days", ["8", "abc", "", "-7", "30.0"])
def test_other_periods_are_refused_in_chinese(manager, days):
    answer = manager.get(f"/charts?days={days}")
    assert answer.status_code == 400
    assert "统计天数 days 只能是 7、30 或 90" in answer.get_data(as_text=True)


def test_readers_only(app):
    anonymous = app.test_client().get("/charts")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert signed_in(app, "technician").get("/charts").status_code == 403


def test_an_empty_box_shows_no_data(tmp_path):
    box = build_box(load_box_config(write_box_folder(tmp_path)), clock=lambda: AT).start()
    try:
        app = create_app(box)
        app.extensions["users"].add("manager", "大厅管理员", "manager",
                                    password=PASSWORDS["manager"])
        page = signed_in(app, "manager").get("/charts?days=7").get_data(as_text=True)
    finally:
        box.stop()
    for key in ("daily", "satisfaction"):
        assert "暂无数据" in section(page, key) and "<svg" not in section(page, key)


@pytest.fixture
def store_box(tmp_path):
    """A box with its store open (no services): (box, send(events) through ingest)."""
    from edge.ingest import ingest_texts

    box = build_box(load_box_config(write_box_folder(tmp_path)), clock=lambda: AT)
    box.store.open()

    def send(events: list[dict]) -> None:
        ingest_texts(box.store, [(n, json.dumps(e, ensure_ascii=False))
                                 for n, e in enumerate(events)], source="test")
    yield box, send
    box.store.close()


def test_the_daily_series_follows_new_events(store_box):
    """A case finished today moves from its light to its outcome in the next snapshot, and the
    incrementally updated counts agree with a full evaluation."""
    from edge.board import HallBoard

    box, send = store_box
    hall = HallBoard(box.board, clock=lambda: AT, refresh_seconds=0)
    send(case_events())
    assert hall.daily_cases(1)[0].received == Counter(green=3, yellow=1)
    send([event("CH-TODAY-3", FOOD, "办结", "2026-12-01", hour=9)])
    today = hall.daily_cases(1)[0]
    assert today.received == Counter(green=2, yellow=1, early=1) and today.finished == 1
    rebuilt = HallBoard(box.board, clock=lambda: AT)  # every case evaluated afresh
    assert hall.daily_cases(90) == rebuilt.daily_cases(90)


def test_the_board_keeps_open_and_recently_finished_cases_not_the_whole_history(store_box):
    """Issue 15: a 500,000-case box used 1.3 GB; the board now holds the open cases and those
    finished within RECENT_DAYS, which is all that its lists and charts show."""
    from edge.board import HallBoard
    from edge.boardsnapshot import RECENT_DAYS
    from edge.storehealth import store_health

    box, send = store_box
    old = (AT.date() - dt.timedelta(days=RECENT_DAYS + 30)).isoformat()
    older = (AT.date() - dt.timedelta(days=RECENT_DAYS + 40)).isoformat()
    send([event("OLD-1", FOOD, "受理", older), event("OLD-1", FOOD, "办结", old),
          event("RECENT-1", FOOD, "受理", "2026-11-02"),
          event("RECENT-1", FOOD, "办结", "2026-11-10"),
          event("OPEN-1", FOOD, "受理", "2025-12-01")])  # open for a year: on the board
    hall = HallBoard(box.board, clock=lambda: AT, refresh_seconds=0)
    assert set(hall.snapshot().cases) == {"RECENT-1", "OPEN-1"}
    send([event("OLD-1", FOOD, "收费", old, hour=16)])  # a late event for the old case
    assert set(hall.snapshot().cases) == {"RECENT-1", "OPEN-1"}
    assert hall.detail("OLD-1").row.case_no == "OLD-1"  # its page is still there
    assert store_health(box.store).cases == 3
    finished = hall.matching(CaseFilter(include_finished=True))
    assert [c.row.case_no for c in finished if not c.is_open] == ["RECENT-1"]
