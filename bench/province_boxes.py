"""Many simulated boxes relaying sealed batches to hub receivers over CurveZMQ (a benchmark's).

Each box's day (hallwatch/hubday.py) is cut into batches of the relay's size and sealed and
signed with the box's keys for the hub (standard/envelope.Sealer, the relay's own header
fields) *before* the clock starts: on this 2-core machine the boxes' sealing would otherwise
take cores that, in a deployment, belong to 120 machines of their own.

:class:`Boxes` then plays the boxes' side of edge/relaysession.py for all of them from one
thread: one DEALER socket per box with its own CURVE key, a hello, then a window of batches
(``RelaySettings.window`` batches, ``inflight_records`` records) refilled as acks come;
pings every second; a batch sent before a pinged-and-answered ping that is neither acked nor
listed as ``applying`` is sent again from the cumulative ack; a hub quiet for
``HUB_LOST_SECONDS`` means a new connection, a hello and everything after the ack again. A
box is caught up when the hub's ack covers its last record. A batch sent again (after a lost
batch or a new connection) is sealed again, as the relay does: a new nonce counter (above every
counter sealed before the clock) and the backlog of that moment, from the batch's plaintext
kept compressed beside its sealed bytes. Not done: the relay's on-disk bookkeeping (the nonce
counter's reserved blocks, the acked seq).
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from dataclasses import dataclass, field

import zmq

from edge.relay import RelaySettings
from edge.relaysession import HEARTBEAT_SECONDS, HUB_LOST_SECONDS
from hallwatch.hubday import day_texts
from standard import wire
from standard.envelope import (
    Sealer,
    ed25519_private_from_text,
    x25519_private_from_text,
    x25519_public_from_text,
)

SETTINGS = RelaySettings()
RESEAL_SECONDS_A_ROUND = 0.1


@dataclass
class SealedDay:
    box_id: str
    district_code: str
    curve_public: bytes
    curve_secret: bytes
    batches: list[tuple[int, int, list[bytes]]]  # (first seq, last seq, sealed frames)
    records: int
    text_bytes: int
    plaintexts: list[bytes]  # each batch's plaintext, zlib-compressed: for sealing again
    keys: tuple[str, str, str]  # the box's seal and sign keys, the hub's seal key (as text)

    def sealer(self) -> Sealer:
        return _sealer(self.box_id, self.keys)


def _sealer(box_id: str, keys: tuple[str, str, str]) -> Sealer:
    seal_text, sign_text, hub_seal_text = keys
    return Sealer(x25519_private_from_text(seal_text), x25519_public_from_text(hub_seal_text),
                  ed25519_private_from_text(sign_text), box_id)


def seal_day(job: tuple) -> SealedDay:
    """One box's day, sealed for the hub (runs in a worker process: plain arguments)."""
    (box_id, district, curve_public, curve_secret, seal_text, sign_text, hub_seal_text, day,
     records, batch_size) = job
    texts, hashes = day_texts(box_id, district, day, records)
    keys = (seal_text, sign_text, hub_seal_text)
    sealer = _sealer(box_id, keys)
    batches, plaintexts = [], []
    for counter, start in enumerate(range(0, len(texts), batch_size), start=1):
        chunk = list(zip(texts[start:start + batch_size], hashes[start:start + batch_size]))
        first, last = start + 1, start + len(chunk)
        plaintext = wire.batch_plaintext(chunk)
        batches.append((first, last, sealer.seal(
            _header(first, last, len(texts) - start), plaintext, counter)))
        plaintexts.append(zlib.compress(plaintext, 1))
    return SealedDay(box_id, district, curve_public, curve_secret, batches, len(texts),
                     sum(map(len, texts)), plaintexts, keys)


def _header(first: int, last: int, backlog: int) -> dict:
    return {"first_seq": first, "last_seq": last, "from_seq": first,
            "count": last - first + 1, "backlog": backlog}


@dataclass
class Box:
    day: SealedDay
    endpoint: str
    sock: zmq.Socket | None = None
    cursor: int = 0  # index of the next batch to send
    acked: int = 0
    inflight: dict[int, tuple[int, int]] = field(default_factory=dict)  # first -> (last, sent)
    asked: deque = field(default_factory=deque)
    sent: int = 0
    answered: bool = False
    heard_at: float = 0.0
    connected_at: float = 0.0
    last_ping: float = 0.0
    caught_up: float | None = None
    sent_through: int = 0  # batches[:sent_through] were sent at least once
    sealer: Sealer | None = None  # for batches sent again, made at the first
    counter: int = 0  # the last nonce counter used

    @property
    def last_seq(self) -> int:
        return self.day.records


class Boxes:
    """The boxes' side of the relay for every box, from one thread (see the module)."""

    def __init__(self, days: list[SealedDay], endpoints: list[str], hub_curve_public: bytes):
        self.context = zmq.Context()
        self.hub_curve_public = hub_curve_public
        self.boxes = [Box(day, endpoints[n % len(endpoints)]) for n, day in enumerate(days)]
        self.by_socket: dict[zmq.Socket, Box] = {}
        self.poller = zmq.Poller()
        self.reconnects = self.resent_batches = self.resealed = self.nacks = 0
        self.started = 0.0
        self.reseal_until = 0.0

    def _connect(self, box: Box) -> None:
        if box.sock is not None:
            self.poller.unregister(box.sock)
            del self.by_socket[box.sock]
            box.sock.close(linger=0)
            self.reconnects += 1
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_secretkey = box.day.curve_secret
        sock.curve_publickey = box.day.curve_public
        sock.curve_serverkey = self.hub_curve_public
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.connect(box.endpoint)
        box.sock, box.inflight, box.asked = sock, {}, deque()
        box.sent, box.answered = 0, False
        box.connected_at = box.last_ping = time.monotonic()
        box.cursor = self._after(box, box.acked)
        self.by_socket[sock] = box
        self.poller.register(sock, zmq.POLLIN)
        self._send(box, wire.HELLO, {"box_id": box.day.box_id, "last_seq": box.last_seq,
                                     "acked_seq": box.acked,
                                     "backlog": box.last_seq - box.acked, "configs": {}})

    @staticmethod
    def _after(box: Box, acked: int) -> int:
        return next((n for n, (_, last, _) in enumerate(box.day.batches) if last > acked),
                    len(box.day.batches))

    def _send(self, box: Box, kind: bytes, body: dict) -> None:
        try:
            box.sock.send_multipart(wire.encode(kind, body), flags=zmq.NOBLOCK)
        except zmq.Again:
            return  # the hub is not there; heartbeats will notice
        box.sent += 1
        if kind in (wire.HELLO, wire.PING):
            box.asked.append(box.sent)

    def _fill(self, box: Box) -> None:
        batches = box.day.batches
        while (box.answered and box.cursor < len(batches)
               and len(box.inflight) < SETTINGS.window
               and sum(last - first + 1 for first, (last, _) in box.inflight.items())
               < SETTINGS.inflight_records):
            first, last, frames = batches[box.cursor]
            if box.cursor < box.sent_through:
                if time.monotonic() > self.reseal_until:
                    return  # this round's sealing is spent: acks and pings first
                frames = self._reseal(box, box.cursor)
            try:
                box.sock.send_multipart([wire.BATCH, *frames], flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            box.sent += 1
            box.inflight[first] = (last, box.sent)
            box.cursor += 1
            box.sent_through = max(box.sent_through, box.cursor)

    def _reseal(self, box: Box, index: int) -> list[bytes]:
        """A batch sent before, sealed again as the relay does: a new counter, today's backlog."""
        if box.sealer is None:
            box.sealer, box.counter = box.day.sealer(), len(box.day.batches)
        box.counter += 1
        first, last, _ = box.day.batches[index]
        self.resealed += 1
        return box.sealer.seal(_header(first, last, box.last_seq - box.acked),
                               zlib.decompress(box.day.plaintexts[index]), box.counter)

    def _handle(self, box: Box, frames: list[bytes]) -> None:
        box.heard_at = time.monotonic()
        box.answered = True
        kind = frames[0]
        body = wire.decode_json(frames[1:], kind)
        if kind == wire.NACK:
            self.nacks += 1
            box.inflight.pop(body.get("first_seq"), None)
            return
        if kind not in (wire.ACK, wire.PONG):
            return
        box.acked = max(box.acked, int(body.get("acked_seq", 0)))
        if body.get("applied"):
            box.inflight.pop(int(body["applied"][0]), None)
        for first, (last, _) in list(box.inflight.items()):
            if last <= box.acked:
                del box.inflight[first]
        if kind == wire.PONG and box.asked:
            answered = box.asked.popleft()
            applying = set(body.get("applying") or ())
            lost = [first for first, (_, sent) in box.inflight.items()
                    if sent < answered and first not in applying]
            if lost:  # as Session._resend_lost: again from the cumulative ack
                self.resent_batches += len(box.inflight)
                box.inflight.clear()
                box.cursor = self._after(box, box.acked)
        if box.caught_up is None and box.acked >= box.last_seq:
            box.caught_up = time.perf_counter() - self.started

    def _drain(self, box: Box) -> None:
        while box.sock.poll(0):
            self._handle(box, box.sock.recv_multipart())

    def run(self, timeout: float) -> float:
        """Relay every box's day; seconds until the last box was caught up."""
        self.started = time.perf_counter()
        for box in self.boxes:
            self._connect(box)
        deadline = time.monotonic() + timeout
        waiting = list(self.boxes)
        while waiting:
            now = time.monotonic()
            # One thread seals for every box (~20 ms a batch): after a burst of reconnects it
            # must not starve the others' acks and pings for seconds, or they reconnect too.
            self.reseal_until = now + RESEAL_SECONDS_A_ROUND
            if now > deadline:
                raise TimeoutError(f"{len(waiting)} boxes not caught up after {timeout:.0f} s")
            for box in waiting:
                if now - max(box.heard_at, box.connected_at) > HUB_LOST_SECONDS:
                    # Answers may wait unread behind this thread's work for other boxes; a
                    # box's own relay thread would have read them.
                    self._drain(box)
                if now - max(box.heard_at, box.connected_at) > HUB_LOST_SECONDS:
                    self._connect(box)  # the relay's session ends; it connects again
                elif now - box.last_ping >= HEARTBEAT_SECONDS:
                    self._send(box, wire.PING, {"box_id": box.day.box_id,
                                                "last_seq": box.last_seq,
                                                "backlog": box.last_seq - box.acked})
                    box.last_ping = now
            for sock, _ in self.poller.poll(SETTINGS.poll_seconds * 1000):
                box = self.by_socket[sock]
                self._drain(box)
                self._fill(box)
            for box in waiting:
                self._fill(box)
            waiting = [box for box in waiting if box.caught_up is None]
        return max(box.caught_up for box in self.boxes)

    def close(self) -> None:
        self.context.destroy(linger=0)
