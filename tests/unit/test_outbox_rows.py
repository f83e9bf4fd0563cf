"""Outbox rows written in one statement read back as written, and the chain still verifies."""

from __future__ import annotations

import pytest

from edge.outboxrows import BULK_ROWS, record_json
from edge.store import Store
from standard.envelope import GENESIS, canonical_json, chain_hash


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


@pytest.mark.parametrize("body", [
    {"b": 1, "a": "南海", "n": {"y": "\x01\n\u2028\"\\", "x": -3}, "z": [1, None, True, 2.5]},
    {"big": 2 ** 70, "list": [], "empty": {}},
])
def test_an_emitted_body_is_the_canonical_text(body):
    assert record_json(body) == canonical_json(body).decode("utf-8")


@pytest.mark.parametrize("count", [1, BULK_ROWS - 1, BULK_ROWS, 500])
def test_rows_read_back_as_written_and_chained(store, count):
    bodies = [canonical_json({"n": n, "text": f"记录 {n} \"quoted\" \\ \u2028"}).decode()
              for n in range(count)]
    store.write(lambda tx: tx.emit("note", {"first": True}))
    store.write(lambda tx: tx.emit_json_many("note", bodies))
    rows = store.query("select seq, body, hash from outbox order by seq")
    assert [row["seq"] for row in rows] == list(range(1, count + 2))
    digest = GENESIS
    for row in rows:
        digest = chain_hash(digest, row["body"].encode("utf-8"))
        assert row["hash"] == digest and isinstance(row["hash"], bytes)
    assert rows[-1]["body"].endswith(f',"body":{bodies[-1]}}}')


def test_mixed_kinds_in_one_statement_keep_their_kind_and_size(store):
    """A pass emits alert_event, alert, alert_event ... in one flush: each row keeps its own
    kind, and its size is its record's UTF-8 bytes (the outbox quota counts them)."""
    kinds = ["alert_event", "alert", "notification"]

    def emit(tx):
        for n in range(3 * BULK_ROWS):
            tx.emit(kinds[n % 3], {"n": n, "note": "临近时限 \"引号\" \u2028"})
    store.write(emit)
    rows = store.query("select seq, kind, body, size from outbox order by seq")
    assert [row["kind"] for row in rows] == [kinds[n % 3] for n in range(3 * BULK_ROWS)]
    assert all(row["size"] == len(row["body"].encode("utf-8")) for row in rows)
    assert all(f'"kind":"{row["kind"]}"' in row["body"] for row in rows)
