"""Refusals at the hub are counted per sender, reason and episode, not written once each.

An in-process receiver on 127.0.0.1 with real DEALER sockets: strangers' handshakes, an
enrolled box's bad messages, and the enrolled box served all the while.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import zmq
from click.testing import CliRunner

from hallwatch.cli import main
from hub.store import HubStore
from standard import wire
from standard.envelope import Sealer
from tests.integration.relay_harness import FakeBox, in_process_receiver, make_records, wait_for

pytestmark = pytest.mark.timeout(60)
BURST = 12


@pytest.fixture
def hub(tmp_path, hub_database):
    with in_process_receiver(tmp_path, hub_database) as running:
        yield running


def refusals(hub) -> list[dict]:
    return hub.store.query("select box_id, source, reason, count, at, last_at from refusals"
                           " order by id")


def link(hub, public: bytes, secret: bytes) -> FakeBox:
    return FakeBox(hub.receiver.bound_endpoint, hub.identity.curve_public, public, secret)


def one_handshake(context: zmq.Context, hub, public: bytes, secret: bytes) -> zmq.Socket:
    """A DEALER that tries the CURVE handshake once: no reconnection after it is refused."""
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, -1)
    sock.curve_publickey, sock.curve_secretkey = public, secret
    sock.curve_serverkey = hub.identity.curve_public
    sock.connect(hub.receiver.bound_endpoint)
    sock.send_multipart(wire.encode(wire.HELLO, {"box_id": "440605-01", "last_seq": 0,
                                                 "acked_seq": 0, "backlog": 0, "configs": {}}))
    return sock


def sealed(hub, rows, counter: int) -> list[bytes]:
    box = hub.box
    sealer = Sealer(box.seal_private, hub.identity.seal_public, box.sign_private, box.box_id)
    first, last = json.loads(rows[0][0])["seq"], json.loads(rows[-1][0])["seq"]
    header = {"first_seq": first, "last_seq": last, "from_seq": first, "count": len(rows),
              "backlog": 0}
    return [wire.BATCH, *sealer.seal(header, wire.batch_plaintext(rows), counter)]


def test_a_burst_of_refused_handshakes_is_one_row_and_the_box_is_served(hub):
    public, secret = zmq.curve_keypair()
    box = link(hub, hub.box.curve_public, hub.box.curve_secret)
    context = zmq.Context()
    try:
        assert box.hello(hub.box.box_id)[0] == wire.PONG
        strangers = [one_handshake(context, hub, public, secret) for _ in range(BURST)]
        rows, _ = make_records(1, 20)
        box.send(sealed(hub, rows, counter=1))  # served in the middle of the burst
        assert box.receive_kind({wire.ACK, wire.NACK}) == (
            wire.ACK, {"version": 1, "acked_seq": 20, "applied": [1, 20]})
        wait_for(lambda: hub.receiver.stats.refused >= BURST, 20,
                 what=f"{BURST} refused handshakes", detail=lambda: hub.receiver.stats)
        assert not any(s.poll(0) for s in strangers)  # never answered
        assert box.hello(hub.box.box_id)[0] == wire.PONG
    finally:
        box.close()
        context.destroy(linger=0)
    assert hub.receiver.stats.refused == BURST
    (row,) = refusals(hub)
    assert (row["box_id"], row["source"], row["count"]) == (None, f"key:{public.decode()}",
                                                            BURST)
    assert "is not enrolled" in row["reason"] and row["last_at"] >= row["at"]
    assert hub.store.query("select count(*) as n from records")[0]["n"] == 20
    # The technician sees the same episode, counted, in `hub status`.
    shown = CliRunner().invoke(main, ["hub", "status", "--config",
                                      str(hub.config.path("hub.toml"))])
    assert shown.exit_code == 0, shown.output
    [line] = [text for text in shown.output.splitlines() if "is not enrolled" in text]
    assert f"x{BURST} " in line and "key:" in line


def test_each_reason_gets_its_own_row_with_its_count(hub):
    box = link(hub, hub.box.curve_public, hub.box.curve_secret)
    try:
        assert box.hello(hub.box.box_id)[0] == wire.PONG
        rows, _ = make_records(1, 5)
        for counter in (1, 2, 3):
            frames = sealed(hub, rows, counter)
            frames[3] = bytes([frames[3][0] ^ 1]) + frames[3][1:]  # a bad signature
            box.send(frames)
            assert box.receive_kind({wire.ACK, wire.NACK})[0] == wire.NACK
        for _ in range(2):
            box.send([b"bogus", b"{}"])
            assert box.receive_kind({wire.NACK})[0] == wire.NACK
        box.send(sealed(hub, rows, counter=4))
        assert box.receive_kind({wire.ACK})[1]["acked_seq"] == 5
    finally:
        box.close()
    counted = [(r["box_id"], r["source"], r["reason"].split(":")[0], r["count"])
               for r in refusals(hub)]
    assert counted == [(hub.box.box_id, hub.box.box_id, "batch refused", 3),
                       (hub.box.box_id, hub.box.box_id, "unknown message type b'bogus'", 2)]
    assert hub.receiver.stats.refused == 5


def test_a_refusal_after_a_quiet_window_starts_a_new_row(tmp_path):
    store = HubStore(tmp_path / "hub.db").open()
    try:
        start = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
        reason = "connection refused: box 440605-01 is revoked"
        counts = [store.refuse("440605-01", reason, now=start + dt.timedelta(seconds=s)).count
                  for s in (0, 30, 80, 200, 230)]
        assert counts == [1, 2, 3, 1, 2]  # 80 s is within 60 s of the last one; 200 is not
        other = store.refuse("440605-01", "unknown message type b'x'", now=start)
        assert other.count == 1
        assert [(r["count"], r["last_at"][11:19]) for r in store.query(
            "select count, last_at from refusals order by id")] == [
            (3, "02:01:20"), (2, "02:03:50"), (1, "02:00:00")]
    finally:
        store.close()
