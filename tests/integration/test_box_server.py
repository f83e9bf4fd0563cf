"""A real box process: the platform posts over HTTP; the CLI reads the real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import subprocess
import sys

import pytest

from standard.records import LOCAL_TZ
from tests.boxes import REPO, start_box, write_box_folder
from tests.integration.relay_harness import wait_for

ITEM = "440605-SCJ-002"  # 食品经营许可: promised 10, legal 20 working days


def event(n: int, case_no: str, event_type: str, occurred_at: str, **extra) -> dict:
    record = {"event_id": f"T-{case_no}-{n}", "case_no": case_no, "item_code": ITEM,
              "dept_code": "440605SCJ", "district_code": "440605", "event_type": event_type,
              "occurred_at": occurred_at, "actor": {"id": "S001", "name": "李敏"}}
    record.update(extra)
    return record


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("box")
    write_box_folder(folder)
    running = start_box(folder)
    yield running
    running.stop()


def cases_json(box, at: str) -> dict[str, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "cases", "--config",
         str(box.folder / "box.toml"), "--at", at, "--json"],
        capture_output=True, text=True, cwd=REPO, check=True).stdout
    return {row["case_no"]: row for row in map(json.loads, out.splitlines())}


def test_json_array_is_committed_and_lights_computed(box):
    body = [event(1, "C-RED", "受理", "2026-11-02T09:00:00+08:00"),
            event(2, "C-RED", "承办", "2026-11-03T09:00:00+08:00"),
            event(1, "C-OK", "受理", "2026-11-20T09:00:00+08:00")]
    status, answer = box.post("/api/v1/platform/events", json.dumps(body).encode())
    assert (status, answer) == (200, {"accepted": 3, "duplicates": 0, "conflicts": 0,
                                      "conflicting": [], "rejected": []})
    rows = cases_json(box, "2026-11-24T10:00:00+08:00")
    # 受理 Mon 11-02 + 10 working days = Mon 11-16; on 11-24 that is 6 working days late.
    assert rows["C-RED"]["deadline"] == "2026-11-16"
    assert rows["C-RED"]["remaining_working_days"] == -6
    assert rows["C-RED"]["light"] == "red"
    assert rows["C-OK"]["light"] == "green"


def test_ndjson_and_resend_are_idempotent(box):
    lines = "\n".join(json.dumps(event(n, "C-ND", t, "2026-11-23T09:00:00+08:00"))
                      for n, t in ((1, "受理"), (2, "承办")))
    for expected in ({"accepted": 2, "duplicates": 0}, {"accepted": 0, "duplicates": 2}):
        status, answer = box.post("/api/v1/platform/events", lines.encode(),
                                  content_type="application/x-ndjson")
        assert status == 200 and {k: answer[k] for k in expected} == expected


def test_partly_bad_batch_names_each_problem_and_keeps_the_good(box):
    good = event(1, "C-MIX", "受理", "2026-11-23T09:00:00+08:00")
    bad = dict(good, event_id="T-bad", occurred_at="2026-11-23 09:00", colour="red")
    status, answer = box.post("/api/v1/platform/events", json.dumps([good, bad]).encode())
    assert status == 200 and answer["accepted"] == 1
    [rejected] = answer["rejected"]
    assert rejected["index"] == 1
    assert {e["field"] for e in rejected["errors"]} == {"occurred_at", "colour"}


def test_all_bad_is_422_and_quarantined(box):
    status, answer = box.post("/api/v1/platform/events", b'[{"event_id": "x"}]')
    assert status == 422 and answer["accepted"] == 0
    with sqlite3.connect(box.db) as db:
        raws = [r[0] for r in db.execute("select raw from quarantine")]
    assert '{"event_id": "x"}' in raws


def test_not_json_is_400_with_a_clear_message(box):
    status, answer = box.post("/api/v1/platform/events", b"<xml>not json</xml>")
    assert status == 400 and "NDJSON" in answer["error"]


def test_the_box_serves_its_openapi_and_answers_in_its_shape(box):
    import urllib.request

    import jsonschema

    from standard.schema import DEFAULT_DIR

    with urllib.request.urlopen(box.url + "/api/v1/openapi.json", timeout=30) as response:
        served = json.loads(response.read())  # no token needed
    assert served == json.loads((DEFAULT_DIR / "openapi.json").read_text(encoding="utf-8"))
    status, answer = box.post("/api/v1/platform/events", json.dumps(
        [event(1, "C-OAS", "收费", "2026-11-02T09:00:00+08:00", fee_amount="12.345")],
        ensure_ascii=False).encode())
    assert status == 422
    schema = {**served["components"]["schemas"]["IngestAnswer"],
              "components": served["components"]}
    jsonschema.Draft202012Validator(schema).validate(answer)
    assert answer["rejected"][0]["errors"][0]["field"] == "fee_amount"


@pytest.mark.parametrize("token", [False, "wrong-token-0123456789"])
def test_platform_token_is_required(box, token):
    status, answer = box.post("/api/v1/platform/events", b"[]", token=token)
    assert status == 401 and "令牌" in answer["error"]


def test_unknown_calendar_year_shows_in_the_row_and_raises_an_alert(box):
    # 受理 Mon 12-21 + 10 working days reaches into 2027, which the calendar does not know.
    body = [event(1, "C-2027", "受理", "2026-12-21T09:00:00+08:00")]
    assert box.post("/api/v1/platform/events", json.dumps(body).encode())[0] == 200
    rows = cases_json(box, "2026-12-22T10:00:00+08:00")
    assert rows["C-2027"]["light"] == "unknown"
    assert rows["C-2027"]["error"] == "calendar has no data for 2027"
    # The other cases are still evaluated: C-OK (受理 11-20) was due 12-04.
    assert (rows["C-OK"]["deadline"], rows["C-OK"]["light"]) == ("2026-12-04", "red")
    assert ("日历缺失", "red") in wait_for_alerts(box, "C-2027")


def wait_for_alerts(box, case_no: str) -> list[tuple[str, str]]:
    """(rule, level) of the case's alerts, once the box's background rule check raised any."""
    def alerts() -> list[tuple[str, str]]:
        with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
            return db.execute("select rule, level from alerts where case_no = ?",
                              (case_no,)).fetchall()
    return wait_for(alerts, 10, what=f"an alert for {case_no}")


def test_a_red_case_posted_over_http_gets_its_alert_just_after_the_answer(box):
    # Accepted six weeks ago, promised in 10 working days: overdue whatever today is.
    accepted = dt.datetime.now(LOCAL_TZ) - dt.timedelta(weeks=6)
    body = [event(1, "C-LATE", "受理", accepted.isoformat(timespec="seconds"))]
    status, answer = box.post("/api/v1/platform/events", json.dumps(body).encode())
    assert (status, answer["accepted"]) == (200, 1)
    assert "red" in {level for _, level in wait_for_alerts(box, "C-LATE")}


def test_nothing_accepted_is_lost_when_the_box_is_killed(tmp_path):
    write_box_folder(tmp_path)
    first = start_box(tmp_path)
    body = [event(n, f"C-K{n}", "受理", "2026-11-23T09:00:00+08:00") for n in range(200)]
    assert first.post("/api/v1/platform/events", json.dumps(body).encode())[1]["accepted"] == 200
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    second = start_box(tmp_path)
    try:
        again = second.post("/api/v1/platform/events", json.dumps(body).encode())[1]
        assert again == {"accepted": 0, "duplicates": 200, "conflicts": 0, "conflicting": [],
                         "rejected": []}
    finally:
        second.stop()


def test_every_answer_of_every_intake_has_the_shape_its_openapi_documents(box):
    """Issue 21: the OpenAPI is the contract for every intake: each answer the real box gives
    (taken, refused, conflicting, not JSON, no token) validates against the schema the served
    document gives for that path and status."""
    import urllib.request

    import jsonschema

    with urllib.request.urlopen(box.url + "/api/v1/openapi.json", timeout=30) as response:
        document = json.loads(response.read())

    def check(path: str, body: bytes, status: int, token=None) -> dict:
        got, answer = box.post(path, body, token=token)
        assert got == status, (path, got, answer)
        response = document["paths"][path]["post"]["responses"][str(status)]
        schema = {**response["content"]["application/json"]["schema"],
                  "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(answer)
        return answer

    events = "/api/v1/platform/events"
    first = event(1, "C-CONTRACT", "受理", "2026-11-02T09:00:00+08:00")
    check(events, json.dumps([first], ensure_ascii=False).encode(), 200)
    changed = dict(first, event_type="承办")
    answer = check(events, json.dumps([changed, event(2, "C-CONTRACT", "承办",
                                                      "2026-11-02T10:00:00+08:00")]).encode(), 200)
    assert answer["conflicts"] == 1 and answer["conflicting"][0]["fields"] == ["event_type"]
    check(events, json.dumps([changed]).encode(), 422)
    check(events, b'[{"event_id": 1}, "x"]', 422)
    check(events, b"", 400)
    check(events, b"[]", 401, token=False)

    evaluations = "/api/v1/evaluations"
    rating = {"version": 1, "evaluation_id": "QR-CONTRACT", "channel": "二维码",
              "case_no": "C-CONTRACT", "level": 5, "rated_at": "2026-11-02T10:05:00+08:00"}
    check(evaluations, json.dumps([rating], ensure_ascii=False).encode(), 200)
    answer = check(evaluations, json.dumps([dict(rating, level=1)]).encode(), 422)
    assert answer["conflicting"][0]["evaluation_id"] == "QR-CONTRACT"
    check(evaluations, b"", 400)
    check(evaluations, b"[]", 401, token=False)

    reconciliation = "/api/v1/platform/reconciliation"
    check(reconciliation, json.dumps({"version": 1, "date": "2026-11-02", "counts": [
        {"item_code": ITEM, "count": 2}]}).encode(), 200)
    check(reconciliation, b'{"version": 1, "date": "2026-11-31", "counts": []}', 422)
    check(reconciliation, b"{}", 401, token=False)
