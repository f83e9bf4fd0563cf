"""Issue 15 items 2–4 and the outbox quota, against a real box process over HTTP.

Each test posts what a platform (or an attacker) could post and checks what the platform is
told and what the box's SQLite file holds afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from standard.records import LOCAL_TZ
from tests.boxes import post_body, start_box, write_box_folder
from tests.integration.relay_harness import Deployment

EVENTS = "/api/v1/platform/events"
EVALUATIONS = "/api/v1/evaluations"


def event(n: int, **changes) -> dict:
    record = {"event_id": f"H-{n}", "case_no": f"HC-{n}", "item_code": "440605-SCJ-002",
              "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
              "occurred_at": "2026-11-23T09:00:00+08:00", "actor": {"id": "S001", "name": "李敏"}}
    record.update(changes)
    return record


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("box")
    write_box_folder(folder)
    running = start_box(folder)
    yield running
    running.stop()


def rows(box, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def stored(box, prefix: str) -> int:
    return rows(box, "select count(*) from case_events where event_id like ?",
                (prefix + "%",))[0][0]


def test_a_lone_surrogate_is_one_rejection_not_a_500(box):
    body = [event(1), event(2, actor={"id": "S1", "name": "\ud800x"}), event(3)]
    status, answer = box.post(EVENTS, json.dumps(body).encode())
    assert status == 200 and answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert "\\ud800" in answer["rejected"][0]["errors"][0]["message"]
    raws = [raw for (raw,) in rows(box, "select raw from quarantine where position = 1")]
    assert any('"H-2"' in raw for raw in raws)


def test_a_bad_record_late_in_a_big_request_does_not_half_commit_it(box):
    body = [event(0, event_id=f"HB-{n}", case_no=f"HB-{n}") for n in range(6000)]
    body[5500]["actor"] = {"id": "S1", "name": "\ud800"}
    raw = json.dumps(body).encode()
    status, answer = box.post(EVENTS, raw)
    assert (status, answer["accepted"]) == (200, 5999)
    assert [r["index"] for r in answer["rejected"]] == [5500]
    again = box.post(EVENTS, raw)  # the platform's retry is harmless
    assert again[0] == 200 and (again[1]["accepted"], again[1]["duplicates"]) == (0, 5999)


@pytest.mark.parametrize("label, body, words", [
    ("1,000 levels of nesting", b"[" * 1000 + b"]" * 1000, "嵌套过深"),
    ("1,000 levels in a field", json.dumps(event(9))[:-1].encode() + b', "x": '
     + b"[" * 1000 + b"]" * 1000 + b"}", "嵌套过深"),
    ("a 5,000-digit integer", b"[" + b"9" * 5000 + b"]", "数字过大"),
    ("a 5,000-digit window", json.dumps(event(9))[:-1].encode() + b', "window_no": '
     + b"9" * 5000 + b"}", "数字过大"),
])
def test_depth_and_size_limits_answer_422_with_a_clear_message(box, label, body, words):
    status, answer = box.post(EVENTS, body)
    assert status == 422, label
    assert words in answer["rejected"][0]["errors"][0]["message"]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_ndjson_keeps_unicode_line_separators_inside_strings(box, separator):
    name = f"李{separator}敏"
    n = 200 + 10 * "\u2028\u2029\u0085".index(separator)
    lines = [json.dumps(event(n, actor={"id": "S1", "name": name}), ensure_ascii=False),
             json.dumps(event(n + 1), ensure_ascii=False)]
    status, answer = box.post(EVENTS, "\n".join(lines).encode(),
                              content_type="application/x-ndjson")
    assert (status, answer["accepted"], answer["rejected"]) == (200, 2, [])
    [(body,)] = rows(box, "select body from case_events where event_id = ?", (f"H-{n}",))
    assert json.loads(body)["actor"]["name"] == name


def test_a_conflicting_resend_is_quarantined_counted_and_alerted(box):
    first = event(300)
    assert box.post(EVENTS, json.dumps([first]).encode())[1]["accepted"] == 1
    status, answer = box.post(EVENTS, json.dumps([first]).encode())
    assert (status, answer["duplicates"], answer["conflicts"]) == (200, 1, 0)  # harmless
    changed = dict(first, event_type="承办")
    status, answer = box.post(EVENTS, json.dumps([event(301), changed]).encode())
    counts = answer["accepted"], answer["duplicates"], answer["conflicts"]
    assert (status, counts) == (200, (1, 0, 1))
    assert answer["conflicting"] == [{"index": 1, "event_id": "H-300", "fields": ["event_type"]}]
    [(reason, raw)] = rows(box, "select reason, raw from quarantine where raw like ?",
                           ('%"H-300"%',))
    assert "与已接收记录内容不同" in reason and json.loads(raw)["event_type"] == "承办"
    assert rows(box, "select level, state from alerts where subject = 'data:platform'") == [
        ("yellow", "open")]
    kept = rows(box, "select body from case_events where event_id = 'H-300'")[0][0]
    assert json.loads(kept)["event_type"] == "受理"  # the first one stays


def test_evaluations_take_every_record_on_its_own(box):
    def evaluation(n: int, **changes) -> dict:
        return {"version": 1, "evaluation_id": f"QH-{n}", "channel": "二维码",
                "case_no": "HC-1", "level": 5, "rated_at": "2026-11-23T10:00:00+08:00",
                **changes}
    body = (json.dumps([evaluation(1), evaluation(2, text="\ud800"), evaluation(3)])[:-1]
            + ", " + "[" * 1000 + "]" * 1000 + ", " + "9" * 5000 + "]").encode()
    status, answer = box.post(EVALUATIONS, body)
    assert status == 200  # evaluations are wired on every box, with or without keys
    assert answer["accepted"] == 2 and [r["index"] for r in answer["rejected"]] == [1, 3, 4]
    messages = [r["errors"][0]["message"] for r in answer["rejected"]]
    assert "\\ud800" in messages[0] and "嵌套过深" in messages[1] and "数字过大" in messages[2]
    raws = rows(box, "select raw from quarantine where source = 'evaluations-http'")
    assert any('"QH-2"' in raw for (raw,) in raws)  # the bad record kept, not lost
    again = box.post(EVALUATIONS, body)  # the platform's retry is harmless
    assert again[0] == 200 and (again[1]["accepted"], again[1]["duplicates"]) == (0, 2)


def test_the_outbox_quota_refuses_the_request_that_would_pass_it(tmp_path):
    """Issue 15 point 10: a 1 MiB quota let the outbox reach 2.07 MB before 507.

    Platform records may fill 80% of the quota; the rest is kept for the box's own rows.
    """
    deployment = Deployment(tmp_path)  # the hub is never started: nothing is acknowledged
    relay_box = deployment.add_box(outbox_quota_mb=1)
    relay_box.start()
    quota = 1024 * 1024
    today = dt.datetime.now(LOCAL_TZ).replace(microsecond=0)
    try:
        refused = None
        for batch in range(40):
            # Cases accepted today: green, so the rules add (almost) nothing of their own.
            events = [event(0, event_id=f"Q-{batch}-{n}", case_no=f"Q-{batch}-{n}",
                            occurred_at=today.isoformat()) for n in range(500)]
            before = relay_box.query("select count(*) from case_events")[0][0]
            status, answer = post_ndjson(relay_box, events)
            outbox = relay_box.query(
                "select coalesce(sum(size), 0) from outbox_records")[0][0]  # bytes to send
            assert outbox <= quota, f"outbox at {outbox} bytes after batch {batch}"
            if status == 507:
                refused = answer
                after = relay_box.query("select count(*) from case_events")[0][0]
                assert after == before  # wholly refused: nothing of it was stored
                break
            assert status == 200
        assert refused is not None and "发件队列已满" in refused["error"]
        assert outbox > 0.6 * quota  # and not refused long before it was needed
        # The evaluations intake holds to the same quota, and refuses a request whole too.
        ratings = [{"version": 1, "evaluation_id": f"QQ-{n}", "channel": "二维码",
                    "case_no": f"Q-0-{n}", "level": 5, "rated_at": today.isoformat()}
                   for n in range(500)]
        before = relay_box.query("select count(*) from ratings")[0][0]
        status, answer = post_body(f"{relay_box.url}{EVALUATIONS}",
                                   json.dumps(ratings, ensure_ascii=False).encode(),
                                   relay_box.token)
        assert status == 507 and "发件队列已满" in answer["error"]
        assert relay_box.query("select count(*) from ratings")[0][0] == before
    finally:
        deployment.close()


def post_ndjson(relay_box, events: list[dict]) -> tuple[int, dict]:
    body = "\n".join(json.dumps(e, ensure_ascii=False) for e in events).encode()
    return post_body(f"{relay_box.url}{EVENTS}", body, relay_box.token)
