"""Repair of the chain between a box and the hub, with real ``hub serve`` and ``edge serve``
processes on 127.0.0.1: outbox rows deleted or edited on the box raise tamper alerts, a signed
config pushed down reaches the box (a forged one is refused), a hub restored from an older
backup is repaired by a resend, and acked rows are pruned only after the retention period.

What each test asserts is what an operator would see: the hub's records, ``hub status``, its
``tamper_alerts`` table, and the files a pushed config changes on the box.

The relay fault tests are split over test_relay_flow, test_relay_kills, test_relay_refusals
and test_relay_repair (one xdist worker runs a module; together they took five minutes).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.relay import Relay, RelaySettings
from edge.store import Store
from hallwatch.sim import catalogue_for
from hub.store import HubStore
from standard import identity, wire
from standard.envelope import sign_document
from tests.integration.relay_checks import (assert_hub_holds_exactly, queue_while_hub_down,
                                             restore_backup)
from tests.integration.relay_harness import (FakeBox, make_records, run_cli, sealed_batch,
                                              wait_all_acked, wait_all_arrived, wait_for)

# edge status and hub status are commands that take seconds each to start on a busy machine
# (4-6 s at a load average of 13): a test that runs a dozen needs more than 90 s there.
pytestmark = pytest.mark.timeout(180)


# -- rows deleted or edited on the box ----------------------------------------------------
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
