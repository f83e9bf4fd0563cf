"""Platform ingest: every kind of bad record is refused with a reason and kept; good ones stored."""

from __future__ import annotations

import json

import pytest

from edge.ingest import BodyError, csv_records, ingest_texts, split_body
from edge.store import Store

GOOD = {
    "event_id": "E-1", "case_no": "NH2026110001", "item_code": "440605-SCJ-002",
    "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
    "occurred_at": "2026-11-02T09:12:00+08:00", "actor": {"id": "S017", "name": "李敏"},
    "window_no": 3,
}


def raw(**changes) -> str:
    record = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return json.dumps(record, ensure_ascii=False)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


def ingest(store, *texts):
    return ingest_texts(store, list(enumerate(texts)), source="test")


def count(store, table: str) -> int:
    return store.query(f"select count(*) as n from {table}")[0]["n"]


BAD_RECORDS = [
    ("unknown field", raw(evnet_type="受理"), "evnet_type", "未知字段"),
    ("missing field", raw(case_no=None), "case_no", "缺少必填字段"),
    ("number as text", raw(window_no="3"), "window_no", "必须是整数"),
    ("number as time", raw(occurred_at=1700000000), "occurred_at", "RFC 3339"),
    ("impossible date", raw(occurred_at="2026-02-30T09:00:00+08:00"), "occurred_at", "真实"),
    ("no offset", raw(occurred_at="2026-11-02T09:12:00"), "occurred_at", "offset"),
    ("year 1999", raw(occurred_at="1999-12-31T09:12:00+08:00"), "occurred_at", "2000"),
    ("value outside list", raw(event_type="受理了"), "event_type", "标准列出的范围"),
    ("empty code", raw(case_no=""), "case_no", "不能为空"),
    ("code with a space", raw(case_no="NH 1"), "case_no", "格式不符合标准"),
    ("reason too long", raw(event_type="不予受理", reason="很" * 2001), "reason", "2000"),
    ("window 0", raw(window_no=0), "window_no", "不能小于 1"),
    ("window 2.5", raw(window_no=2.5), "window_no", "整数"),
    ("actor not an object", raw(actor="S017"), "actor", "JSON 对象"),
    ("actor without a name", raw(actor={"id": "S017"}), "actor.name", "缺少必填字段"),
    ("version 2", raw(version=2), "version", "1"),
    ("version true", raw(version=True), "version", "1"),
    ("fee on a stage", raw(fee_amount="5.00"), "fee_amount", "只用于收费"),
    ("fee with 3 decimals", raw(event_type="收费", fee_amount=1.234), "fee_amount", "两位小数"),
    ("fee text with 3 decimals", raw(event_type="收费", fee_amount="12.345"), "fee_amount",
     "两位小数"),
    ("fee not a number", raw(event_type="收费", fee_amount="abc"), "fee_amount", "两位小数"),
    ("fee text negative", raw(event_type="收费", fee_amount="-1"), "fee_amount", "两位小数"),
    ("fee text infinite", raw(event_type="收费", fee_amount="Infinity"), "fee_amount", "两位小数"),
    ("fee negative", raw(event_type="收费", fee_amount=-1), "fee_amount", "不能小于 0"),
    ("fee missing", raw(event_type="收费"), "fee_amount", "收费事件必须填写 fee_amount"),
    ("fee null", raw(event_type="收费", fee_amount=None) [:-1] + ', "fee_amount": null}',
     "fee_amount", "必须填写"),
    ("extension without days", raw(event_type="延期"), "extension_days", "必须填写"),
    ("extension of 0 days", raw(event_type="延期", extension_days=0), "extension_days", "1"),
    ("days on a stage", raw(extension_days=5), "extension_days", "只用于延期"),
    ("special without kind", raw(event_type="特别程序开始"), "procedure_kind", "必须填写"),
    ("kind on a stage", raw(procedure_kind="听证"), "procedure_kind", "只用于特别程序"),
    ("kind outside list", raw(event_type="特别程序结束", procedure_kind="开会"),
     "procedure_kind", "范围"),
    ("bad district", raw(district_code="4406"), "district_code", ""),
    ("district in full-width digits", raw(district_code="４４０６０５"), "district_code", ""),
    ("not an object", "[1, 2]", "(record)", "JSON 对象"),
    ("broken JSON", '{"event_id": "E-1",', "(record)", "不是有效的 JSON"),
]


@pytest.mark.parametrize("label, text, field, words", BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
def test_bad_record_is_refused_named_and_quarantined(store, label, text, field, words):
    result = ingest(store, raw(event_id="E-ok"), text)
    assert result.accepted == 1
    [rejection] = result.rejected
    assert rejection.index == 1
    fields = [e["field"] for e in rejection.errors]
    assert field in fields, rejection.errors
    assert words in " ".join(e["message"] for e in rejection.errors)
    [kept] = store.query("select * from quarantine")
    assert kept["raw"] == text and kept["position"] == 1 and field in kept["reason"]
    assert count(store, "case_events") == 1


def test_oversized_record_is_refused_before_parsing(store):
    result = ingest(store, raw(reason="x" * 70_000))
    assert result.rejected[0].errors[0]["message"].startswith("记录过长")
    assert count(store, "quarantine") == 1


def test_resending_the_same_event_is_harmless(store):
    first = ingest(store, raw())
    again = ingest(store, raw(), raw())
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 2)
    assert count(store, "case_events") == 1
    assert count(store, "outbox") == 1


def test_accepted_events_are_in_the_outbox_in_the_same_commit(store):
    ingest(store, raw(event_id="E-1"), raw(event_id="E-2", event_type="承办"))
    rows = store.query("select seq, kind, body from outbox_records order by seq")
    assert [r["seq"] for r in rows] == [1, 2]
    assert [json.loads(r["body"])["body"]["event_id"] for r in rows] == ["E-1", "E-2"]
    assert {r["kind"] for r in rows} == {"case_event"}


def test_anomalous_but_well_formed_events_are_accepted_and_flagged(store):
    result = ingest(store, raw(event_id="E-1", event_type="批准"),
                    raw(event_id="E-2", event_type="受理"),
                    raw(event_id="E-3", event_type="不予许可"))
    assert result.accepted == 3 and not result.rejected
    facts = json.loads(store.query("select facts from cases")[0]["facts"])
    anomalies = " ".join(facts["anomalies"])
    assert "未受理即批准" in anomalies and "不予许可未说明理由" in anomalies


def test_body_that_is_not_json_at_all():
    with pytest.raises(BodyError, match="不是 JSON 数组或 NDJSON"):
        split_body(b"hello, this is not json")
    with pytest.raises(BodyError, match="不是有效的 JSON"):
        split_body(b'[{"event_id": ')
    with pytest.raises(BodyError, match="为空"):
        split_body(b"  \n")


def test_ndjson_lines_keep_their_index():
    lines = split_body(f"{raw(event_id='A')}\n\n{raw(event_id='B')}\n".encode())
    assert [index for index, _ in lines] == [0, 2]


def test_csv_rows_become_records():
    text = ("event_id,case_no,item_code,dept_code,district_code,event_type,occurred_at,"
            "actor_id,actor_name,window_no,reason\n"
            "E-9,C-9,I-9,D-9,440605,受理,2026-11-02T09:00:00+08:00,S1,李敏,4,\n")
    [(index, text_record)] = list(csv_records(text))
    record = json.loads(text_record)
    assert record["actor"] == {"id": "S1", "name": "李敏"}
    assert record["window_no"] == 4 and "reason" not in record


def test_csv_unknown_column_is_refused(store):
    text = "event_id,case_no,colour\nE-1,C-1,red\n"
    result = ingest_texts(store, csv_records(text), source="file.csv")
    fields = [e["field"] for e in result.rejected[0].errors]
    assert "colour" in fields


def test_a_clock_that_goes_back_does_not_reorder_records(tmp_path):
    import datetime as dt
    times = iter([dt.datetime(2026, 11, 26, 10, tzinfo=dt.timezone.utc),
                  dt.datetime(2026, 11, 26, 9, tzinfo=dt.timezone.utc),  # back an hour
                  dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc),  # RTC battery gone
                  dt.datetime(2026, 11, 26, 10, 1, tzinfo=dt.timezone.utc)])
    problems = []
    with Store(tmp_path / "box.db", box_id="b", clock=lambda: next(times)) as store:
        for n in range(4):
            store.write(lambda tx, n=n: tx.emit("note", {"n": n}))
            problems.append(store.clock_problem)
        stamps = [r["created_at"] for r in store.query("select created_at from outbox order by seq")]
    assert stamps == sorted(stamps)
    assert stamps[1] == stamps[2] == stamps[0]
    assert problems[0] is None and "went back" in problems[1] and "before 2025" in problems[2]
    assert problems[3] is None


def test_two_processes_writing_one_file_extend_one_chain(tmp_path):
    """A CLI command writing to a running box's database must not fork the hash chain."""
    from standard.envelope import GENESIS, chain_hash

    with Store(tmp_path / "box.db", box_id="b") as first, \
            Store(tmp_path / "box.db", box_id="b") as second:
        for n in range(6):
            (first if n % 2 else second).write(lambda tx, n=n: tx.emit("note", {"n": n}))
        rows = first.query("select seq, body, hash from outbox order by seq")
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5, 6]
    previous = GENESIS
    for row in rows:
        previous = chain_hash(previous, row["body"].encode())
        assert previous == row["hash"]


@pytest.mark.parametrize("text, stored", [
    ("1e2", "100.00"), (" 9.00", "9.00"), ("9.00\n", "9.00"), ("+5", "5.00"), (".5", "0.50"),
    ("9.", "9.00"), ("9.070", "9.07"), ("1_000", "1000.00"), ("-0", "0.00")])
def test_fee_strings_taken_before_the_standard_form_are_still_taken(store, text, stored):
    """Issue 21: the box keeps accepting what an earlier publication of version 1 allowed. Until
    1.2 the schema allowed any fee string and the box took these; they are compatibility forms
    now, stored in the standard's form (what the hub and the schema read)."""
    result = ingest_texts(store, [(0, raw(event_type="收费", fee_amount=text))], source="test")
    assert (result.accepted, result.rejected) == (1, [])
    [row] = store.query("select body from case_events")
    assert json.loads(row["body"])["fee_amount"] == stored
