"""A real box (build_box, mock pins) behind a real waitress server on 127.0.0.1, in a thread."""

from __future__ import annotations

import datetime as dt
import json
import queue
import sqlite3
import urllib.error
import urllib.request

import pytest

from edge.app import build_box
from edge.config import load_box_config
from standard.configfile import ConfigError
from tests.boxes import REPO, keyed_box_in_process, write_box_folder

WAIT = 10


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with keyed_box_in_process(tmp_path_factory.mktemp("box")) as (box, url):
        recorded: queue.Queue = queue.Queue()
        box.evaluations.keys.listeners.append(lambda press, outcome: recorded.put(outcome))
        yield box, url, recorded


def post(url: str, path: str, body: bytes, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def evaluation(n: int, case_no: str, level: int, **extra) -> dict:
    return {"version": 1, "evaluation_id": f"QR-{n}", "channel": "二维码", "case_no": case_no,
            "level": level, "rated_at": "2026-11-06T10:00:00+08:00", **extra}


def query(box, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(box.config.db_path) as db:
        return db.execute(sql, params).fetchall()


def test_served_case_arms_the_window_and_a_key_press_is_linked(served):
    box, url, recorded = served
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    event = {"event_id": "API-1", "case_no": "NH-API-1", "item_code": "440605-SCJ-001",
             "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
             "occurred_at": now.isoformat(), "actor": {"id": "S003", "name": "黄芳"},
             "window_no": 2}
    status, _ = post(url, "/api/v1/platform/events", json.dumps([event]).encode(),
                     box.platform_token)
    assert status == 200
    keys = box.evaluations.keys
    assert keys.flush(WAIT)
    factory = keys.factories["main"]
    assert factory.pin(21).state  # please-rate LED of window 2
    factory.pin(2).drive_low()  # window 2, key 5
    factory.pin(2).drive_high()
    outcome = recorded.get(timeout=WAIT)
    assert (outcome.window_no, outcome.level, outcome.case_no, outcome.staff_id) == \
        (2, 5, "NH-API-1", "S003")
    assert keys.flush(WAIT) and not factory.pin(21).state and factory.pin(20).state

    # The same case rated again by QR code: kept, marked as a repeat, not counted.
    status, answer = post(url, "/api/v1/evaluations",
                          json.dumps(evaluation(1, "NH-API-1", 2), ensure_ascii=False).encode(),
                          box.platform_token)
    assert status == 200 and answer["accepted"] == 1
    [rating] = answer["ratings"]
    assert (rating["counted"], rating["repeat_of"]) == (False, outcome.rating_id)


def test_bad_review_from_a_channel_opens_a_follow_up(served):
    box, url, _ = served
    body = json.dumps([evaluation(2, "NH-API-2", 1, citizen_phone="13800138000",
                                  tags=["态度差"])], ensure_ascii=False).encode()
    status, answer = post(url, "/api/v1/evaluations", body, box.platform_token)
    assert status == 200 and answer["ratings"][0]["followup_opened"]
    rating_id = answer["ratings"][0]["rating_id"]
    assert box.evaluations.followups.get(rating_id).state == "待回访"
    assert box.evaluations.ratings.get(rating_id)["citizen_phone"] == "138****8000"
    status, answer = post(url, "/api/v1/evaluations", body, box.platform_token)
    assert (status, answer["accepted"], answer["duplicates"]) == (200, 0, 1)


def test_malformed_evaluations_are_rejected_per_field_and_quarantined(served):
    box, url, _ = served
    bad = [evaluation(3, "NH-X", "5"),  # a string for a number
           {**evaluation(4, "NH-X", 9), "channel": "评价器", "stars": 5},
           {"evaluation_id": "QR-5", "channel": "短信", "level": 3}]
    status, answer = post(url, "/api/v1/evaluations", json.dumps(bad, ensure_ascii=False).encode(),
                          box.platform_token)
    assert status == 422 and answer["accepted"] == 0
    fields = [{e["field"] for e in r["errors"]} for r in answer["rejected"]]
    assert fields == [{"level"}, {"level", "channel", "stars"}, {"case_no", "rated_at"}]
    messages = {e["field"]: e["message"] for e in answer["rejected"][1]["errors"]}
    assert messages["stars"].startswith("未知字段")
    assert len(query(box, "select * from quarantine where source = 'evaluations-http'")) == 3


def test_refuses_without_token_and_non_json(served):
    box, url, _ = served
    body = json.dumps(evaluation(6, "NH-Y", 4), ensure_ascii=False).encode()
    status, answer = post(url, "/api/v1/evaluations", body, None)
    assert status == 401 and "令牌" in answer["error"]
    status, answer = post(url, "/api/v1/evaluations", b"level=5", box.platform_token)
    assert status == 400 and "JSON" in answer["error"]
    assert query(box, "select count(*) from quarantine where raw = 'level=5'") == [(1,)]


def test_simulate_needs_mock_pins(tmp_path):
    profile = (REPO / "firmware_cfg" / "hall-4.toml").read_text(encoding="utf-8")
    (tmp_path / "real.toml").write_text(profile.replace('pin_factory = "mock"',
                                                        'pin_factory = "lgpio"'), encoding="utf-8")
    config = load_box_config(write_box_folder(tmp_path, profile="real.toml", simulate=True))
    with pytest.raises(ConfigError, match="simulate = true needs"):
        build_box(config)
    (tmp_path / "mock.toml").write_text(profile, encoding="utf-8")
    box = build_box(load_box_config(write_box_folder(tmp_path, profile="mock.toml",
                                                     simulate=True)))
    assert box.evaluations.simulator is not None  # built, not started: no pins opened
    assert box.evaluations.keys.factories == {}


def test_a_rating_changed_after_the_fact_is_quarantined_and_raises_a_conflict_alert(served):
    """A channel that re-sends an evaluation_id with another level cannot turn a 差评 into a
    good one: the kept rating stands, the new one is quarantined naming the fields, the hall
    manager sees a 数据冲突 alert, and its neighbours in the request are taken."""
    box, url, _ = served
    first = evaluation(60, "NH-API-60", 1, citizen_phone="13800138060")
    status, answer = post(url, "/api/v1/evaluations", json.dumps([first]).encode(),
                          box.platform_token)
    assert status == 200 and answer["accepted"] == 1
    kept = answer["ratings"][0]["rating_id"]
    changed = {**first, "level": 5, "text": "很好"}
    body = json.dumps([changed, evaluation(61, "NH-API-61", 4), first],
                      ensure_ascii=False).encode()
    status, answer = post(url, "/api/v1/evaluations", body, box.platform_token)
    assert status == 200
    assert (answer["accepted"], answer["duplicates"], answer["conflicts"]) == (1, 1, 1)
    assert answer["conflicting"] == [{"index": 0, "evaluation_id": "QR-60",
                                      "fields": ["level", "text"]}]
    assert box.evaluations.ratings.get(kept)["level"] == 1
    assert box.evaluations.followups.get(kept).state == "待回访"  # the 差评's call-back stays
    (reason,) = [reason for reason, raw in query(
        box, "select reason, raw from quarantine where source = 'evaluations-http'")
        if '"QR-60"' in raw]
    assert "evaluation_id" in reason and "与已接收记录内容不同：level, text" in reason
    alerts = box.supervision.alerts(rule="数据冲突")
    assert alerts and "evaluation_id QR-60" in alerts[0].detail
