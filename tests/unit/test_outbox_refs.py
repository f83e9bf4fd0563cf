"""The outbox by reference (issue 17): event and notice rows refer to what the store keeps.

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

from edge import outboxrefs
from edge.ingest import ingest_texts
from edge.outboxrefs import NOTICE_STRINGS, quotes_like_orjson, split_record
from edge.outboxrows import record_json
from edge.relay import Relay, RelaySettings
from edge.store import Store
from edge.storeschema import OUTBOX_BYTES, ROW_BYTES, set_meta
from standard.envelope import GENESIS, chain_hash
from standard.identity import HubPublic, new_box_identity, new_hub_identity
from tests.unit.test_notices import at, make_box

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


def test_only_events_and_notices_are_written_by_reference(store):
    with pytest.raises(ValueError, match="cannot refer"):
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


# -- notices: the row refers to the stored notice for its HTML page and text ----------------
@pytest.mark.parametrize("html, text", [
    ("<p>\"引号\" \\ </p>\n\t\u2028😀", "第一行\r\n\x01\x1f\x7f"),
    ("", "html\":\"text"),  # a field's own name and quotes inside the other's value
])
def test_a_notice_record_cut_around_its_strings_reads_back_through_sqlite(html, text):
    body = {"number": "南海电监〔2026〕1号", "html": html, "text": text, "seq": 1,
            "content": {"html": "内容里的 html", "lines": ["a", {"text": "b"}]}, "year": 2026}
    split = split_record(body, NOTICE_STRINGS)
    assert split is not None
    record, pieces = split
    assert record == record_json(body)
    conn = sqlite3.connect(":memory:")
    rebuilt = conn.execute(
        "select json_extract(?1, '$[0]') || json_quote(?2) || json_extract(?1, '$[1]')"
        " || json_quote(?3) || json_extract(?1, '$[2]')", (pieces, html, text)).fetchone()[0]
    assert rebuilt == record


def test_this_sqlite_quotes_strings_as_orjson_does():
    assert quotes_like_orjson(sqlite3.connect(":memory:"))


def carded_box(tmp_path):
    made = make_box(tmp_path)
    made.accept("C1", "2026-11-02")
    made.accept("C2", "2026-11-02")
    made.engine.check(at("2026-11-06"))
    return made


def test_notice_rows_refer_to_the_stored_notice_and_read_back_as_hashed(tmp_path):
    box = carded_box(tmp_path)
    try:
        rows = box.store.query("select o.seq, o.ref, o.body, o.size, n.id, n.html, n.text"
                               " from outbox o join notices n on n.id = cast(o.ref as integer)"
                               " where o.kind = 'notice' order by o.seq")
        assert len(rows) == 2 and all(len(r["body"]) < len(r["html"]) for r in rows)
        records = box.store.query("select seq, kind, body, hash, size from outbox_records"
                                  " order by seq")
        chain_of(records)
        notices = [r for r in records if r["kind"] == "notice"]
        for row, record in zip(rows, notices):
            sent = json.loads(record["body"])["body"]
            assert (sent["html"], sent["text"]) == (row["html"], row["text"])
            assert record["size"] == row["size"] == len(record["body"].encode("utf-8"))
        meta = box.store.query("select value from meta where key = ?", (OUTBOX_BYTES,))
        assert int(meta[0]["value"]) == sum(r["size"] for r in records)
    finally:
        box.store.close()


def test_a_sqlite_that_quotes_otherwise_gets_the_notices_text_back(tmp_path, monkeypatch):
    """Queued notice rows are rewritten with their whole text, as hashed, before the view
    stops reading notices by reference; new notices are then copied."""
    box = carded_box(tmp_path)
    before = box.store.query("select seq, body, hash from outbox_records order by seq")
    box.store.close()
    monkeypatch.setattr(outboxrefs, "quotes_like_orjson", lambda conn: False)
    box = make_box(tmp_path)
    try:
        assert box.store.query("select seq, body, hash from outbox_records order by seq") \
            == before
        assert box.store.query("select count(*) as n from outbox where kind = 'notice'"
                               " and ref is not null")[0]["n"] == 0
        box.serial = 100  # after the first box's event ids
        box.accept("C3", "2026-11-03")
        box.engine.check(at("2026-11-09"))
        records = box.store.query("select seq, kind, body, hash from outbox_records"
                                  " order by seq")
        chain_of(records)
        assert sum(r["kind"] == "notice" for r in records) == 3
        assert box.store.query("select count(*) as n from outbox where kind = 'notice'"
                               " and ref is not null")[0]["n"] == 0
    finally:
        box.store.close()


def test_rebase_after_reinit_renumbers_referring_rows_and_keeps_them_referring(tmp_path):
    """After edge reinit the relay renumbers every row to follow the hub's last seq: the
    record texts change (their seq), the references stay, and the chain verifies from the
    hub's hash."""
    box = carded_box(tmp_path)
    try:
        hub = new_hub_identity()
        relay = Relay(box.store, new_box_identity("440605-01", "440605", "南海"),
                      HubPublic(hub.curve_public, hub.seal_private.public_key(),
                                hub.sign_private.public_key(), "tcp://127.0.0.1:1"),
                      "tcp://127.0.0.1:1", RelaySettings())
        box.store.write(lambda tx: set_meta(tx.conn, "rebase", "pending"))
        before = box.store.query("select kind, ref, body from outbox order by seq")
        start = bytes(range(32))
        relay.rebase(0, {"base_seq": 1000, "chain_hash": start.hex()})
        after = box.store.query("select seq, kind, ref, body from outbox order by seq")
        assert [r["seq"] for r in after] == list(range(1001, 1001 + len(before)))
        assert [(r["kind"], r["ref"], r["body"] if r["ref"] else None) for r in after] == \
            [(r["kind"], r["ref"], r["body"] if r["ref"] else None) for r in before]
        assert any(r["kind"] == "notice" and r["ref"] for r in after)
        records = box.store.query("select seq, body, hash, size from outbox_records"
                                  " order by seq")
        chain_of(records, start)
        assert all(r["body"].startswith(f'{{"seq":{r["seq"]},') for r in records)
        meta = box.store.query("select value from meta where key = ?", (OUTBOX_BYTES,))
        assert int(meta[0]["value"]) == sum(r["size"] for r in records)
    finally:
        box.store.close()
