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
unsent rows (edge/relayoutbox.py) before it sends anything.

What the relay does to the outbox table (reading rows, recording acks, renumbering) is in
edge/relayoutbox.py; one connection's conversation on the socket is in edge/relaysession.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from edge.relayoutbox import (NONCE_BLOCK, REBASE, read_rows, record_ack, renumber,
                              reserve_nonces)
from edge.relaysession import Session
from edge.store import Store
from edge.storeschema import OUTBOX_BYTES, get_meta, set_meta
from edge.storetx import Tx, iso, senders_limit
from standard import wire
from standard.envelope import GENESIS, EnvelopeError, Sealer, verify_document
from standard.identity import BoxIdentity, HubPublic, IdentityError, load_box_identity

log = logging.getLogger(__name__)

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
        self.sealer = Sealer(identity.seal_private, hub.seal_public, identity.sign_private,
                              identity.box_id)
        # Key rotation (provision rotate) replaces this file; the relay then reconnects with
        # the new keys. The outbox is keyed by seq, not by key, so nothing queued is lost.
        self.identity_path = identity_path
        self._identity_stamp = self._file_stamp()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._nonce_next = 0
        self._nonce_limit = 0
        self._ack_submitted = 0  # the highest ack handed to the store
        self.noted_at = 0.0

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self.state.acked_seq = int(self.meta("relay_acked_seq", "0"))
        self.state.rebase_pending = self.meta(REBASE, "") == "pending"
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread:
            self._thread.join(timeout=10)

    def meta(self, key: str, default: str) -> str:
        with self.store.read() as db:
            return get_meta(db.conn, key, default) or default

    # -- outbox -------------------------------------------------------------------------
    def last_seq(self) -> int:
        with self.store.read() as db:
            row = db.conn.execute("select max(seq) from outbox").fetchone()
        return max(row[0] or 0, self.state.acked_seq)

    def backlog(self) -> int:
        return max(self.last_seq() - self.state.acked_seq, 0)

    def rows(self, start: int, stop: int | None) -> list[tuple[int, bytes, bytes]]:
        """The next batch's records from ``start`` (to ``stop``); ``OutboxBroken`` if one is gone."""
        with self.store.read() as db:
            return read_rows(db.conn, start, stop, limit=self.settings.batch_size)

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
        return int(self.meta(OUTBOX_BYTES, "0"))

    def measure(self) -> None:
        self.state.outbox_bytes = self.outbox_bytes()
        if self.on_quota:
            self.on_quota(self.state.outbox_bytes / self.settings.quota_bytes)

    def counter(self) -> int:
        """Next nonce counter; a block is reserved on disk before any of it is used."""
        if self._nonce_next >= self._nonce_limit:
            self._nonce_next = self.store.write(reserve_nonces)
            self._nonce_limit = self._nonce_next + NONCE_BLOCK
        counter = self._nonce_next
        self._nonce_next += 1
        return counter

    # -- the box's own sequence ----------------------------------------------------------
    def accepts_ack(self, acked_seq: int) -> bool:
        """False (and relaying held) when the hub acks beyond the last record this store made:
        it holds records of another database of this box, which these must not be taken for."""
        made = int(self.meta("chain_seq", "0"))
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
        moved = self.store.write(lambda tx: renumber(tx, hub_acked, base, start))
        self.state.acked_seq = hub_acked
        self.state.rebase_pending = False
        log.warning("after re-initialisation: %d records renumbered to follow the hub's %d",
                    moved, base)

    def acked(self, acked_seq: int, *, wait: bool = True) -> None:
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
        future = self.store.submit(lambda tx: record_ack(tx, acked_seq, retention))
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
        self.sealer = Sealer(identity.seal_private, self.hub.seal_public,
                              identity.sign_private, identity.box_id)
        log.warning("box keys rotated: relaying with the new keys")
        return True

    def _run(self) -> None:
        context = zmq.Context()
        backoff = BACKOFF_START
        silent = 0  # endpoints tried in a row without an answer
        try:
            while not self.stopping.is_set():
                if self.identity_changed():
                    self.reload_identity()
                self.state.endpoint = self.endpoint
                try:
                    heard = self._session(context)
                    self.note_link(False)
                except Exception:  # a bug or a full disk must not end relaying for good
                    log.exception("relay session failed; reconnecting")
                    self.state.hub_connected, heard = False, False
                if self.stopping.is_set():
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
                self.stopping.wait(backoff)
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
        session = Session(self, sock)
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
