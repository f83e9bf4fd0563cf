"""The relay under faults, with real ``hub serve`` and ``edge serve`` processes on 127.0.0.1.

What each test asserts is what an operator would see: the hub's records (once per box and
sequence number), ``hub status`` and ``edge status``, the hub's ``refusals`` (one row per
sender, reason and episode, with a count) and ``tamper_alerts`` tables, and the files a
pushed config changes on the box.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections import Counter

import pytest
import zmq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.relay import Relay, RelaySettings
from edge.relayoutbox import NONCE_BLOCK
from edge.store import Store
from hallwatch.sim import catalogue_for
from hub.store import HubStore
from standard import boxregistry, identity, wire
from standard.envelope import SIGNATURE_PREFIX, sign_document
from tests.integration.relay_harness import (
    Deployment,
    FakeBox,
    make_records,
    run_cli,
    sealed_batch,
    wait_all_acked,
    wait_all_arrived,
    wait_for,
)

# edge status and hub status are commands that take seconds each to start on a busy machine
# (4-6 s at a load average of 13): a test that runs a dozen needs more than 90 s there.
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def deployment(tmp_path):
    deployment = Deployment(tmp_path)
    yield deployment
    deployment.close()


def box_meta(box) -> dict[str, str]:
    """The box's own notes of its chain and link, which ``edge status`` reads."""
    return dict(box.query("select key, value from meta where key in"
                          " ('chain_seq', 'relay_acked_seq', 'relay_connected')"))


def edge_settled(box, made: int):
    """``edge status`` once the box says everything up to ``made`` is acked and it is online."""
    def on_disk() -> bool:  # waited for by reading the file, then asked of the command
        meta = box_meta(box)
        return (meta.get("relay_connected") == "1"
                and int(meta.get("relay_acked_seq", 0)) >= made
                and meta.get("relay_acked_seq") == meta.get("chain_seq"))
    wait_for(on_disk, 30, what=f"{box.box_id} to note every record acked", detail=box_meta)

    def settled():
        status = box.status()
        return status if (status["backlog"] == 0 and status["acked_seq"] >= made
                          and status["hub_connected"]) else None
    return wait_for(settled, 15, what=f"edge status of {box.box_id}: backlog 0, connected",
                    interval=0.2, detail=box.status)


def assert_hub_holds_exactly(hub, box) -> None:
    """``hub status`` shows every record once, all acked, chain ok; the box agrees."""
    def on_disk() -> bool:  # waited for by reading the database, then asked of the command
        rows = hub.query("select record_count, last_seq, contiguous_seq from boxes"
                         " where box_id = ?", (box.box_id,))
        return bool(rows) and rows[0] == (box.chain_seq(),) * 3
    wait_for(on_disk, 30, what="the hub to hold every record of the box")

    def consistent():
        row = hub.status()[box.box_id]
        made = box.chain_seq()
        return row if row["records"] == row["last_seq"] == row["acked_seq"] == made else None
    row = wait_for(consistent, 15, what="hub status to match the box", interval=0.2,
                   detail=lambda: (hub.status(), box.chain_seq()))
    assert row["chain"] == "ok"
    # The box may make another record after the wait (a scheduled rule pass as its clock
    # moves), so what the hub held then is checked: each once, none missing, none twice.
    held = row["records"]
    assert hub.distinct_seqs(box.box_id, up_to=held) == (held, held, held)
    rows, distinct, _ = hub.distinct_seqs(box.box_id)
    assert rows == distinct
    assert edge_settled(box, held)["last_seq"] >= held


# -- 1. normal flow ------------------------------------------------------------------------
def test_posted_records_reach_the_hub_exactly_once(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    assert box.post_events(400) == 400
    made = wait_all_arrived(hub, box, timeout=20)
    assert made >= 400  # case events, plus the alerts the rules raised on them
    assert_hub_holds_exactly(hub, box)


# -- 2. box killed mid-batch ---------------------------------------------------------------
# Batches of 200, at most 8 in flight: the hub cannot hold the whole backlog in one group
# commit before the kill (with the default 4,000 records a batch, two batches could be committed
# together on a busy machine and the drain be over before the test saw it start).
MID_DRAIN = {"batch_size": 200, "window": 8}


def test_box_killed_while_draining_resumes_without_loss_or_duplicates(deployment):
    hub, box = deployment.hub, deployment.add_box(**MID_DRAIN)
    box.start()  # the hub is down: the backlog builds up on the box
    assert box.post_events(6000) == 6000
    made = box.chain_seq()
    hub.start()
    wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start", interval=0.01)
    box.kill()
    held = hub.count(box.box_id)
    print(f"\nbox killed with {held} of {made} records at the hub")
    assert 0 < held < made, "the box must be killed mid-drain"

    box.start()
    wait_all_arrived(hub, box, timeout=40)
    assert_hub_holds_exactly(hub, box)


# -- 3. hub killed mid-apply ---------------------------------------------------------------
def test_hub_killed_while_applying_resumes_without_loss_or_duplicates(deployment):
    hub, box = deployment.hub, deployment.add_box(**MID_DRAIN)
    box.start()
    assert box.post_events(6000) == 6000
    made = box.chain_seq()
    hub.start()
    wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start", interval=0.01)
    hub.kill()
    held = hub.count(box.box_id)
    print(f"\nhub killed with {held} of {made} records applied")
    assert 0 < held < made, "the hub must be killed mid-drain"

    hub.start()  # at once: the box's session may well survive the restart
    wait_all_arrived(hub, box, timeout=40)
    assert_hub_holds_exactly(hub, box)


# -- 4. hub outage -------------------------------------------------------------------------
def link_noted_lost(box) -> bool:
    """The box has written down that it lost the hub (the state ``edge status`` reads)."""
    return box_meta(box).get("relay_connected") == "0"


def test_hub_outage_backlog_drains_and_live_records_go_first(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(200)
    wait_all_arrived(hub, box)
    edge_settled(box, 1)

    hub.stop()
    stopped = time.monotonic()
    assert box.post_events(200) == 200  # the hall keeps working
    # When the box noticed is read from its database, as often as needed; an edge status
    # command takes seconds to start on a busy machine, so polling it measured the test.
    wait_for(lambda: link_noted_lost(box), 30, interval=0.02, what="the box to note the loss")
    noticed = time.monotonic() - stopped
    wait_for(lambda: not box.status()["hub_connected"], 30, interval=0.1,
             what="edge status to show the hub lost")
    first_backlog = box.status()["backlog"]
    assert box.post_events(5000) == 5000
    second_backlog = box.status()["backlog"]
    print(f"\nhub loss shown by edge status after {noticed:.1f} s; "
          f"backlog {first_backlog} then {second_backlog}")
    assert 0 < first_backlog < second_backlog

    hub.start()
    before = hub.count(box.box_id)
    wait_for(lambda: hub.count(box.box_id) > before, 45, interval=0.02,
             what="the box to reconnect")
    live_seq = box.post_live_case()
    posted = time.monotonic()
    wait_for(lambda: hub.has_seq(box.box_id, live_seq), 30, interval=0.01,
             what="the live record at the hub")
    latency = time.monotonic() - posted
    still_draining = hub.acked(box.box_id) < live_seq
    print(f"live record at the hub {latency:.2f} s after its post; "
          f"backlog still draining: {still_draining} (hub acked {hub.acked(box.box_id)}, "
          f"live seq {live_seq})")
    wait_all_arrived(hub, box, timeout=60)
    assert_hub_holds_exactly(hub, box)


# -- 5. replay -----------------------------------------------------------------------------
def test_replayed_batch_is_acked_but_not_applied_again(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    fake = FakeBox.as_box(hub, box)
    try:
        assert fake.hello(box.box_id)[0] == wire.PONG
        rows, _ = make_records(1, 50)
        batch = sealed_batch(box, hub, rows, counter=1)
        fake.send(batch)
        assert fake.receive_kind({wire.ACK, wire.NACK}) == (
            wire.ACK, {"version": 1, "acked_seq": 50, "applied": [1, 50]})
        fake.send(batch)  # captured frames, sent again byte for byte
        assert fake.receive_kind({wire.ACK, wire.NACK}) == (
            wire.ACK, {"version": 1, "acked_seq": 50, "applied": [1, 50]})
    finally:
        fake.close()
    status = hub.status()[box.box_id]
    assert (status["records"], status["acked_seq"], status["chain"]) == (50, 50, "ok")
    assert hub.distinct_seqs(box.box_id) == (50, 50, 50)


# -- 6. tampered batches -------------------------------------------------------------------
def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_tampered_batches_are_refused_and_other_boxes_keep_flowing(deployment):
    hub = deployment.hub
    victim = deployment.add_box("440605")
    other = deployment.add_box("440606", name="顺德区行政服务中心")
    hub.start()
    other.start()
    other.post_events(100)
    wait_all_arrived(hub, other)

    rows, _ = make_records(1, 20)
    tampered = {}
    frames = sealed_batch(victim, hub, rows, counter=1)
    frames[1] = frames[1].replace(b'"backlog":0', b'"backlog":9')
    tampered["header"] = frames
    frames = sealed_batch(victim, hub, rows, counter=2)
    frames[2] = flip(frames[2], len(frames[2]) // 2)
    tampered["ciphertext"] = frames
    frames = sealed_batch(victim, hub, rows, counter=3)
    frames[3] = flip(frames[3], 0)
    tampered["signature"] = frames
    # A sender holding the sign key but not the seal key: signed garbage still fails AEAD.
    frames = sealed_batch(victim, hub, rows, counter=4)
    frames[2] = flip(frames[2], 0)
    frames[3] = victim.identity.sign_private.sign(SIGNATURE_PREFIX + frames[1] + frames[2])
    tampered["re-signed ciphertext"] = frames

    fake = FakeBox.as_box(hub, victim)
    try:
        assert fake.hello(victim.box_id)[0] == wire.PONG
        reasons = {}
        for part, batch in tampered.items():
            fake.send(batch)
            kind, body = fake.receive_kind({wire.ACK, wire.NACK})
            assert kind == wire.NACK, part
            assert (body["first_seq"], body["last_seq"]) == (1, 20), part
            reasons[part] = body["reason"]
    finally:
        fake.close()
    for part in ("header", "ciphertext", "signature"):
        assert f"signature does not verify for box {victim.box_id}" in reasons[part], reasons
    assert f"ciphertext does not decrypt for box {victim.box_id}" in \
        reasons["re-signed ciphertext"]
    expected = list(Counter(reasons.values()).items())  # a repeated reason is counted

    def logged() -> list[tuple[str, int]]:
        return [(reason, count) for box_id, reason, count in hub.query(
            "select box_id, reason, count from refusals order by id") if box_id == victim.box_id]

    # The NACK goes out before the refusal is written to the hub's log: wait for the log.
    wait_for(lambda: logged() == expected, 30, what=f"refusals logged as {expected}",
             detail=logged)
    assert hub.count(victim.box_id) == 0

    other.post_events(100)
    wait_all_arrived(hub, other)
    assert hub.process.alive


# -- 7. unenrolled key ---------------------------------------------------------------------
def test_unenrolled_key_is_refused_at_the_handshake(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(100)
    wait_all_arrived(hub, box)

    public, secret = zmq.curve_keypair()
    stranger = FakeBox(hub.endpoint, hub.identity.curve_public, public, secret)
    try:
        stranger.send(wire.encode(wire.HELLO, {"box_id": box.box_id, "last_seq": 0,
                                               "acked_seq": 0, "backlog": 0, "configs": {}}))
        stranger.send(sealed_batch(box, hub, make_records(10_000, 5)[0], counter=2**40))
        assert stranger.receive(timeout=2) is None  # CURVE handshake refused: no answer
        wait_for(lambda: any("is not enrolled" in reason for _, reason in hub.refusals()), 10,
                 what="the refused handshake in the refusals table", detail=hub.refusals)
    finally:
        stranger.close()
    assert hub.process.alive
    assert not hub.has_seq(box.box_id, 10_000)
    box.post_events(100)
    wait_all_arrived(hub, box)
    assert_hub_holds_exactly(hub, box)


# -- 8. rows deleted or edited on the box --------------------------------------------------
def queue_while_hub_down(hub, box, events: int) -> None:
    hub.stop()
    wait_for(lambda: link_noted_lost(box), 30, what="the box to notice the hub is down")
    assert box.post_events(events) == events


def test_deleted_or_edited_outbox_rows_raise_tamper_alerts(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(50)
    wait_all_arrived(hub, box)

    queue_while_hub_down(hub, box, 100)
    acked = box.status()["acked_seq"]
    deleted = (acked + box.chain_seq()) // 2
    with box.tamper() as db:
        assert db.execute("delete from outbox where seq = ?", (deleted,)).rowcount == 1
    hub.start()
    made = wait_all_acked(hub, box)  # the box judges the 100 events meanwhile: more alerts
    assert (box.box_id, deleted, deleted, "gap") in hub.tamper_alerts()
    assert hub.status()[box.box_id]["chain"] == f"gap {deleted}-{deleted}"
    assert not hub.has_seq(box.box_id, deleted)
    assert hub.distinct_seqs(box.box_id, up_to=made) == (made - 1, made - 1, made)

    queue_while_hub_down(hub, box, 100)
    acked = box.status()["acked_seq"]
    edited = (acked + box.chain_seq()) // 2
    with box.tamper() as db:
        body = json.loads(db.execute("select body from outbox_records where seq = ?",
                                     (edited,)).fetchone()[0])
        body["body"]["tampered"] = True
        # The record's own text from now on (a platform event's row referred to its event).
        db.execute("update outbox set body = ?, ref = null where seq = ?",
                   (json.dumps(body, ensure_ascii=False), edited))
    hub.start()
    wait_all_acked(hub, box)
    assert (box.box_id, edited, edited, "changed") in hub.tamper_alerts()
    assert hub.status()[box.box_id]["chain"] == f"changed {edited}-{edited}"
    assert len(hub.tamper_alerts()) == 2  # each raised once, however often batches repeat


def test_rows_by_reference_reach_the_hub_as_the_bytes_the_box_hashed(deployment):
    """Outbox rows that refer to the box's stored events and notices (issue 17,
    edge/outboxrefs.py) reach a real hub as the very bytes hashed, chain unbroken, once each."""
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    assert box.post_events(400) == 400  # 20 days of history: overdue cases draw cards
    made = wait_all_arrived(hub, box, timeout=60)
    referring = dict(box.query("select kind, count(*) from outbox where ref is not null"
                               " group by kind"))
    assert referring.get("case_event") == 400 and referring.get("notice", 0) > 0
    # The box goes on judging as its clock moves, so a later alert may follow: compare the
    # records both sides held when the wait ended.
    sent = box.query("select seq, kind, cast(body as blob), hash from outbox_records"
                     " where seq <= ? order by seq", (made,))
    held = hub.query("select seq, kind, cast(body as blob), hash from records"
                     " where box_id = ? and seq <= ? order by seq", (box.box_id, made))
    assert len(sent) == made and held == sent
    assert hub.tamper_alerts() == []
    assert hub.status()[box.box_id]["chain"] == "ok"


# -- 9. nonce counter ----------------------------------------------------------------------
def test_nonce_counters_never_repeat_across_relay_restarts(deployment):
    box = deployment.add_box()
    hub_public = identity.load_hub_public(box.dir / identity.BOX_HUB_PUBLIC_FILE)
    used: list[int] = []
    for _ in range(3):  # three "boots" of the box on the same database
        store = Store(box.db_path, box_id=box.box_id).open()
        try:
            relay = Relay(store, box.identity, hub_public, deployment.hub.endpoint,
                          RelaySettings())
            counters = [relay.counter() for _ in range(NONCE_BLOCK + 5)]
        finally:
            store.close()
        assert counters == sorted(set(counters))
        assert not used or counters[0] > max(used)
        used += counters
    assert len(used) == len(set(used))


# -- 10. revoked box -----------------------------------------------------------------------
def test_revoked_box_is_refused_and_its_records_stay(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(100)
    made = wait_all_arrived(hub, box)

    boxregistry.revoke_box(hub.config, box.box_id)
    wait_for(lambda: any(b == box.box_id and "revoked" in r for b, r in hub.refusals()), 10,
             what="the hub to refuse the revoked box", detail=hub.refusals)
    before = box.chain_seq()
    box.post_events(50)
    wait_for(lambda: any(b == box.box_id and "revoked" in r and "batch" in r
                         for b, r in hub.refusals()), 10,
             what="the revoked box's batch to be refused", detail=hub.refusals)
    assert hub.query("select count(*) from records where box_id = ? and seq > ?",
                     (box.box_id, before)) == [(0,)]  # none of the 50 events' records
    assert box.chain_seq() >= before + 50
    made = hub.count(box.box_id)  # whatever it held when the revocation took effect

    box.stop()  # its next connection is refused at the handshake
    box.start()
    wait_for(lambda: any(b == box.box_id and r.startswith("connection refused")
                         for b, r in hub.refusals()), 15,
             what="the revoked box's connection to be refused", detail=hub.refusals)
    assert hub.count(box.box_id) == made
    assert hub.status()[box.box_id]["records"] == made


# -- config pushed down, repair pulled up ------------------------------------------------
def config_ack(hub, box, kind: str) -> tuple[int, int] | None:
    rows = hub.query("select doc_version, ok from config_acks where box_id = ? and kind = ?",
                     (box.box_id, kind))
    return rows[0] if rows else None


def test_published_catalogue_reaches_the_box_and_a_forged_one_is_refused(deployment, tmp_path):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(20)
    wait_all_arrived(hub, box)
    catalogue_file = box.dir / "catalogue.json"

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"version": 1, "items": [{"item_code": "X"}]}))
    result = run_cli("hub", "publish", "--config", hub.config_path, "--kind", "catalogue",
                     invalid)
    assert result.returncode == 1 and "invalid catalogue" in result.stderr
    assert "Traceback" not in result.stderr

    catalogue = catalogue_for("440605")
    catalogue["items"][0]["name"] = "企业设立登记（2027年版）"
    published = tmp_path / "catalogue-2027.json"
    published.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    result = run_cli("hub", "publish", "--config", hub.config_path, "--kind", "catalogue",
                     published)
    assert result.returncode == 0, result.stderr
    assert "catalogue version 1 published" in result.stdout
    wait_for(lambda: json.loads(catalogue_file.read_text(encoding="utf-8")) == catalogue, 30,
             what="the box's catalogue.json to change")
    wait_for(lambda: config_ack(hub, box, "catalogue") == (1, 1), 30,
             what="the box's config-ack", detail=lambda: config_ack(hub, box, "catalogue"))
    assert hub.status()[box.box_id]["configs"] == {
        "catalogue": {"doc_version": 1, "ok": True, "error": None}}

    forged = dict(catalogue, items=catalogue["items"][1:])
    store = HubStore(hub.config.db_path).open()
    try:  # a document in the hub's table, but not signed by the hub's key
        store.publish_config(sign_document(forged, "catalogue", 2,
                                           Ed25519PrivateKey.generate()))
    finally:
        store.close()
    wait_for(lambda: config_ack(hub, box, "catalogue") == (2, 0), 30,
             what="the box to refuse the forged catalogue")
    refused = hub.status()[box.box_id]["configs"]["catalogue"]
    assert refused["ok"] is False and "signature does not verify" in refused["error"]
    assert json.loads(catalogue_file.read_text(encoding="utf-8")) == catalogue
    box.post_events(20)  # the box still works and relays
    wait_all_arrived(hub, box)


def restore_backup(hub, box_id: str, keep: int) -> None:
    """The stopped hub's database as a backup would have it: the box's records up to ``keep``."""
    with sqlite3.connect(hub.config.db_path) as db:
        (digest,) = db.execute("select hash from records where box_id = ? and seq = ?",
                               (box_id, keep)).fetchone()
        db.execute("delete from records where box_id = ? and seq > ?", (box_id, keep))
        db.execute("update boxes set contiguous_seq = ?, chain_seq = ?, chain_hash = ?,"
                   " last_seq = ?, record_count = ? where box_id = ?",
                   (keep, keep, digest, keep, keep, box_id))
    db.close()


def test_resend_repairs_a_hub_restored_from_an_older_backup(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(200)
    made = wait_all_arrived(hub, box)
    hub.stop()

    keep = made // 2
    restore_backup(hub, box.box_id, keep)
    hub.start()
    seen = hub.query("select last_seen from boxes where box_id = ?", (box.box_id,))[0][0]
    wait_for(lambda: hub.query("select last_seen from boxes where box_id = ?",
                               (box.box_id,))[0][0] != seen, 15, what="the box to reconnect")
    # The box had them acked: it does not send them again by itself (records it made since,
    # such as the alerts of its hub link, do go).
    assert hub.query("select count(*) from records where box_id = ? and seq <= ?",
                     (box.box_id, made)) == [(keep,)]

    result = run_cli("hub", "resend", "--config", hub.config_path, "nobody-01", "--from", 1)
    assert result.returncode == 1 and "not enrolled" in result.stderr
    result = run_cli("hub", "resend", "--config", hub.config_path, box.box_id,
                     "--from", keep + 1)
    assert result.returncode == 0, result.stderr
    wait_all_arrived(hub, box, timeout=20)
    assert_hub_holds_exactly(hub, box)
    assert hub.query("select count(*) from commands where done_at is null") == [(0,)]


def test_acked_rows_are_pruned_only_after_the_retention_period(deployment):
    box = deployment.add_box()
    hub_public = identity.load_hub_public(box.dir / identity.BOX_HUB_PUBLIC_FILE)
    now = dt.datetime.now(dt.timezone.utc)
    clock = [now - dt.timedelta(days=10)]
    store = Store(box.db_path, box_id=box.box_id, clock=lambda: clock[0]).open()
    try:
        def emit(count):
            store.write(lambda tx: [tx.emit("note", {"n": n}) for n in range(count)])
        emit(10)  # seq 1-10, ten days old
        clock[0] = now
        emit(10)  # seq 11-20, today
        clock[0] = now - dt.timedelta(days=9)
        emit(5)  # seq 21-25: the clock stepped back (a Pi without its RTC, before NTP)
        clock[0] = now
        relay = Relay(store, box.identity, hub_public, deployment.hub.endpoint,
                      RelaySettings(retention_seconds=7 * 24 * 3600))

        def outbox():
            return [row["seq"] for row in store.query("select seq from outbox order by seq")]
        relay.acked(5)
        assert outbox() == list(range(6, 26))  # acked and old: gone; the rest kept for resend
        relay.acked(25)
        assert outbox() == list(range(11, 26))  # young rows, and old ones after them, kept
        assert relay.backlog() == 0
    finally:
        store.close()


def test_a_restored_hub_takes_what_the_box_pruned_without_a_false_gap(deployment):
    hub, box = deployment.hub, deployment.add_box()  # a FakeBox speaks with the box's keys
    hub.start()
    rows, head = make_records(1, 60)
    fake = FakeBox.as_box(hub, box)
    try:
        assert fake.hello(box.box_id)[0] == wire.PONG
        fake.send(sealed_batch(box, hub, rows[:50], counter=1))
        assert fake.receive_kind({wire.ACK})[1]["acked_seq"] == 50
    finally:
        fake.close()
    hub.stop()
    restore_backup(hub, box.box_id, 20)
    hub.start()
    fake = FakeBox.as_box(hub, box)
    try:  # the box had 1-50 acked and has pruned 1-30 (older than its retention) since
        fake.send(wire.encode(wire.HELLO, {"box_id": box.box_id, "last_seq": 60,
                                           "acked_seq": 50, "backlog": 10, "configs": {}}))
        assert fake.receive_kind({wire.PONG})[1]["acked_seq"] == 20
        fake.send(sealed_batch(box, hub, rows[30:], counter=2, from_seq=21))  # resend from 21
        assert fake.receive_kind({wire.ACK})[1]["acked_seq"] == 60
        assert hub.tamper_alerts() == [(box.box_id, 21, 30, "pruned")]  # lost with the backup
        assert hub.status()[box.box_id]["chain"] == "ok"
        later, _ = make_records(61, 10, head)
        fake.send(sealed_batch(box, hub, later[3:], counter=3, from_seq=61))  # 61-63 deleted
        assert fake.receive_kind({wire.ACK})[1]["acked_seq"] == 70
    finally:
        fake.close()
    assert hub.tamper_alerts() == [(box.box_id, 21, 30, "pruned"), (box.box_id, 61, 63, "gap")]
    assert hub.query("select reason, first_seq, last_seq from missing_ranges"
                     " order by first_seq") == [("pruned", 21, 30), ("gap", 61, 63)]
