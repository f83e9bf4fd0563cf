"""What the hub refuses, with a real ``hub serve`` process on 127.0.0.1 and boxes real or
impersonated at the wire level (FakeBox): a replayed batch is acked but not applied again,
tampered batches and unenrolled or revoked keys are refused, and other boxes keep flowing.

What each test asserts is what an operator would see: the hub's records, ``hub status``, and
its ``refusals`` table (one row per sender, reason and episode, with a count).

The relay fault tests are split over test_relay_flow, test_relay_kills, test_relay_refusals
and test_relay_repair (one xdist worker runs a module; together they took five minutes).
"""

from __future__ import annotations

from collections import Counter

import pytest
import zmq

from standard import boxregistry, wire
from standard.envelope import SIGNATURE_PREFIX
from tests.integration.relay_checks import assert_hub_holds_exactly
from tests.integration.relay_harness import (FakeBox, make_records, sealed_batch,
                                              wait_all_arrived, wait_for)

# edge status and hub status are commands that take seconds each to start on a busy machine
# (4-6 s at a load average of 13): a test that runs a dozen needs more than 90 s there.
pytestmark = pytest.mark.timeout(180)


# -- replay -------------------------------------------------------------------------------
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


# -- tampered batches ---------------------------------------------------------------------
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


# -- unenrolled key -----------------------------------------------------------------------
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

# -- revoked box --------------------------------------------------------------------------
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
