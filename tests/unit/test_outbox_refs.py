"""The outbox by reference (issue 17): a platform event's outbox row refers to its stored event.

What the hub verifies is the hash chain over the bytes as sent, so every row's record text,
read back through ``outbox_records`` (what the relay sends), must be the very bytes hashed when
it was written, whatever the event's text holds; the quota must count those bytes; the events
referred to must never change; and a box upgraded with records still queued sends them as
before.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from edge.ingest import ingest_texts
from edge.store import Store
from edge.storeschema import OUTBOX_BYTES, ROW_BYTES
from standard.envelope import GENESIS, chain_hash

EVENT = {
    "event_id": "E-1", "case_no": "NH2026110001", "item_code": "440605-SCJ-002",
    "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
    "occurred_at": "2026-11-02T09:12:00+08:00", "actor": {"id": "S017", "name": "李敏"},
    "window_no": 3,
}
# Texts as platforms send them: escaped or not, quotes, backslashes, separators, emoji, spacing.
ODD_NAMES = ['李"敏"', "back\\slash", "line\u2028sep", "表情😀", "tab\there", "'single'"]


def texts() -> list[str]:
    out = []
    for n, name in enumerate(ODD_NAMES):
        record = {**EVENT, "event_id": f"E-{n}", "case_no": f"NH20261100{n:02d}",
                  "actor": {"id": f"S{n}", "name": name}}
        out.append(json.dumps(record, ensure_ascii=bool(n % 2), indent=None if n % 3 else 1))
    return out


def chain_of(rows: list[dict], start: bytes = GENESIS) -> bytes:
    """Check each row's hash against the record text read back; returns the chain's end."""
    digest = start
    for row in rows:
        digest = chain_hash(digest, row["body"].encode("utf-8"))
        assert row["hash"] == digest, f"record {row['seq']} does not read back as hashed"
    return digest


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


def test_event_rows_refer_to_the_event_and_read_back_as_hashed(store):
    result = ingest_texts(store, list(enumerate(texts())), source="test")
    assert result.accepted == len(ODD_NAMES)
    stored = store.query("select seq, kind, body, ref, size from outbox order by seq")
    assert [(r["body"], r["ref"]) for r in stored] == [("", f"E-{n}")
                                                        for n in range(len(ODD_NAMES))]
    records = store.query("select seq, body, hash, size from outbox_records order by seq")
    chain_of(records)
    events = {r["event_id"]: r["body"]
              for r in store.query("select event_id, body from case_events")}
    for n, record in enumerate(records):
        assert json.loads(record["body"])["body"] == json.loads(events[f"E-{n}"])
        assert record["body"].endswith(f',"body":{events[f"E-{n}"]}}}')
        assert record["size"] == len(record["body"].encode("utf-8"))
    meta = store.query("select value from meta where key = ?", (OUTBOX_BYTES,))[0]["value"]
    assert int(meta) == sum(r["size"] for r in records)  # the quota counts the bytes sent


def test_records_the_box_makes_keep_their_text_and_mix_with_references(store):
    store.write(lambda tx: tx.emit("note", {"text": "before"}))
    ingest_texts(store, list(enumerate(texts()[:3])), source="test")
    store.write(lambda tx: tx.emit("note", {"text": "after"}))
    rows = store.query("select seq, kind, body, hash from outbox_records order by seq")
    assert [r["kind"] for r in rows] == ["note"] + ["case_event"] * 3 + ["note"]
    chain_of(rows)
    notes = store.query("select body, ref from outbox where kind = 'note'")
    assert all(r["ref"] is None and r["body"].startswith('{"seq":') for r in notes)


def test_stored_events_can_be_neither_changed_nor_deleted(store):
    ingest_texts(store, [(0, texts()[0])], source="test")
    for sql in ("update case_events set body = '{}'", "delete from case_events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.write(lambda tx, sql=sql: tx.conn.execute(sql))
    assert store.query("select count(*) as n from case_events")[0]["n"] == 1


def test_only_platform_events_are_written_by_reference(store):
    with pytest.raises(ValueError, match="case_event"):
        store.write(lambda tx: tx.emit_json_many("note", ['{"n":1}'], refs=["E-1"]))


def test_a_box_upgraded_with_records_queued_sends_them_and_continues_the_chain(tmp_path):
    """A file of the release before: its outbox rows carry their text; they stay as they are,
    the counter of unacknowledged bytes is right, and new events are written by reference."""
    path = tmp_path / "old.db"
    digest, old_rows = GENESIS, []
    for seq, (kind, body) in enumerate([("case_event", texts()[4]), ("note", '{"n":1}')], 1):
        text = f'{{"seq":{seq},"kind":"{kind}","at":"2026-11-02T01:00:00.000+00:00","body":{body}}}'
        digest = chain_hash(digest, text.encode("utf-8"))
        old_rows.append((seq, kind, text, digest, "2026-11-02T01:00:00.000+00:00"))
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "create table meta (key text primary key, value text not null);"
            "create table outbox (seq integer primary key, kind text not null, body text not null,"
            " hash blob not null, created_at text not null);")
        conn.executemany("insert into outbox values (?, ?, ?, ?, ?)", old_rows)
        conn.executemany("insert into meta values (?, ?)", [
            ("box_id", "440605-01"), ("chain_seq", "2"), ("chain_hash", digest.hex())])
    old_bytes = sum(len(row[2].encode("utf-8")) for row in old_rows)
    with Store(path, box_id="440605-01") as store:
        counted = store.query("select value from meta where key = ?", (OUTBOX_BYTES,))
        assert int(counted[0]["value"]) == old_bytes
        ingest_texts(store, list(enumerate(texts()[:2])), source="test")
        rows = store.query("select seq, kind, body, hash, size from outbox_records order by seq")
        assert [r["body"] for r in rows[:2]] == [row[2] for row in old_rows]
        chain_of(rows)
        assert store.query("select ref from outbox where seq = 3")[0]["ref"] == "E-0"
        total = store.query(f"select sum({ROW_BYTES}) as n from outbox")[0]["n"]
        counted = store.query("select value from meta where key = ?", (OUTBOX_BYTES,))
        assert int(counted[0]["value"]) == total == sum(r["size"] for r in rows)
