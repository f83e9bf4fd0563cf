"""The relay: the box's outbox to the city hub, sealed and signed, over DEALER/CURVE.

The disk outbox is the queue; ZeroMQ's queues are never trusted for durability. The relay
reads rows in order, seals batches (a nonce counter reserved on disk before use), keeps a
window of batches in flight and marks rows acknowledged only on the hub's cumulative ack.
Acknowledged rows are pruned after a retention period, so the hub can still ask for a
resend (repair) of recent history.

Live records go first: at every (re)connection the rows that exist are "backlog"; rows made
after that are sent ahead of it, so a hall back online shows its current state at once.

Failover: a box may know several hub endpoints (several receivers sharing one PostgreSQL
database). When the one in use goes quiet the relay connects to the next at once, and backs
off only after every endpoint failed to answer. Batches in flight are simply sent again to
the next receiver: the hub applies each (box, seq) once, whichever receiver got it.

The box's sequence is its own. An acknowledgement beyond the last record this store made
(the hub holds records of a database this box no longer has) is refused, relaying stops and
the 序号异常 alert says what to do. After ``hallwatch edge reinit`` (edge/reinit.py) the store
is ``rebase = pending``: the hello asks the hub where to continue, and the relay renumbers its
unsent rows to follow the hub's last sequence for this box, chained from the hub's last hash,
before it sends anything.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from edge.store import OUTBOX_BYTES, Store, Tx, get_meta, iso, senders_limit, set_meta
from standard import wire
from standard.envelope import GENESIS, EnvelopeError, Sealer, chain_hash, verify_document
from standard.identity import BoxIdentity, HubPublic, IdentityError, load_box_identity

log = logging.getLogger(__name__)

REBASE = "rebase"  # meta: "pending" after edge reinit (edge/reinit.py)
NONCE_BLOCK = 1024
HEARTBEAT_SECONDS = 1.0
HUB_LOST_SECONDS = 3.0
BACKOFF_START, BACKOFF_MAX = 1.0, 32.0
MIN_FREE_DISK = 64 * 1024 * 1024


@dataclass
class RelaySettings:
    # A batch takes what is waiting, up to batch_size records: a live record goes alone at
    # once, a backlog goes in large batches (one hub commit and one ack per batch).
    batch_size: int = 4000
    window: int = 8
    # Records in flight at most, so that a live record queued behind a backlog at the hub
    # waits for a bounded amount of work (bench/bench_relay.py measures that latency).
    inflight_records: int = 16_000
    quota_bytes: int = 1024 * 1024 * 1024
    retention_seconds: float = 7 * 24 * 3600
    poll_seconds: float = 0.05


@dataclass
class RelayState:
    """What the box knows of its link, for ``edge status`` and the health page."""

    hub_connected: bool = False
    acked_seq: int = 0
    last_ack_at: str | None = None
    reconnects: int = 0
    endpoint: str = ""  # the hub endpoint in use (or last tried)
    outbox_bytes: int = 0
    refused: list[str] = field(default_factory=list)
    rebase_pending: bool = False  # after edge reinit, until the hub said where to continue
    hub_ahead: int | None = None  # the hub acked beyond this store's last record: relaying held


ConfigHandler = Callable[[str, int, dict], None]
SIGNED_DOCUMENTS = (wire.CONFIG, wire.SNAPSHOT_REQUEST)  # one frame: a signed JSON document


class Relay:
    """Runs on its own thread; ``start()``/``stop()`` from the composition root."""

    def __init__(self, store: Store, identity: BoxIdentity, hub: HubPublic,
                 endpoints: str | list[str], settings: RelaySettings, *,
                 on_config: ConfigHandler | None = None,
                 on_quota: Callable[[float], None] | None = None,
                 on_snapshot: Callable[[dict], dict] | None = None,
                 on_sequence: Callable[[str | None], None] | None = None,
                 identity_path: Path | None = None):
        self.store = store
        self.identity = identity
        self.hub = hub
        self.endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        if not self.endpoints:
            raise ValueError("a relay needs at least one hub endpoint")
        self._current = 0
        self.settings = settings
        self.on_config = on_config
        self.on_quota = on_quota
        self.on_snapshot = on_snapshot  # the hub asks for a window's picture (edge/presence/live.py)
        self.on_sequence = on_sequence  # the 序号异常 alert: a problem, or None when it is over
        self.state = RelayState()
        self._sealer = Sealer(identity.seal_private, hub.seal_public, identity.sign_private,
                              identity.box_id)
        # Key rotation (provision rotate) replaces this file; the relay then reconnects with
        # the new keys. The outbox is keyed by seq, not by key, so nothing queued is lost.
        self.identity_path = identity_path
        self._identity_stamp = self._file_stamp()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._nonce_next = 0
        self._nonce_limit = 0
        self._ack_submitted = 0  # the highest ack handed to the store
        self.noted_at = 0.0

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.state.acked_seq = int(self._meta("relay_acked_seq", "0"))
        self.state.rebase_pending = self._meta(REBASE, "") == "pending"
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _meta(self, key: str, default: str) -> str:
        with self.store.read() as db:
            return get_meta(db.conn, key, default) or default

    # -- outbox -------------------------------------------------------------------------
    def last_seq(self) -> int:
        with self.store.read() as db:
            row = db.conn.execute("select max(seq) from outbox").fetchone()
        return max(row[0] or 0, self.state.acked_seq)

    def backlog(self) -> int:
        return max(self.last_seq() - self.state.acked_seq, 0)

    def _rows(self, start: int, stop: int | None) -> list[tuple[int, bytes, bytes]]:
        # The body as stored, as bytes: it is framed as is (standard/wire.py), never re-encoded.
        sql = "select seq, cast(body as blob), hash from outbox where seq >= ?"
        params: list = [start]
        if stop is not None:
            sql += " and seq <= ?"
            params.append(stop)
        sql += " order by seq limit ?"
        params.append(self.settings.batch_size)
        with self.store.read() as db:
            return db.conn.execute(sql, params).fetchall()

    def full(self) -> str | None:
        """Why new platform records must be refused now, or None (business rows never drop).

        This is the quick answer before reading a request; the exact one is the ingest
        transaction's own (``Tx.limit_outbox``), which refuses a write that would pass the quota.
        """
        self.state.outbox_bytes = self.outbox_bytes()
        if self.state.outbox_bytes >= senders_limit(self.settings.quota_bytes):
            return "发件队列已满（中心长时间未确认），请稍后重试 (outbox quota reached)"
        if shutil.disk_usage(self.store.path.parent).free < MIN_FREE_DISK:
            return "磁盘空间不足，请稍后重试 (disk almost full)"
        return None

    def outbox_bytes(self) -> int:
        """UTF-8 bytes of the outbox rows the hub has not acknowledged (kept by the store)."""
        return int(self._meta(OUTBOX_BYTES, "0"))

    def _measure(self) -> None:
        self.state.outbox_bytes = self.outbox_bytes()
        if self.on_quota:
            self.on_quota(self.state.outbox_bytes / self.settings.quota_bytes)

    def _counter(self) -> int:
        """Next nonce counter; a block is reserved on disk before any of it is used."""
        if self._nonce_next >= self._nonce_limit:
            def reserve(tx: Tx) -> int:
                start = int(get_meta(tx.conn, "relay_nonce_next", "1"))
                set_meta(tx.conn, "relay_nonce_next", str(start + NONCE_BLOCK))
                return start
            self._nonce_next = self.store.write(reserve)
            self._nonce_limit = self._nonce_next + NONCE_BLOCK
        counter = self._nonce_next
        self._nonce_next += 1
        return counter

    # -- the box's own sequence ----------------------------------------------------------
    def accepts_ack(self, acked_seq: int) -> bool:
        """False (and relaying held) when the hub acks beyond the last record this store made:
        it holds records of another database of this box, which these must not be taken for."""
        made = int(self._meta("chain_seq", "0"))
        if acked_seq <= made:
            if self.state.hub_ahead is not None:
                self.state.hub_ahead = None
                self._sequence_problem(None)
            return True
        if self.state.hub_ahead != acked_seq:
            self.state.hub_ahead = acked_seq
            problem = (f"市中心已确认本箱体的记录到序号 {acked_seq}，但本机数据库只有到 {made} 的记录："
                       "数据库可能被清空、替换或从旧备份恢复。已暂停上传，以免新记录被当作已收到的"
                       "记录；请技术员核查，确认后运行 hallwatch edge reinit --config box.toml "
                       f"--confirm (hub acked {acked_seq}, this store made {made}: relaying held)")
            log.error("%s", problem)
            self._sequence_problem(problem)
        return False

    def _sequence_problem(self, problem: str | None) -> None:
        def record(tx: Tx) -> None:
            set_meta(tx.conn, "relay_hub_ahead", str(self.state.hub_ahead or ""))
        self.store.write(record)
        if self.on_sequence is not None:
            self.on_sequence(problem)

    def rebase(self, hub_acked: int, answer: dict) -> None:
        """After edge reinit: renumber every row (none was sent) to follow ``base_seq``, the
        hub's last sequence for this box, chained from the hub's hash when it gives one."""
        base = int(answer.get("base_seq") or 0)
        start = bytes.fromhex(answer["chain_hash"]) if answer.get("chain_hash") else GENESIS
        hub_acked = min(hub_acked, base)

        def apply(tx: Tx) -> int:
            if get_meta(tx.conn, REBASE) != "pending":
                return 0
            rows = tx.conn.execute("select seq, kind, body, created_at from outbox"
                                   " order by seq").fetchall()
            digest, moved, size = start, [], 0
            for seq, kind, body, created in rows:
                head = f'{{"seq":{seq},'
                text = f'{{"seq":{seq + base},' + body[len(head):]
                encoded = text.encode("utf-8")
                digest = chain_hash(digest, encoded)
                size += len(encoded)
                moved.append((seq + base, kind, text, digest, created))
            tx.conn.execute("delete from outbox")
            tx.conn.executemany("insert into outbox (seq, kind, body, hash, created_at)"
                                " values (?, ?, ?, ?, ?)", moved)
            set_meta(tx.conn, "chain_seq", str(moved[-1][0] if moved else base))
            set_meta(tx.conn, "chain_hash", digest.hex())
            set_meta(tx.conn, "relay_acked_seq", str(hub_acked))
            set_meta(tx.conn, OUTBOX_BYTES, str(size))
            set_meta(tx.conn, "rebased", json.dumps({"base_seq": base, "hub_acked": hub_acked,
                                                     "at": iso(tx.now)}))
            tx.conn.execute("delete from meta where key = ?", (REBASE,))
            return len(moved)

        moved = self.store.write(apply)
        self.state.acked_seq = hub_acked
        self.state.rebase_pending = False
        log.warning("after re-initialisation: %d records renumbered to follow the hub's %d",
                    moved, base)

    def _acked(self, acked_seq: int, *, wait: bool = True) -> None:
        """Record the hub's cumulative ack (and prune past the retention) in the store.

        The session does not wait (``wait=False``): the write joins the store's next group
        while the relay seals and sends the next batches. Acks are cumulative, so one that is
        late or lost in a power cut only means rows are sent again, and the hub acks those as
        duplicates.
        """
        if acked_seq <= max(self.state.acked_seq, self._ack_submitted):
            return
        self._ack_submitted = acked_seq
        retention = dt.timedelta(seconds=self.settings.retention_seconds)

        def record(tx: Tx) -> None:
            before = int(get_meta(tx.conn, "relay_acked_seq", "0"))
            freed = tx.conn.execute(
                "select coalesce(sum(length(cast(body as blob))), 0) from outbox"
                " where seq > ? and seq <= ?", (before, acked_seq)).fetchone()[0]
            used = int(get_meta(tx.conn, OUTBOX_BYTES, "0"))
            set_meta(tx.conn, OUTBOX_BYTES, str(max(used - freed, 0)))
            set_meta(tx.conn, "relay_acked_seq", str(acked_seq))
            # Old rows are at the front: find the first one to keep rather than scan every
            # acked row on each ack (that made a long drain quadratic). If the clock stepped
            # back, rows after a young one wait for it: more is kept, never less.
            keep = tx.conn.execute(
                "select seq from outbox where seq <= ? and created_at >= ? order by seq limit 1",
                (acked_seq, iso(tx.now - retention))).fetchone()
            tx.conn.execute("delete from outbox where seq < ?",
                            (keep[0] if keep else acked_seq + 1,))
        future = self.store.submit(record)
        future.add_done_callback(lambda done: self._ack_recorded(done, acked_seq))
        if wait:
            future.result(timeout=60)

    def _ack_recorded(self, done, acked_seq: int) -> None:
        if done.exception() is not None:
            log.warning("the hub's ack up to %s was not recorded: %s", acked_seq,
                        done.exception())
            self._ack_submitted = self.state.acked_seq  # the next ack records it
            return
        if acked_seq > self.state.acked_seq:
            self.state.acked_seq = acked_seq
            self.state.last_ack_at = iso(dt.datetime.now(dt.timezone.utc))

    # -- the link -----------------------------------------------------------------------
    def _socket(self, context: zmq.Context) -> zmq.Socket:
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_secretkey = self.identity.curve_secret
        sock.curve_publickey = self.identity.curve_public
        sock.curve_serverkey = self.hub.curve_public
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.connect(self.endpoint)
        return sock

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current]

    def _next_endpoint(self) -> None:
        self._current = (self._current + 1) % len(self.endpoints)

    # -- key rotation -------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.identity_path is None:
            return None
        try:
            info = os.stat(self.identity_path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def identity_changed(self) -> bool:
        """True when the identity file was replaced since the keys in use were read."""
        return self.identity_path is not None and self._file_stamp() != self._identity_stamp

    def reload_identity(self) -> bool:
        """Use the keys now in the identity file (same box id); False if they are unusable."""
        stamp = self._file_stamp()
        try:
            identity = load_box_identity(self.identity_path)
        except (IdentityError, OSError) as exc:
            log.error("new box keys not usable, keeping the old ones: %s", exc)
            return False
        finally:
            self._identity_stamp = stamp
        if identity.box_id != self.identity.box_id:
            log.error("%s now holds box %s, not %s: keys not changed", self.identity_path,
                      identity.box_id, self.identity.box_id)
            return False
        self.identity = identity
        self._sealer = Sealer(identity.seal_private, self.hub.seal_public,
                              identity.sign_private, identity.box_id)
        log.warning("box keys rotated: relaying with the new keys")
        return True

    def _run(self) -> None:
        context = zmq.Context()
        backoff = BACKOFF_START
        silent = 0  # endpoints tried in a row without an answer
        try:
            while not self._stop.is_set():
                if self.identity_changed():
                    self.reload_identity()
                self.state.endpoint = self.endpoint
                try:
                    heard = self._session(context)
                    self.note_link(False)
                except Exception:  # a bug or a full disk must not end relaying for good
                    log.exception("relay session failed; reconnecting")
                    self.state.hub_connected, heard = False, False
                if self._stop.is_set():
                    break
                self.state.reconnects += 1
                silent = 0 if heard else silent + 1
                if len(self.endpoints) > 1:
                    lost = self.endpoint
                    self._next_endpoint()
                    if silent < len(self.endpoints):  # another endpoint to try: at once
                        log.warning("hub %s lost; failing over to %s", lost, self.endpoint)
                        continue
                backoff = BACKOFF_START if heard else min(backoff * 2, BACKOFF_MAX)
                log.info("hub link lost; reconnecting in %.0f s", backoff)
                self._stop.wait(backoff)
        finally:
            context.destroy(linger=0)

    def note_link(self, connected: bool) -> None:
        """Keep the link state on disk too, for ``edge status`` in another process."""
        self.state.hub_connected = connected
        self.noted_at = time.monotonic()
        heard = iso(dt.datetime.now(dt.timezone.utc)) if connected else None

        endpoint = self.endpoint

        def record(tx: Tx) -> None:
            set_meta(tx.conn, "relay_connected", "1" if connected else "0")
            if heard:
                set_meta(tx.conn, "relay_heard_at", heard)
                set_meta(tx.conn, "relay_endpoint", endpoint)
        self.store.write(record)

    def _session(self, context: zmq.Context) -> bool:
        """One connection until the hub goes quiet; True if the hub answered at all."""
        sock = self._socket(context)
        session = _Session(self, sock)
        try:
            return session.run()
        finally:
            sock.close(linger=0)

    def apply_config(self, body: dict) -> dict:
        """Verify a signed config document from the hub and hand it to the box."""
        try:
            payload = verify_document(body, self.hub.sign_public)
        except EnvelopeError as exc:
            log.warning("config from hub refused: %s", exc)
            return {"kind": body.get("kind"), "doc_version": body.get("doc_version"),
                    "ok": False, "error": str(exc)}
        kind, version = body["kind"], int(body["doc_version"])
        try:
            if self.on_config:
                self.on_config(kind, version, payload)
        except Exception as exc:  # a bad document must not stop the relay
            log.warning("config %s v%s not applied: %s", kind, version, exc)
            return {"kind": kind, "doc_version": version, "ok": False, "error": str(exc)}
        return {"kind": kind, "doc_version": version, "ok": True, "error": None}


    def answer_snapshot(self, body: dict) -> dict:
        """Verify the hub's signed snapshot request and answer it (JPEG or why not)."""
        answer: dict = {"box_id": self.identity.box_id, "request_id": body.get("doc_version"),
                        "window_no": None, "jpeg": None, "error": None, "taken_at": None}
        try:
            request = verify_document(body, self.hub.sign_public, kind=wire.SNAPSHOT_REQUEST_KIND)
            if request.get("box_id") != self.identity.box_id:
                raise EnvelopeError(f"the request is for box {request.get('box_id')}")
            expires = dt.datetime.fromisoformat(str(request.get("expires_at")))
            if expires < dt.datetime.now(dt.timezone.utc):
                raise EnvelopeError(f"the request expired at {request.get('expires_at')}")
        except (EnvelopeError, ValueError, TypeError) as exc:
            log.warning("snapshot request from hub refused: %s", exc)
            return {**answer, "error": f"请求无效，盒子拒绝：{exc}"}
        if self.on_snapshot is None:
            return {**answer, "window_no": request.get("window_no"),
                    "error": "本盒子未接入摄像头"}
        try:
            return {**answer, **self.on_snapshot(request), "box_id": self.identity.box_id}
        except Exception as exc:  # a camera's trouble must not stop the relay
            log.exception("snapshot for the hub failed")
            return {**answer, "window_no": request.get("window_no"), "error": f"截图失败：{exc}"}


class _Session:
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
                 "configs": json.loads(relay._meta("config_versions", "{}"))}
        if relay.state.rebase_pending:
            hello.update(rebase=True, store_id=relay._meta("store_id", ""))
        self._send_json(wire.HELLO, hello)
        last_ping = last_measure = 0.0
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not relay._stop.is_set() and not self.reconnect:
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
                relay._measure()
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
        self.relay._acked(self.ack_seen, wait=False)

    def _send_json(self, kind: bytes, body: dict) -> None:
        try:
            self.sock.send_multipart(wire.encode(kind, body), flags=zmq.NOBLOCK)
        except zmq.Again:
            return  # the hub is not there; heartbeats will notice
        self.sent += 1
        if kind in (wire.HELLO, wire.PING):
            self.asked.append(self.sent)

    def _next_rows(self) -> tuple[int, list] | None:
        live = self.relay._rows(self.live_cursor, None)
        if live:
            start = self.live_cursor
            self.live_cursor = live[-1][0] + 1
            return start, live
        if self.backlog_cursor <= self.split:
            rows = self.relay._rows(self.backlog_cursor, self.split)
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
            frames = self.relay._sealer.seal(header, plaintext, self.relay._counter())
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
