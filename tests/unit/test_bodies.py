"""Bodies cut into records, each judged alone (issue 15 items 2 and 3)."""

from __future__ import annotations

import base64
import json

import pytest

from standard.bodies import BodyError, file_records, split_body
from edge.ingest import ingest_texts
from edge.store import Store

GOOD = {
    "event_id": "E-1", "case_no": "NH2026110001", "item_code": "440605-SCJ-002",
    "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
    "occurred_at": "2026-11-02T09:12:00+08:00", "actor": {"id": "S017", "name": "李敏"},
}


def record(n: int, **changes) -> dict:
    return {**GOOD, "event_id": f"E-{n}", "case_no": f"C-{n}", **changes}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


def quarantined(store) -> list[dict]:
    return store.query("select position, reason, raw, encoding from quarantine order by id")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_ndjson_is_split_on_newline_only(separator):
    """Issue 15 item 3: these are legal inside JSON strings and never end a line."""
    first = json.dumps(record(1, actor={"id": "S1", "name": f"甲{separator}乙"}),
                       ensure_ascii=False)
    body = f"{first}\n{json.dumps(record(2))}\n".encode()
    records = split_body(body)
    assert [index for index, _ in records] == [0, 1]
    assert json.loads(records[0][1])["actor"]["name"] == f"甲{separator}乙"


def test_array_items_are_kept_as_sent_and_a_lone_surrogate_is_one_rejection(store):
    """Issue 15 item 2: the bad record is refused by index; the others are stored."""
    body = json.dumps([record(1), record(2, actor={"id": "S1", "name": "\ud800x"}), record(3)])
    records = split_body(body.encode())
    assert records[1][1] == json.dumps(record(2, actor={"id": "S1", "name": "\ud800x"}))
    result = ingest_texts(store, records, source="test", whole=True)
    assert result.accepted == 2
    [rejected] = result.rejected
    assert rejected.index == 1 and "\\ud800" in rejected.errors[0]["message"]
    [kept] = quarantined(store)
    assert kept["position"] == 1 and "\\ud800x" in kept["raw"] and kept["encoding"] == "utf-8"


def test_deep_nesting_and_huge_numbers_are_refused_per_record(store):
    """Issue 15 item 2: RecursionError and ValueError (int digits) used to fail the request."""
    deep = "[" * 1000 + "]" * 1000
    huge = json.dumps(record(2))[:-1] + ', "window_no": ' + "9" * 5000 + "}"
    body = f'[{json.dumps(record(1))}, {deep}, {huge}, {"9" * 5000}, {json.dumps(record(3))}]'
    records = split_body(body.encode())
    assert [index for index, _ in records] == [0, 1, 2, 3, 4]
    result = ingest_texts(store, records, source="test", whole=True)
    assert result.accepted == 2
    reasons = {r.index: r.reason for r in result.rejected}
    assert "嵌套过深" in reasons[1]
    assert "数字过大" in reasons[2] and "数字过大" in reasons[3]
    assert [row["position"] for row in quarantined(store)] == [1, 2, 3]


def test_a_line_that_is_not_utf8_is_kept_byte_for_byte(store):
    bad = json.dumps(record(2)).encode().replace(b"S017", b"S\xff\xfe7")
    body = json.dumps(record(1)).encode() + b"\n" + bad + b"\n"
    result = ingest_texts(store, split_body(body), source="test", whole=True)
    assert result.accepted == 1 and [r.index for r in result.rejected] == [1]
    [kept] = quarantined(store)
    assert kept["encoding"] == "base64" and base64.b64decode(kept["raw"]) == bad


def test_a_non_utf8_item_in_an_array_spoils_only_itself(store):
    bad = json.dumps(record(2)).encode().replace(b"S017", b"S\xff7")
    body = b"[" + json.dumps(record(1)).encode() + b"," + bad + b"]"
    result = ingest_texts(store, split_body(body), source="test", whole=True)
    assert result.accepted == 1 and [r.index for r in result.rejected] == [1]
    assert base64.b64decode(quarantined(store)[0]["raw"]) == bad


@pytest.mark.parametrize("body, words", [
    (b"", "为空"), (b"hello", "NDJSON"), (b'[{"event_id": ', "不是有效的 JSON"),
    (b'[{"a": 1} {"b": 2}]', "不是有效的 JSON"), (b'[{"a": 1}] x', "不是有效的 JSON"),
])
def test_a_body_that_cannot_be_cut_into_records(body, words):
    with pytest.raises(BodyError, match=words):
        split_body(body)


def test_a_single_pretty_printed_object_is_one_record_when_allowed():
    body = json.dumps(record(1), indent=2).encode()
    assert [index for index, _ in split_body(body, single_object=True)] == [0]
    # Not UTF-8: still one record (its bytes, to be refused and kept), not one per line.
    spoiled = body.replace(b'"S017"', b'"S\xff"')
    assert spoiled != body
    assert split_body(spoiled, single_object=True) == [(0, spoiled)]


def test_files_are_split_on_newline_only_and_keep_bad_bytes(tmp_path, store):
    path = tmp_path / "export.ndjson"
    odd = json.dumps(record(1, actor={"id": "S1", "name": "甲\u2028乙"}), ensure_ascii=False)
    path.write_bytes(odd.encode() + b"\n" + b'{"event_id": "\xff"}\n' + json.dumps(
        record(3)).encode() + b"\n")
    records = list(file_records(path))
    assert [index for index, _ in records] == [0, 1, 2]
    assert isinstance(records[1][1], bytes)
    result = ingest_texts(store, records, source=str(path))
    assert result.accepted == 2 and [r.index for r in result.rejected] == [1]
