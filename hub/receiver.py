"""The hub's receiver: a ROUTER socket with CurveZMQ that applies every box's batches once.

Each batch is checked in order: the CURVE key that carried it belongs to an enrolled box that
is not revoked (ZAP, then again per batch), the batch claims that same box, its Ed25519
signature verifies, it decrypts (hub/batch_open.py, off the socket thread:
hub/opener_thread.py); then a worker thread applies its records by (box, seq) in one
transaction, with whatever other batches wait (a group commit, hub/apply_pool.py), and only
then is it acknowledged. Anything refused is answered with a nack and counted
in ``refusals``, one row per sender, reason and episode (hub/store.py), and logged at most
once a minute per row: a revoked box retrying ten times a second fills neither the disk nor
the log. No bad batch can stop the loop or disturb another box.

At a hello the receiver also sees to a box whose database started over (hub/boxreset.py): it
raises an integrity alert and, for a box re-initialised by ``hallwatch edge reinit``, tells it
in the pong where its new records continue.

Once a second the receiver also re-reads the enrolled boxes (a revocation takes effect without
a restart), sends the commands that ``hub resend`` queued in the store, and pushes config
documents (``hub publish``) newer than what each connected box holds.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq
from zmq.auth.thread import ThreadAuthenticator

from hub.apply_pool import GROUP_RECORDS, ApplyPool, Job
from hub.batch_open import BatchRefused, int_or_none as _int, peek_range
from hub.opener_thread import BatchOpening
from hub.box_commands import send_pending
from hub.boxreset import check_behind, rebase_answer
from hub.configpush import ConfigPush
from hub.logthrottle import LogThrottle
from hub.snapshots import SnapshotDesk
from hub.storage.engines import unavailable_errors
from hub.store import REFUSAL_WINDOW_SECONDS, Applied, HubStore, utc_iso
from standard import wire
from standard.boxregistry import EnrolledBox
from standard.envelope import Opener
from standard.identity import HubIdentity

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 1.0
CONNECTED_SECONDS = 5.0  # a box heard from this recently is connected (it pings every second)
TOUCH_SECONDS = 3.0  # a ping writes the box's last_seen at most this often ([web] online 10 s)


class _Credentials:
    """ZAP callback: only enrolled, unrevoked boxes' CURVE keys may connect."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver

    def callback(self, domain: str, key: bytes) -> bool:
        box = self.receiver.box_by_curve(key)
        if box is None or box.revoked:
            reason = (f"connection refused: box {box.box_id} is revoked" if box else
                      f"connection refused: CURVE key {key[:8].decode(errors='replace')}… "
                      "is not enrolled")
            source = box.box_id if box else _key_source(key)
            self.receiver.note_refusal(box.box_id if box else None, source, reason)
            return False
        return True


@dataclass
class ReceiverStats:
    """What the receiver did since it started (``refused`` counts every refusal)."""

    batches: int = 0
    records: int = 0
    refused: int = 0
    last_refusal: str = ""
    sessions: dict[str, bytes] = field(default_factory=dict)  # box_id -> routing id


class Receiver:
    def __init__(self, store: HubStore, identity: HubIdentity, bind: str,
                 load_boxes: Callable[[], dict[str, EnrolledBox]], *, apply_workers: int = 1):
        """Batches are applied by a pool's worker threads, in group commits (hub/apply_pool.py):
        ``apply_workers`` of them on PostgreSQL, one on SQLite (one writer)."""
        self.store = store
        self.identity = identity
        self.bind = bind
        self.load_boxes = load_boxes
        self.boxes: dict[str, EnrolledBox] = {}
        self._by_curve: dict[bytes, EnrolledBox] = {}
        self._lock = threading.Lock()
        self.opener = Opener(identity.seal_private)
        self.snapshots = SnapshotDesk(store, lambda: dt.datetime.now(dt.timezone.utc))
        self.stats = ReceiverStats()
        self.bound_endpoint = ""
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._outgoing: list[tuple[str, list[bytes]]] = []
        self._heard: dict[str, float] = {}  # box_id -> monotonic time last heard from
        self.configs = ConfigPush(store, self.send_to)
        self._refusal_log = LogThrottle(REFUSAL_WINDOW_SECONDS)
        self._db_log = LogThrottle(10.0)
        self.apply_workers = apply_workers if store.is_postgres else 1
        self._pool: ApplyPool | None = None
        self._opening: BatchOpening | None = None
        self._replies: list[tuple[bytes, list[bytes]]] = []
        self._applying: dict[str, Counter] = {}  # box_id -> first seqs of its batches in the pool
        self._marks: dict[str, tuple[int, float]] = {}  # box_id -> (acked mark, when written)

    # -- enrolled boxes -----------------------------------------------------------------
    def reload_boxes(self) -> None:
        try:
            boxes = self.load_boxes()
        except Exception as exc:  # a damaged box file must not unenroll every box
            log.error("cannot reload the enrolled boxes, keeping the previous list: %s", exc)
            return
        with self._lock:
            self.boxes = boxes
            self._by_curve = {box.curve_public: box for box in boxes.values()}

    def box_by_curve(self, key: bytes) -> EnrolledBox | None:
        with self._lock:
            box = self._by_curve.get(key)
        if box is None:  # enrolled since we last looked?
            self.reload_boxes()
            with self._lock:
                box = self._by_curve.get(key)
        return box

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._pool = ApplyPool(self.store, self.apply_workers, self._applied,
                               self._database_unavailable)
        self._opening = BatchOpening(self.opener, self._pool, self._not_opened,
                                     room_records=GROUP_RECORDS * (self.apply_workers + 1))
        self.reload_boxes()
        self._thread = threading.Thread(target=self._run, name="hub-receiver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"receiver did not bind {self.bind}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self._opening is not None:
            self._opening.stop()
        if self._pool is not None:
            self._pool.stop()

    def _reply(self, route: bytes, frames: list[bytes]) -> None:
        with self._lock:
            self._replies.append((route, frames))

    def _database_unavailable(self, exc: BaseException) -> None:
        if self._db_log.due("database"):
            log.error("the hub database is unavailable; batches are not acknowledged until it"
                      " is back: %s", _first_line(exc))

    def send_to(self, box_id: str, frames: list[bytes]) -> None:
        """Queue a message for a box (sent by the receiver thread; dropped if never seen)."""
        with self._lock:
            self._outgoing.append((box_id, frames))

    def _run(self) -> None:
        context = zmq.Context()
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_curve_callback("*", credentials_provider=_Credentials(self))
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        sock.curve_server = True
        sock.curve_secretkey = self.identity.curve_secret
        sock.curve_publickey = self.identity.curve_public
        try:
            sock.bind(self.bind)
            self.bound_endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        finally:
            self._ready.set()
        housekept = 0.0
        unavailable = unavailable_errors()
        try:
            while not self._stop.is_set():
                if time.monotonic() - housekept >= HOUSEKEEPING_SECONDS:
                    housekept = time.monotonic()
                    try:
                        self._housekeeping()
                    except unavailable as exc:  # busy or restarting: try again next second
                        if self._db_log.due("database"):
                            log.error("housekeeping: the hub database is unavailable: %s",
                                      _first_line(exc))
                    except Exception:
                        log.exception("housekeeping failed")
                self._flush_outgoing(sock)
                with self._lock:
                    busy = any(self._applying.values())
                if not sock.poll(2 if busy else 100):  # acks come from the pool's workers
                    continue
                frames = sock.recv_multipart(copy=False)
                try:
                    self._handle(sock, frames)
                except unavailable as exc:  # not acknowledged: the box sends it again
                    self._database_unavailable(exc)
                except Exception:  # a bug on one message must not stop the hub
                    log.exception("unexpected error handling a message")
        finally:
            sock.close(linger=0)
            auth.stop()
            context.term()

    def _flush_outgoing(self, sock: zmq.Socket) -> None:
        with self._lock:
            pending, self._outgoing = self._outgoing, []
            replies, self._replies = self._replies, []
        for route, frames in replies:
            sock.send_multipart([route, *frames])
        for box_id, frames in pending:
            route = self.stats.sessions.get(box_id)
            if route is not None:
                sock.send_multipart([route, *frames])

    # -- messages -----------------------------------------------------------------------
    def _handle(self, sock: zmq.Socket, frames: list[zmq.Frame]) -> None:
        route = frames[0].bytes
        curve_key = frames[-1].get("User-Id").encode() if len(frames) > 1 else b""
        kind = frames[1].bytes if len(frames) > 1 else b""
        body = [frame.bytes for frame in frames[2:]]
        sender = self.box_by_curve(curve_key)
        if sender is None:
            self._refuse(sock, route, None, f"box key {curve_key[:8]!r} is not enrolled",
                         source=_key_source(curve_key))
            return
        if sender.revoked:
            self._refuse(sock, route, sender.box_id,
                         f"box {sender.box_id} is revoked: {kind[:20].decode(errors='replace')}"
                         " refused")
            return
        self.stats.sessions[sender.box_id] = route
        self._heard[sender.box_id] = time.monotonic()
        if kind == wire.BATCH:
            self._batch(sock, route, sender, body)
        elif kind in (wire.HELLO, wire.PING):
            self._heartbeat(sock, route, sender, kind, body)
        elif kind == wire.CONFIG_ACK:
            self.configs.acked(sender.box_id, wire.decode_json(body, kind))
        elif kind == wire.SNAPSHOT:
            if problem := self.snapshots.received(sender.box_id, body):
                self.note_refusal(sender.box_id, sender.box_id, problem)
        else:
            self._refuse(sock, route, sender.box_id, f"unknown message type {kind[:20]!r}")

    def note_refusal(self, box_id: str | None, source: str, reason: str) -> None:
        """Count a refusal in the stats and in ``refusals``; log it at most once a window."""
        with self._lock:
            self.stats.refused += 1
            self.stats.last_refusal = reason
        refusal = self.store.refuse(box_id, reason, source=source)
        if self._refusal_log.due(refusal.id):
            repeats = (f" ({refusal.count} times since {refusal.first_at})"
                       if refusal.count > 1 else "")
            log.warning("refused from %s: %s%s", box_id or source, reason, repeats)

    def _refuse(self, sock, route, box_id: str | None, reason: str, first=None, last=None,
                source: str = ""):
        self.note_refusal(box_id, source or box_id or "", reason)
        sock.send_multipart([route, *wire.encode(wire.NACK, {"first_seq": first,
                                                             "last_seq": last,
                                                             "reason": reason})])

    def _heartbeat(self, sock, route, sender: EnrolledBox, kind: bytes, body) -> None:
        try:
            message = wire.decode_json(body, kind)
        except wire.WireError as exc:
            self._refuse(sock, route, sender.box_id, str(exc))
            return
        box_acked = _int(message.get("acked_seq")) if kind == wire.HELLO else None
        rebase = kind == wire.HELLO and message.get("rebase") is True

        def pong() -> list[bytes]:
            with self._lock:
                applying = sorted(self._applying.get(sender.box_id, ()))
                acked, touched = self._marks.get(sender.box_id, (None, 0.0))
            if acked is not None and kind == wire.PING and (
                    applying or time.monotonic() - touched < TOUCH_SECONDS):
                pass  # no database work on this thread for a box's every ping: 120 boxes
                #       pinging a busy hub kept it from reading their batches (issue 18)
            elif applying and not rebase:
                # A worker holds the box's row until its batch commits (and notes the box as
                # seen then): read the mark without waiting for it, so the box hears from us.
                # (A box reconnecting to a hub restored from a backup has nothing applying.)
                acked = self.store.acked_seq(sender.box_id)
            else:
                acked = self.store.touch_box(sender.box_id, sender.district_code,
                                             backlog=_int(message.get("backlog")),
                                             box_acked=None if rebase else box_acked)
                with self._lock:
                    self._marks[sender.box_id] = (acked, time.monotonic())
            answer: dict = {"acked_seq": acked, "applying": applying}
            if rebase:  # the box's database was re-initialised (hub/boxreset.py)
                answer["rebase"] = rebase_answer(self.store, sender.box_id, message, utc_iso())
            elif kind == wire.HELLO:
                check_behind(self.store, sender.box_id, _int(message.get("last_seq")), acked,
                             utc_iso())
            if box_acked is not None and box_acked > acked and not rebase:
                log.warning("box %s says this hub acknowledged its records up to %d, but the"
                            " hub holds them up to %d: restored from a backup? 'hub resend %s"
                            " --from %d' fetches what the box still has", sender.box_id,
                            box_acked, acked, sender.box_id, acked + 1)
            # A box takes a pong as the answer to all it sent before its ping, except the
            # batches the pong lists as still being applied (the pool's workers have them).
            return wire.encode(wire.PONG, answer)

        answer = pong()
        self._flush_outgoing(sock)  # a nack decided before the pong goes out before it
        sock.send_multipart([route, *answer])
        if kind == wire.HELLO:
            self.configs.hello(sender.box_id, message.get("configs"))

    def _batch(self, sock, route, sender: EnrolledBox, body: list[bytes]) -> None:
        """Queued to be opened off this thread (hub/opener_thread.py), and ``applying``
        from now on: a ping behind it is answered at once and the box waits for the ack."""
        try:
            first, _ = peek_range(self.opener, sender, body)
        except BatchRefused as exc:
            self._refuse(sock, route, sender.box_id, f"batch refused: {exc}", exc.first,
                         exc.last)
            return
        with self._lock:
            self._applying.setdefault(sender.box_id, Counter())[first] += 1
        self._opening.put(route, sender, body, first)

    def _not_opened(self, route: bytes, sender: EnrolledBox, first: int,
                    error: BatchRefused | None) -> None:
        """No longer ``applying``, and refused in the same breath (a pong that no longer
        lists it goes out after the nack: ``_heartbeat`` flushes the replies first)."""
        reason = f"batch refused: {error}"
        with self._lock:
            self._unmark(sender.box_id, first)
            if error is not None:
                self._replies.append((route, wire.encode(wire.NACK, {
                    "first_seq": error.first, "last_seq": error.last, "reason": reason})))
        if error is not None:
            self.note_refusal(sender.box_id, sender.box_id, reason)

    def _unmark(self, box_id: str, first: int) -> None:
        self._applying[box_id][first] -= 1
        if self._applying[box_id][first] <= 0:
            del self._applying[box_id][first]

    def _applied(self, job: Job, applied: Applied | None) -> None:
        """A worker's transaction is over: the batch is acknowledged if it was committed."""
        box_id = job.batch.box_id
        with self._lock:
            self._unmark(box_id, job.first)
            if applied is not None:
                self._marks[box_id] = (applied.acked_seq, time.monotonic())
                self.stats.batches += 1
                self.stats.records += applied.new
        if applied is None:
            return
        for detail in applied.tamper:
            log.error("TAMPER: %s", detail)
        self._reply(job.route, wire.encode(wire.ACK, {"acked_seq": applied.acked_seq,
                                                      "applied": [job.first, job.last]}))

    # -- once a second: enrolment, commands, config ----------------------------------------
    def _housekeeping(self) -> None:
        self.reload_boxes()
        now = time.monotonic()
        connected = {box_id for box_id, heard in self._heard.items()
                     if now - heard < CONNECTED_SECONDS and box_id in self.stats.sessions}
        send_pending(self.store, self.identity.sign_private, connected, self.send_to)
        configs = self.store.latest_configs()
        for box_id in connected:
            self.configs.push(box_id, configs)


def _key_source(curve_key: bytes) -> str:
    """A refusal's source when no enrolled box owns the CURVE key: the key itself (Z85)."""
    return "key:" + curve_key.decode(errors="replace")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
