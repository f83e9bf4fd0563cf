"""The boxes' daily reconciliations at the hub (SQLite and PostgreSQL): projected per district,
day and item, and counted in the department's 数据报送完整率."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.scoring import compute_month
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=LOCAL_TZ)


def _records(box: SimBox):
    item = box.items[0]  # 440605-SCJ-001
    for case_no in ("C1", "C2"):
        case = {"case_no": case_no, "item": item}
        for n, stage in enumerate(("申请", "受理", "承办", "审核", "批准", "办结")):
            yield box._event(case, stage, _at("2026-10-13", 9 + n))
    body = {"version": 1, "date": "2026-10-13", "origin": "中间库 zjk", "matched": False,
            "items": [{"item_code": item["item_code"], "platform": 15, "box": 12},
                      {"item_code": "440605-XXX-999", "platform": 3, "box": 3}]}
    yield box.record("reconciliation", body, _at("2026-10-14", 2))
    # The platform's count for the day, corrected the next night: the later record counts.
    body = {**body, "items": [{"item_code": item["item_code"], "platform": 14, "box": 12}]}
    yield box.record("reconciliation", body, _at("2026-10-15", 2))
    yield box.record("reconciliation", {**body, "date": "2026-10-14", "items": [
        {"item_code": item["item_code"], "platform": 6, "box": 6}]}, _at("2026-10-15", 2))


@pytest.fixture
def dashboard(tmp_path, hub_database):
    write_hub_folder(tmp_path, None if isinstance(hub_database, Path) else hub_database)
    board = open_dashboard(tmp_path, Clock(_at("2026-11-03")))
    box = SimBox("440605-01", "440605")
    feed(board.data.store, box, _records(box))
    board.data.store.touch_box(box.box_id, "440605", backlog=0)
    return board


def test_reconciliations_count_in_the_data_reporting_rate(dashboard):
    rows = dashboard.data.query("select day, item_code, dept_code, platform, box"
                                " from hub_reconciliations order by day, item_code")
    assert [(r["day"], r["item_code"], r["dept_code"], r["platform"], r["box"]) for r in rows] \
        == [("2026-10-13", "440605-SCJ-001", "440605SCJ", 14, 12),
            ("2026-10-13", "440605-XXX-999", "", 3, 3),
            ("2026-10-14", "440605-SCJ-001", "440605SCJ", 6, 6)]
    unit = next(u for u in compute_month(dashboard.data, dashboard.scoring, "2026-10")
                if u.dept_code == "440605SCJ")
    assert (unit.inputs["platform_records"], unit.inputs["missing_records"]) == (20, 2)
    reporting = next(line for line in unit.lines if line.key == "reporting")
    assert reporting.inputs == ("环节完整 2 / 办结 2 件；平台对账 20 条，本机缺 2 条"
                                "（报送 90.0%）")
    assert reporting.rate == pytest.approx(90.0)
