"""Daily reconciliation on a real box: the platform's count per item against what the box
stored, by the endpoint and by the 中间库's daily pass; a 数据报送 alert; the hub's record."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.app import build_box
from edge.config import load_box_config
from edge.integration.reconcile import DailyCount, DailyReconciler, latest_reconciliations
from hallwatch.exchange import MAPPING_FILE, Exchange
from hallwatch.sim import Platform
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from web.box import create_app

DAY = dt.date(2026, 11, 3)  # a Tuesday
NOW = dt.datetime(2026, 11, 4, 2, 0, tzinfo=LOCAL_TZ)  # the next night, after 01:30


def day_events(seed: int = 0) -> list[dict]:
    start = dt.datetime.combine(DAY, dt.time(9, 0), LOCAL_TZ)
    return [e for e in Platform("440605", seed=seed).backlog(start, 1, 6)
            if dt.datetime.fromisoformat(e["occurred_at"]).date() == DAY]


@pytest.fixture
def box(tmp_path):
    exchange_url = f"sqlite:///{tmp_path / 'exchange.db'}"
    exchange = Exchange(exchange_url)
    exchange.create()
    exchange.insert(day_events())
    exchange.close()
    config = write_box_folder(tmp_path, "440605", sources=[{
        "name": "zjk", "kind": "database", "url": exchange_url, "table": "t_bj_hjxx",
        "watermark": "xh", "interval_seconds": 3600, "mapping_file": str(MAPPING_FILE),
        "reconcile": {"query": "select sxbm, count(*) from t_bj_hjxx where clsj >= :start"
                               " and clsj < :end group by sxbm", "at": "01:30"}}])
    box = build_box(load_box_config(config), clock=lambda: NOW).start()
    yield box
    box.stop()


def post(box, body) -> tuple[int, dict]:
    client = create_app(box).test_client()
    answer = client.post("/api/v1/platform/reconciliation", data=json.dumps(body),
                         headers={"Authorization": f"Bearer {box.platform_token}"})
    return answer.status_code, answer.get_json()


def stored_per_item(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event["item_code"]] = counts.get(event["item_code"], 0) + 1
    return counts


def test_the_platform_posting_other_counts_raises_a_data_alert_naming_items(box):
    worker = box.integration.workers[0]
    assert worker.wait_polls(1, timeout=30)  # the first poll ran at start: the day is stored
    stored = stored_per_item(day_events())
    item, count = sorted(stored.items())[0]
    claimed = {**stored, item: count + 2, "440605-XXX-999": 1}
    status, answer = post(box, {"version": 1, "date": DAY.isoformat(), "counts": [
        {"item_code": code, "count": n} for code, n in claimed.items()]})
    assert status == 200 and answer["matched"] is False
    by_item = {i["item_code"]: i for i in answer["items"]}
    assert by_item[item] == {"item_code": item, "platform": count + 2, "box": count,
                             "difference": -2}
    assert by_item["440605-XXX-999"]["box"] == 0
    (alert,) = box.store.query("select rule, level, state, detail from alerts"
                               " where rule = '数据报送'")
    assert alert["level"] == "red" and alert["state"] == "open"
    assert f"{item} 平台 {count + 2} 条、本机 {count} 条（少 2 条）" in alert["detail"]
    assert "2026-11-03" in alert["detail"]
    # The box's own reconciler thread may have done the 中间库's daily pass too (its source
    # caught up at the first poll): that is a record of its own.
    (relayed,) = [body for body in (json.loads(row["body"])["body"] for row in box.store.query(
        "select body from outbox where kind = 'reconciliation'"))
        if body["origin"] == "平台推送"]
    assert relayed["date"] == "2026-11-03"
    assert {"item_code": item, "platform": count + 2, "box": count} in relayed["items"]
    # The platform finds its mistake and posts again: the counts agree, the alert resolves.
    status, answer = post(box, {"version": 1, "date": DAY.isoformat(), "counts": [
        {"item_code": code, "count": n} for code, n in stored.items()]})
    assert answer["matched"] is True
    assert box.store.query("select state from alerts where rule = '数据报送'")[0]["state"] == \
        "resolved"


def test_a_bad_body_is_refused_naming_the_field(box):
    status, answer = post(box, {"version": 1, "date": "2026-11-31", "counts": [
        {"item_code": "A", "count": -1}]})
    assert status == 422
    fields = {p["field"] for p in answer["problems"]}
    assert {"date", "counts.0.count"} <= fields
    status, answer = post(box, {"date": "2026-11-03", "district_code": "440606", "counts": []})
    assert status == 422 and "440606" in answer["error"]
    client = create_app(box).test_client()
    broken = b'{"version": 1, "date": "2026-11-03", "counts": [{"item_code": "\xff"}]}'
    answer = client.post("/api/v1/platform/reconciliation", data=broken,
                         headers={"Authorization": f"Bearer {box.platform_token}"})
    assert answer.status_code == 422
    kept = box.store.query("select reason, raw, encoding from quarantine"
                           " where source = 'reconciliation-http' order by id")
    assert len(kept) == 3  # every refused body kept, with its reason, as records are
    assert "date" in kept[0]["reason"] and "440606" in kept[1]["reason"]
    assert kept[2]["encoding"] == "base64" and base64.b64decode(kept[2]["raw"]) == broken
    client = create_app(box).test_client()
    assert client.post("/api/v1/platform/reconciliation", data="{}").status_code == 401


def test_the_daily_pass_reads_the_platform_counts_from_the_exchange(box):
    assert box.integration.workers[0].wait_polls(1, timeout=30)
    # The box's own reconciler looks again within 15 s once its source has caught up, so the
    # day may be done before this call: either way it is reconciled once.
    box.integration.reconciler.run_due()
    (result,) = latest_reconciliations(box.store)
    assert len(box.store.query("select id from reconciliations")) == 1
    assert result.day == DAY and result.matched and result.origin == "中间库 zjk"
    assert {i.item_code: i.box for i in result.items} == stored_per_item(day_events())
    assert box.integration.reconciler.run_due() == []  # once a day
    assert not box.store.query("select 1 from alerts where rule = '数据报送'")


def health_page(box) -> str:
    """/health as a signed-in technician sees it."""
    app = create_app(box)
    app.config["TESTING"] = True
    users = app.extensions["users"]
    if users.get("tech") is None:
        users.add("tech", "技术员", "technician", password="technician-pass-1")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    assert client.post("/login", data={"username": "tech", "password": "technician-pass-1",
                                       "csrf_token": csrf}).status_code == 302
    return client.get("/health").get_data(as_text=True)


def test_the_health_page_shows_the_source_its_last_row_and_lag(box):
    worker = box.integration.workers[0]
    assert worker.wait_polls(1, timeout=30)
    health = health_page(box)
    total = len(day_events())
    assert "平台数据源 zjk（中间库）" in health and "exchange.db t_bj_hjxx" in health
    assert f"{total} 行：接收 {total}，重复 0，拒收 0" in health
    assert "最后一行（水位）" in health and f"<dd>{total}</dd>" in health
    assert "数据延迟" in health and "秒" in health


def test_reconciliations_are_shown_on_the_health_page_and_in_edge_status(box):
    assert box.integration.workers[0].wait_polls(1, timeout=30)
    assert "每日对账（数据报送）" in health_page(box)
    stored = stored_per_item(day_events())
    item, count = sorted(stored.items())[0]
    status, _ = post(box, {"version": 1, "date": DAY.isoformat(), "counts": [
        {"item_code": code, "count": n + (3 if code == item else 0)}
        for code, n in stored.items()]})
    assert status == 200
    box.integration.reconciler.run_due()  # the 中间库 agrees (unless its thread did it first)
    assert box.store.query("select matched from reconciliations where origin = '中间库 zjk'")[0][
        "matched"] == 1
    health = health_page(box)
    section = health[health.index("每日对账（数据报送）"):]
    assert "light-red" in section[:200]  # the platform's own count still differs
    assert "2026-11-03 平台推送" in section
    assert f"{item} 平台 {count + 3} 条、本机 {count} 条（少 3 条）" in section
    assert "2026-11-03 中间库 zjk" in section and "一致：" in section
    config = Path(box.config.base_dir) / "box.toml"
    shown = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "status", "--config",
                            str(config), "--json"], capture_output=True, text=True, timeout=60,
                           check=True)
    checks = {c["origin"]: c for c in json.loads(shown.stdout)["reconciliations"]}
    assert checks["平台推送"]["matched"] is False and checks["中间库 zjk"]["matched"] is True
    assert {"item_code": item, "platform": count + 3, "box": count, "difference": -3} in \
        checks["平台推送"]["items"]
    text = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "status", "--config",
                           str(config)], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    assert "reconciliation 2026-11-03 平台推送: 不一致" in text and "少 3 条" in text


def test_a_failing_source_shows_its_errors_on_the_health_page_and_in_edge_status(tmp_path):
    config = write_box_folder(tmp_path, "440605", sources=[{
        "name": "zjk", "kind": "database", "url": f"sqlite:///{tmp_path / 'gone' / 'x.db'}",
        "table": "t_bj_hjxx", "watermark": "xh", "interval_seconds": 0.2,
        "max_backoff_seconds": 1, "alert_after_failures": 2,
        "mapping_file": str(MAPPING_FILE)}])
    box = build_box(load_box_config(config), clock=lambda: NOW).start()
    try:
        assert box.integration.workers[0].wait_polls(2, timeout=30)
        health = health_page(box)
    finally:
        box.stop()
    section = health[health.index("平台数据源 zjk（中间库）"):]
    section = section[:section.index("</section>")]
    assert "异常" in section and "连续失败" in section and "OperationalError" in section
    shown = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "status", "--config",
                            str(config)], capture_output=True, text=True, timeout=60,
                           check=True).stdout
    line = next(line for line in shown.splitlines() if line.startswith("source zjk"))
    assert "failures" in line and "OperationalError" in line
    (feed,) = json.loads(subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "status", "--config", str(config), "--json"],
        capture_output=True, text=True, timeout=60, check=True).stdout)["sources"]
    assert feed["failures"] >= 2 and "OperationalError" in feed["last_error"]


def test_a_day_waiting_for_its_source_is_looked_at_again_soon(box):
    caught_up = [False]
    reconciler = DailyReconciler(box.store, lambda: NOW, {"测试": DailyCount(
        dt.time(1, 30), lambda day: stored_per_item(day_events()), ready=lambda: caught_up[0])})
    assert reconciler.run_due() == [] and reconciler.next_wait() == 15  # not 5 minutes
    caught_up[0] = True
    (result,) = reconciler.run_due()
    assert result.origin == "测试" and reconciler.next_wait() == 300
    assert reconciler.run_due() == [] and reconciler.next_wait() == 300  # done for the day
