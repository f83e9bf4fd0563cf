"""A receiver still opening a box's window of batches (decrypting and parsing is slow: here it
is held until the test lets it go) answers the box's ping at once, listing those batches as
``applying``: the box hears from the hub meanwhile, so it neither takes the hub for lost (3 s
of silence) nor sends them again; then each is applied and acked. Before, the socket thread
opened each batch itself and a ping waited behind them all (issue 18's province bench: 2,489
reconnects). On both engines, over real CurveZMQ on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading

import zmq

from hallwatch.hubday import day_texts
from hub import opener_thread
from hub.receiver import Receiver
from hub.store import HubStore
from standard import wire
from standard.boxregistry import EnrolledBox
from standard.envelope import Sealer
from standard.identity import new_box_identity, new_hub_identity

BATCH = 4000


def test_a_receiver_opening_batches_answers_a_ping_at_once(hub_database, monkeypatch):
    opening = threading.Event()
    real_open = opener_thread.open_batch

    def slow_open(*args):
        assert opening.wait(120)
        return real_open(*args)

    monkeypatch.setattr(opener_thread, "open_batch", slow_open)
    hub = new_hub_identity()
    box = new_box_identity("440605-01", "440605", "南海区行政服务中心")
    enrolled = EnrolledBox(box_id=box.box_id, district_code="440605", name=box.name,
                           curve_public=box.curve_public, seal_public=box.seal_public,
                           sign_public=box.sign_public, enrolled_at="", revoked=False)
    store = HubStore(hub_database)
    store.open()
    receiver = Receiver(store, hub, "tcp://127.0.0.1:0", lambda: {box.box_id: enrolled})
    receiver.start()
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.curve_secretkey, sock.curve_publickey = box.curve_secret, box.curve_public
    sock.curve_serverkey = hub.curve_public
    sock.connect(receiver.bound_endpoint)

    def receive() -> tuple[bytes, dict]:
        assert sock.poll(120_000), "the hub did not answer"
        frames = sock.recv_multipart()
        return frames[0], json.loads(frames[1])

    try:
        sock.send_multipart(wire.encode(wire.HELLO, {"box_id": box.box_id, "last_seq": 0,
                                                     "acked_seq": 0, "backlog": 0}))
        assert receive()[0] == wire.PONG
        texts, hashes = day_texts(box.box_id, "440605", dt.date(2026, 11, 20), 6 * BATCH)
        sealer = Sealer(box.seal_private, hub.seal_public, box.sign_private, box.box_id)
        firsts = []
        for counter, start in enumerate(range(0, len(texts), BATCH), start=1):
            chunk = list(zip(texts[start:start + BATCH], hashes[start:start + BATCH]))
            header = {"first_seq": start + 1, "last_seq": start + len(chunk),
                      "from_seq": start + 1, "count": len(chunk), "backlog": 0}
            sock.send_multipart([wire.BATCH, *sealer.seal(header, wire.batch_plaintext(chunk),
                                                          counter)])
            firsts.append(start + 1)
        sock.send_multipart(wire.encode(wire.PING, {"box_id": box.box_id,
                                                    "last_seq": len(texts), "backlog": 0}))
        kind, pong = receive()  # while no batch could be opened yet
        assert kind == wire.PONG and sorted(pong["applying"]) == firsts
        opening.set()
        acked = set()
        while len(acked) < len(firsts):
            kind, body = receive()
            if kind == wire.ACK:
                acked.add(body["applied"][0])
        assert store.acked_seq(box.box_id) == len(texts)
        assert store.query("select count(*) as n from records")[0]["n"] == len(texts)
    finally:
        opening.set()
        sock.close(0)
        context.term()
        receiver.stop()
        store.close()
