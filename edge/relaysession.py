"""One connection of the relay to a hub: the conversation on the socket (edge/relay.py).

A session sends the hello, heartbeats and sealed batches from the outbox, keeps a window of
batches in flight, reads the hub's acks, pongs, nacks, resend requests and signed documents,
and ends when the hub has been quiet for ``HUB_LOST_SECONDS`` (the relay then reconnects or
fails over). What outlives a connection (the cursor on disk, the acked sequence, the keys,
the link state) is the :class:`edge.relay.Relay`'s; a session only holds its cursors and the
batches in flight.

Example (inside the relay's thread)::

    Session(relay, sock).run()   # True if the hub answered at all
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

import zmq

from standard import wire

if TYPE_CHECKING:
    from edge.relay import Relay

log = logging.getLogger("edge.relay")

HEARTBEAT_SECONDS = 1.0
HUB_LOST_SECONDS = 3.0
SIGNED_DOCUMENTS = (wire.CONFIG, wire.SNAPSHOT_REQUEST)  # one frame: a signed JSON document


class Session:
    """State of one connection: cursors, batches in flight, heartbeats."""

    def __init__(self, relay: Relay, sock: zmq.Socket):
        self.relay = relay
        self.sock = sock
        self.settings = relay.settings
        split = relay.last_seq()
        self.backlog_cursor = relay.state.acked_seq + 1
        self.split = split  # rows up to here are backlog, newer ones are live
        self.live_cursor = split + 1
        self.inflight: dict[int, tuple[int, int]] = {}  # first -> (last, send ordinal)
        self.ack_seen = relay.state.acked_seq  # highest ack heard, recorded once per wake-up
        self.sent = 0  # messages sent on this connection: their order is the hub's order
        self.asked: deque[int] = deque()  # send ordinals of hello/pings not yet answered
        self.heard_at = 0.0
        self.answered = False
        self.reconnect = False  # renumbered after a rebase: start again with the new numbers

    def run(self) -> bool:
        relay = self.relay
        started = time.monotonic()
        hello = {"box_id": relay.identity.box_id, "last_seq": relay.last_seq(),
                 "acked_seq": relay.state.acked_seq, "backlog": relay.backlog(),
                 "configs": json.loads(relay.meta("config_versions", "{}"))}
        if relay.state.rebase_pending:
            hello.update(rebase=True, store_id=relay.meta("store_id", ""))
        self._send_json(wire.HELLO, hello)
        last_ping = last_measure = 0.0
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not relay.stopping.is_set() and not self.reconnect:
            now = time.monotonic()
            if now - max(self.heard_at, started) > HUB_LOST_SECONDS:
                return self.answered
            if now - last_ping >= HEARTBEAT_SECONDS and relay.identity_changed():
                return True  # keys rotated: reconnect at once with the new ones
            if now - last_ping >= HEARTBEAT_SECONDS:
                self._send_json(wire.PING, {"box_id": relay.identity.box_id,
                                            "last_seq": relay.last_seq(),
                                            "backlog": relay.backlog()})
                last_ping = now
            if now - last_measure >= 10:
                relay.measure()
                last_measure = now
            if self.answered and not relay.state.rebase_pending and relay.state.hub_ahead is None:
                self._fill_window()
            if poller.poll(self.settings.poll_seconds * 1000):
                while self.sock.poll(0):
                    self._handle(self.sock.recv_multipart())
                self._record_ack()
        return self.answered

    def _record_ack(self) -> None:
        """Every ack read in one wake-up is recorded in one write (acks are cumulative)."""
        self.relay.acked(self.ack_seen, wait=False)

    def _send_json(self, kind: bytes, body: dict) -> None:
        try:
            self.sock.send_multipart(wire.encode(kind, body), flags=zmq.NOBLOCK)
        except zmq.Again:
            return  # the hub is not there; heartbeats will notice
        self.sent += 1
        if kind in (wire.HELLO, wire.PING):
            self.asked.append(self.sent)

    def _next_rows(self) -> tuple[int, list] | None:
        live = self.relay.rows(self.live_cursor, None)
        if live:
            start = self.live_cursor
            self.live_cursor = live[-1][0] + 1
            return start, live
        if self.backlog_cursor <= self.split:
            rows = self.relay.rows(self.backlog_cursor, self.split)
            start = self.backlog_cursor
            self.backlog_cursor = (rows[-1][0] if rows else self.split) + 1
            if rows:
                return start, rows
        return None

    def _in_flight(self) -> int:
        return sum(last - first + 1 for first, (last, _) in self.inflight.items())

    def _fill_window(self) -> None:
        while (len(self.inflight) < self.settings.window
               and self._in_flight() < self.settings.inflight_records):
            cursors = self.live_cursor, self.backlog_cursor
            picked = self._next_rows()
            if picked is None:
                return
            from_seq, rows = picked
            plaintext = wire.batch_plaintext([(body, digest) for _, body, digest in rows])
            header = {"first_seq": rows[0][0], "last_seq": rows[-1][0], "from_seq": from_seq,
                      "count": len(rows), "backlog": self.relay.backlog()}
            frames = self.relay.sealer.seal(header, plaintext, self.relay.counter())
            try:
                self.sock.send_multipart([wire.BATCH, *frames], flags=zmq.NOBLOCK)
            except zmq.Again:
                self.live_cursor, self.backlog_cursor = cursors  # not sent: not skipped either
                return
            self.sent += 1
            self.inflight[rows[0][0]] = (rows[-1][0], self.sent)

    def _handle(self, frames: list[bytes]) -> None:
        relay = self.relay
        if frames[0] == wire.NACK and _refuses_link(frames[1:]):
            # A refused hello/ping (revoked, or keys unknown): the hub is not answering us, so
            # let the session time out and back off instead of pinging it every second.
            relay.state.refused = [*relay.state.refused, _nack_reason(frames[1:])][-20:]
            log.error("hub refused this box: %s", relay.state.refused[-1])
            return
        if not relay.state.hub_connected or time.monotonic() - relay.noted_at > 5:
            relay.note_link(True)
        self.heard_at = time.monotonic()
        self.answered = True
        kind, body_frames = frames[0], frames[1:]
        try:
            body = wire.decode_json(body_frames, kind) if kind not in SIGNED_DOCUMENTS else \
                json.loads(body_frames[0])
        except (wire.WireError, ValueError, IndexError) as exc:
            log.warning("bad message from hub: %s", exc)
            return
        if kind in (wire.ACK, wire.PONG):
            acked = int(body.get("acked_seq", 0))
            held = relay.state.rebase_pending or not relay.accepts_ack(acked)
            if held and kind == wire.PONG and self.asked:
                self.asked.popleft()  # answered, though nothing was sent to be resent
            if relay.state.rebase_pending:
                if kind == wire.PONG and isinstance(body.get("rebase"), dict):
                    relay.rebase(acked, body["rebase"])
                    self.reconnect = True
                return  # nothing is sent, or acked, before the hub said where to continue
            if held:
                return
            self.ack_seen = max(self.ack_seen, acked)
            applied = body.get("applied")
            if applied:
                self.inflight.pop(int(applied[0]), None)
            for first, (last, _) in list(self.inflight.items()):
                if last <= self.ack_seen:
                    del self.inflight[first]
            if kind == wire.PONG:
                self._record_ack()
                applying = body.get("applying")
                self._resend_lost(set(applying) if isinstance(applying, list) else set())
        elif kind == wire.NACK:
            relay.state.refused.append(str(body.get("reason")))
            relay.state.refused = relay.state.refused[-20:]
            log.error("hub refused batch %s-%s: %s", body.get("first_seq"),
                      body.get("last_seq"), body.get("reason"))
            first = body.get("first_seq")  # null when the refusal is not about a batch
            if isinstance(first, int):
                self.inflight.pop(first, None)
        elif kind == wire.RESEND:
            self._rewind(int(body.get("from_seq", 1)))
        elif kind == wire.CONFIG:
            self._send_json(wire.CONFIG_ACK, {"box_id": relay.identity.box_id,
                                              **relay.apply_config(body)})
        elif kind == wire.SNAPSHOT_REQUEST:
            self._send_json(wire.SNAPSHOT, relay.answer_snapshot(body))

    def _resend_lost(self, applying: set[int]) -> None:
        """Send again from the cumulative ack if a batch was lost on the way (hub restarted
        within the heartbeat timeout, or it failed on the batch without answering).

        The hub answers each connection's messages in order, so a pong answers the oldest
        hello/ping still unanswered, or a later one if some were lost: a batch sent before
        that ping and still not acked will never be, unless the pong lists it as one the hub is
        still ``applying`` (a hub on PostgreSQL applies batches on worker threads and answers
        pings meanwhile; ``applying`` holds their first sequence numbers).
        """
        if not self.asked:
            return
        answered = self.asked.popleft()
        lost = sorted(first for first, (_, sent) in self.inflight.items()
                      if sent < answered and first not in applying)
        if lost:
            log.warning("batches from %s lost on the way to the hub; sending again from %s",
                        lost, self.relay.state.acked_seq + 1)
            self._rewind(max(self.relay.state.acked_seq, self.ack_seen) + 1)

    def _rewind(self, from_seq: int) -> None:
        """Send the backlog again from ``from_seq``; live rows sent so far join the backlog."""
        self.backlog_cursor = max(1, from_seq)
        self.split = max(self.split, self.live_cursor - 1)
        self.inflight.clear()


def _refuses_link(body_frames: list[bytes]) -> bool:
    """A nack that answers no batch (``first_seq`` null): the hub refused hello or ping."""
    try:
        return wire.decode_json(body_frames, wire.NACK).get("first_seq") is None
    except wire.WireError:
        return False


def _nack_reason(body_frames: list[bytes]) -> str:
    return str(wire.decode_json(body_frames, wire.NACK).get("reason"))
