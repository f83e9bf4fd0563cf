"""HubStore: exactly once per (box, seq), cumulative acks, the hash chain, resends, refusals."""

from __future__ import annotations

import json
import sqlite3

import pytest

from hub.store import HubStore
from standard.envelope import GENESIS, canonical_json, chain_hash

BOX, DISTRICT = "440605-01", "440605"


def box_chain(count: int) -> dict[int, tuple[dict, str, bytes]]:
    """Records 1..count as a box's Tx.emit makes them: seq -> (record, text, chain hash)."""
    rows, prev = {}, GENESIS
    for seq in range(1, count + 1):
        record = {"seq": seq, "kind": "note", "at": "2026-11-26T08:00:00.000+00:00",
                  "body": {"n": seq}}
        text = canonical_json(record)
        prev = chain_hash(prev, text)
        rows[seq] = (record, text.decode("utf-8"), prev)
    return rows


def edited(row: tuple[dict, str, bytes]) -> tuple[dict, str, bytes]:
    """The row with its body changed on the box and its hash left as it was."""
    record, _, digest = row
    changed = {**record, "body": {"n": -1}}
    return changed, canonical_json(changed).decode("utf-8"), digest


@pytest.fixture
def store(hub_database):
    store = HubStore(hub_database).open()
    yield store
    store.close()


@pytest.fixture
def rows():
    return box_chain(40)


def apply(store, rows, seqs, from_seq=None):
    seqs = list(seqs)
    return store.apply_batch(BOX, DISTRICT, [rows[s] for s in seqs],
                             from_seq=from_seq or seqs[0], backlog=0)


def held(store) -> list[int]:
    return [r["seq"] for r in store.query("select seq from records where box_id = ?"
                                          " order by seq", (BOX,))]


def state(store) -> dict:
    return store.box_states()[0]


def alerts(store) -> list[tuple]:
    return [tuple(r.values()) for r in store.query(
        "select box_id, first_seq, last_seq, kind from tamper_alerts order by id")]


# -- exactly once ------------------------------------------------------------------------
def test_a_batch_is_applied_once_and_acked(store, rows):
    first = apply(store, rows, range(1, 11))
    assert (first.new, first.duplicates, first.acked_seq, first.tamper) == (10, 0, 10, [])
    again = apply(store, rows, range(1, 11))
    assert (again.new, again.duplicates, again.acked_seq) == (0, 10, 10)
    assert held(store) == list(range(1, 11))
    assert state(store) | {"last_seen": None} == {
        "box_id": BOX, "district": DISTRICT, "last_seen": None, "last_seq": 10,
        "acked_seq": 10, "backlog": 0, "chain": "ok", "records": 10}


def test_a_replayed_batch_runs_no_projection_again(store, rows):
    seen = []
    store.appliers["note"] = [lambda conn, box_id, record: seen.append(record["seq"])]
    apply(store, rows, range(1, 6))
    apply(store, rows, range(6, 11))
    replay = apply(store, rows, range(1, 6))  # an old batch, captured and sent again
    assert (replay.new, replay.acked_seq) == (0, 10)
    assert seen == list(range(1, 11))
    assert alerts(store) == []


def test_a_failing_projection_applies_nothing_of_the_batch(store, rows):
    def broken(conn, box_id, record):
        if record["seq"] == 3:
            raise RuntimeError("projection bug")
    store.appliers["note"] = [broken]
    with pytest.raises(RuntimeError):
        apply(store, rows, range(1, 6))
    assert held(store) == []
    assert store.box_states() == []
    store.appliers["note"] = []
    assert apply(store, rows, range(1, 6)).new == 5


# -- out of order: live records first ------------------------------------------------------
def test_live_records_apply_first_and_the_ack_waits_for_the_backlog(store, rows):
    live = apply(store, rows, range(31, 41))
    assert (live.new, live.acked_seq) == (10, 0)
    assert apply(store, rows, range(1, 11)).acked_seq == 10
    assert apply(store, rows, range(11, 21)).acked_seq == 20
    assert apply(store, rows, range(21, 31)).acked_seq == 40
    assert held(store) == list(range(1, 41))
    assert (state(store)["chain"], alerts(store)) == ("ok", [])


def test_the_cumulative_ack_never_goes_back(store, rows):
    apply(store, rows, range(1, 21))
    assert apply(store, rows, range(5, 9)).acked_seq == 20


# -- gaps: rows deleted on the box ---------------------------------------------------------
def test_a_row_missing_inside_a_batch_is_a_gap(store, rows):
    applied = apply(store, rows, [1, 2, 3, 4, 7, 8, 9, 10], from_seq=1)
    assert applied.acked_seq == 10  # the rest is applied and acked
    assert len(applied.tamper) == 1 and BOX in applied.tamper[0]
    assert alerts(store) == [(BOX, 5, 6, "gap")]
    assert state(store)["chain"] == "gap 5-6"
    assert ranges(store) == [(5, 6, "gap")]
    assert apply(store, rows, range(11, 21)).acked_seq == 20
    assert alerts(store) == [(BOX, 5, 6, "gap")]  # the chain resumes after the gap


def test_a_row_missing_between_batches_is_a_gap(store, rows):
    apply(store, rows, range(1, 11))
    assert apply(store, rows, range(13, 21), from_seq=11).acked_seq == 20
    assert alerts(store) == [(BOX, 11, 12, "gap")]


def test_a_gap_is_raised_once_however_often_its_batch_comes(store, rows):
    for _ in range(3):  # e.g. the box reconnected twice before the ack reached it
        apply(store, rows, [1, 2, 3, 5, 6], from_seq=1)
    assert alerts(store) == [(BOX, 4, 4, "gap")]


def test_a_gap_among_live_records_does_not_skip_the_backlog_still_to_come(store, rows):
    live = apply(store, rows, range(23, 31), from_seq=21)  # 21-22 deleted just after the split
    assert alerts(store) == [(BOX, 21, 22, "gap")]
    assert live.acked_seq == 0  # 1-20 have not arrived: not acked, the box must still send them
    assert apply(store, rows, range(1, 21)).acked_seq == 30
    assert held(store) == list(range(1, 21)) + list(range(23, 31))


# -- changed records -----------------------------------------------------------------------
def test_a_record_edited_on_the_box_is_reported_changed(store, rows):
    rows[5] = edited(rows[5])
    applied = apply(store, rows, range(1, 11))
    assert applied.acked_seq == 10
    assert len(applied.tamper) == 1 and "5" in applied.tamper[0]
    assert alerts(store) == [(BOX, 5, 5, "changed")]
    assert state(store)["chain"] == "changed 5-5"
    apply(store, rows, range(11, 21))
    assert alerts(store) == [(BOX, 5, 5, "changed")]  # the records after it chain on fine


def test_an_edited_live_record_is_reported_once_the_backlog_reaches_it(store, rows):
    rows[25] = edited(rows[25])
    apply(store, rows, range(21, 31))
    assert alerts(store) == []  # its predecessor's hash is not known yet
    apply(store, rows, range(1, 21))
    assert alerts(store) == [(BOX, 25, 25, "changed")]


def test_boxes_are_kept_apart(store, rows):
    apply(store, rows, range(1, 11))
    store.apply_batch("440606-01", "440606", [rows[s] for s in range(1, 6)], from_seq=1,
                      backlog=3)
    assert [(s["box_id"], s["records"], s["acked_seq"], s["backlog"])
            for s in store.box_states()] == [(BOX, 10, 10, 0), ("440606-01", 5, 5, 3)]


# -- commands and config -------------------------------------------------------------------
def test_commands_queue_until_done(store):
    first = store.add_command(BOX, "resend", {"from_seq": 120})
    second = store.add_command("440606-01", "resend", {"from_seq": 1})
    assert [(c["id"], c["box_id"], json.loads(c["body"])) for c in store.pending_commands()] \
        == [(first, BOX, {"from_seq": 120}), (second, "440606-01", {"from_seq": 1})]
    store.command_done(first)
    assert [c["id"] for c in store.pending_commands()] == [second]


def test_config_versions_and_acks(store):
    assert store.next_config_version("catalogue") == 1
    store.publish_config({"kind": "catalogue", "doc_version": 1, "payload": {}})
    store.publish_config({"kind": "catalogue", "doc_version": 2, "payload": {"x": 1}})
    assert store.next_config_version("catalogue") == 3
    assert store.next_config_version("lights") == 1
    assert store.latest_configs()["catalogue"]["doc_version"] == 2
    store.config_acked(BOX, {"kind": "catalogue", "doc_version": 2, "ok": False,
                             "error": "signature does not verify"})
    assert store.config_states() == {BOX: {"catalogue": {
        "doc_version": 2, "ok": False, "error": "signature does not verify"}}}


# -- resends of what the hub acknowledged already -------------------------------------------
def ranges(store) -> list[tuple[int, int, str]]:
    return [(r["first_seq"], r["last_seq"], r["reason"]) for r in store.query(
        "select first_seq, last_seq, reason from missing_ranges order by first_seq")]


def missing(store) -> dict[int, str]:
    return {seq: reason for first, last, reason in ranges(store)
            for seq in range(first, last + 1)}


def test_a_resend_below_the_ack_is_duplicates_even_where_the_hub_holds_no_rows(store, rows):
    apply(store, rows, range(1, 41))
    pruned_box = apply(store, rows, range(31, 41), from_seq=1)  # the box pruned 1-30
    assert (pruned_box.new, pruned_box.duplicates, pruned_box.acked_seq) == (0, 10, 40)
    with store.transaction() as conn:  # rows the hub itself no longer keeps
        conn.execute("delete from records where seq <= 30")
    again = apply(store, rows, range(31, 41), from_seq=1)
    assert (again.duplicates, again.acked_seq, again.tamper) == (10, 40, [])
    assert (alerts(store), missing(store), state(store)["chain"]) == ([], {}, "ok")


@pytest.fixture
def restored(store):
    """A hub restored from a backup holding 1-20, whose box had 1-40 acknowledged since."""
    rows = box_chain(60)
    apply(store, rows, range(1, 21))
    store.touch_box(BOX, DISTRICT, box_acked=40)  # the box's hello after the restore
    return rows


def test_after_a_restore_what_the_box_pruned_is_not_a_gap(store, restored):
    resent = apply(store, restored, range(31, 46), from_seq=21)  # `hub resend --from 21`
    assert (resent.new, resent.acked_seq, resent.tamper) == (15, 45, [])
    # Shown to the supervisors as lost with the backup, not as a deletion; the chain holds.
    assert alerts(store) == [(BOX, 21, 30, "pruned")] and state(store)["chain"] == "ok"
    [detail] = [r["detail"] for r in store.query("select detail from tamper_alerts")]
    assert "21–30" in detail and "备份" in detail
    assert missing(store) == dict.fromkeys(range(21, 31), "pruned")


def test_after_a_restore_a_jump_forward_is_still_a_gap(store, restored):
    apply(store, restored, range(31, 46), from_seq=21)
    jump = apply(store, restored, range(49, 51), from_seq=46)
    assert jump.acked_seq == 50 and len(jump.tamper) == 1
    assert alerts(store) == [(BOX, 21, 30, "pruned"), (BOX, 46, 48, "gap")]


def test_after_a_restore_a_hole_beyond_what_the_box_had_acked_is_a_gap(store, restored):
    resent = apply(store, restored, range(46, 51), from_seq=21)  # 41-45 were never acked
    assert resent.acked_seq == 50
    assert alerts(store) == [(BOX, 21, 40, "pruned"), (BOX, 41, 45, "gap")]
    assert missing(store) == {**dict.fromkeys(range(21, 41), "pruned"),
                              **dict.fromkeys(range(41, 46), "gap")}


def test_a_database_from_the_first_release_gets_the_new_columns(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(
            "create table boxes (box_id text primary key, district_code text not null,"
            " last_seen text, last_seq integer not null default 0, backlog integer not null"
            " default 0, contiguous_seq integer not null default 0, chain_seq integer not null"
            " default 0, chain_hash blob, chain_state text not null default 'ok');"
            "create table missing (box_id text not null, seq integer not null,"
            " primary key (box_id, seq)) without rowid;"
            "create table refusals (id integer primary key, at text not null, box_id text,"
            " reason text not null);"
            "insert into missing values ('440605-01', 7);"
            "insert into refusals (at, box_id, reason) values ('2026-11-01', null, 'old');")
    old.close()
    store = HubStore(path).open()
    try:
        assert store.refuse(BOX, "revoked").count == 1
        assert store.refuse(BOX, "revoked").count == 2
        assert [(r["reason"], r["count"]) for r in store.query(
            "select reason, count from refusals order by id")] == [("old", 1), ("revoked", 2)]
        assert missing(store) == {7: "gap"}
        assert store.touch_box(BOX, DISTRICT, box_acked=5) == 0
    finally:
        store.close()
