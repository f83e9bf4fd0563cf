"""Real hub and box processes on 127.0.0.1, for the relay's fault tests.

A :class:`Deployment` provisions a hub and boxes into a temporary folder (the same library
calls as ``hallwatch provision``), then starts, stops and kills ``hallwatch hub serve`` and
``hallwatch edge serve`` as real processes. Helpers post simulated platform events to a box
over HTTP, read the hub's and the boxes' SQLite files read-only, and run ``hub status`` and
``edge status`` the way an operator would. :class:`FakeBox` speaks the wire protocol with
any keys, to replay, tamper with or impersonate batches.

Every wait goes through :func:`wait_for`, which polls with a timeout; nothing sleeps blindly.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
import zmq

from hallwatch.sim import Platform, catalogue_for
from hub.config import HubConfig, load_hub_config
from provisioning import enrollment
from standard import boxregistry, identity, wire
from standard.calendar import WorkCalendar
from standard.envelope import GENESIS, Sealer, canonical_json, chain_hash
from standard.records import LOCAL_TZ

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
POST_CHUNK = 2000


# -- waiting ------------------------------------------------------------------------------
def wait_for(predicate: Callable[[], T], timeout: float, *, what: str = "",
             interval: float = 0.05, detail: Callable[[], Any] | None = None) -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds naming ``what`` and, if given, ``detail()`` at that moment."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            shown = detail() if detail else value
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for "
                                 f"{what or getattr(predicate, '__name__', 'a condition')}; "
                                 f"last seen: {shown!r}")
        pause.wait(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reserve_port() -> tuple[int, socket.socket]:
    """A TCP port on 127.0.0.1 kept for a server started later (and restarted), and its holder.

    The holder is bound with SO_REUSEADDR and never listens: while it is open no other bind
    and no outgoing connection takes the port, but a listener that sets SO_REUSEADDR, as
    ZeroMQ's do, binds it. A port found free and closed again could be taken by the other
    xdist worker's servers before the hub process bound it. Close the holder when done."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    return holder.getsockname()[1], holder


# -- processes ----------------------------------------------------------------------------
class Process:
    """One ``hallwatch ...`` child process; its output goes to a log file and is kept."""

    def __init__(self, name: str, args: list[str], log_path: Path, ready_marker: str):
        self.name = name
        self.args = args
        self.log_path = log_path
        self.ready_marker = ready_marker
        self.popen: subprocess.Popen | None = None
        self.lines: list[str] = []
        self.ready_line = ""

    def start(self, timeout: float = 30) -> str:
        """Start and wait for the line that says it is serving; returns that line."""
        self.lines = []
        ready = threading.Event()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "hallwatch", *self.args], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        popen = self.popen

        def pump() -> None:
            with self.log_path.open("a", encoding="utf-8") as log:
                for line in popen.stdout:
                    log.write(line)
                    log.flush()
                    self.lines.append(line)
                    if self.ready_marker in line and not ready.is_set():
                        self.ready_line = line.strip()
                        ready.set()

        threading.Thread(target=pump, name=f"pump:{self.name}", daemon=True).start()
        wait_for(lambda: ready.is_set() or popen.poll() is not None, timeout,
                 what=f"{self.name} to start", detail=self.output)
        if not ready.is_set():
            raise AssertionError(f"{self.name} exited with {popen.returncode}:\n{self.output()}")
        return self.ready_line

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, as an operator stopping the service would; kill -9 if it hangs."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.output()}")

    def output(self) -> str:
        return "".join(self.lines[-60:])


def run_cli(*args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hallwatch", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to another process's SQLite file, closed afterwards."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


# -- the hub ------------------------------------------------------------------------------
class Hub:
    def __init__(self, config: HubConfig, hub_identity: identity.HubIdentity):
        self.config = config
        self.identity = hub_identity
        self.config_path = Path(config.base_dir) / "hub.toml"
        self.endpoint = config.bind
        self.process = Process("hub", ["hub", "serve", "--config", str(self.config_path)],
                               Path(config.base_dir) / "hub.log", "hallwatch hub receiving on")

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    # reading the hub's database, as a dashboard would
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.config.database.url:
            return _pg_query(self.config.database.url, sql, params)
        if not self.config.db_path.exists():
            return []
        with read_only(self.config.db_path) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def count(self, box_id: str) -> int:
        rows = self.query("select count(*) from records where box_id = ?", (box_id,))
        return rows[0][0] if rows else 0

    def distinct_seqs(self, box_id: str, up_to: int | None = None) -> tuple[int, int, int]:
        """(rows, distinct seqs, max seq) for one box; ``up_to``: only seqs up to it (what the
        hub held at some moment, when the box may have made more records since)."""
        sql = ("select count(*), count(distinct seq), coalesce(max(seq), 0)"
               " from records where box_id = ?")
        if up_to is not None:
            rows = self.query(sql + " and seq <= ?", (box_id, up_to))
        else:
            rows = self.query(sql, (box_id,))
        return tuple(rows[0]) if rows else (0, 0, 0)

    def acked(self, box_id: str) -> int:
        rows = self.query("select contiguous_seq from boxes where box_id = ?", (box_id,))
        return rows[0][0] if rows else 0

    def has_seq(self, box_id: str, seq: int) -> bool:
        return bool(self.query("select 1 from records where box_id = ? and seq = ?",
                               (box_id, seq)))

    def refusals(self) -> list[tuple[str | None, str]]:
        return self.query("select box_id, reason from refusals order by id")

    def tamper_alerts(self) -> list[tuple[str, int, int, str]]:
        return self.query("select box_id, first_seq, last_seq, kind from tamper_alerts"
                          " order by id")

    def status(self) -> dict[str, dict]:
        """``hallwatch hub status --json``, by box id."""
        result = run_cli("hub", "status", "--config", self.config_path, "--json")
        assert result.returncode == 0, result.stderr
        return {row["box_id"]: row for row in json_lines(result.stdout)}


def _pg_query(url: str, sql: str, params: tuple) -> list[tuple]:
    """The same read on PostgreSQL; no rows while the tables do not exist yet."""
    import psycopg

    from hub.storage.dialect import PostgresDialect

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        try:
            return conn.execute(PostgresDialect().prepare(sql), params).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


class Receiver:
    """A second ``hallwatch hub receive`` on a port of its own, sharing the hub's database."""

    def __init__(self, hub: Hub, name: str = "receiver2"):
        port, self.port_holder = reserve_port()
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.process = Process(name, ["hub", "receive", "--config", str(hub.config_path),
                                      "--bind", self.endpoint],
                               Path(hub.config.base_dir) / f"{name}.log",
                               "hallwatch hub receiving on")

    def start(self) -> None:
        self.process.start()

    def kill(self) -> None:
        self.process.kill()


# -- a box --------------------------------------------------------------------------------
class Box:
    def __init__(self, config_path: Path, box_identity: identity.BoxIdentity, seed: int = 0):
        self.config_path = config_path
        self.dir = config_path.parent
        self.identity = box_identity
        self.box_id = box_identity.box_id
        self.db_path = self.dir / "data" / "box.db"
        self.token = (self.dir / identity.PLATFORM_TOKEN_FILE).read_text().strip()
        self.platform = Platform(box_identity.district_code, seed=seed)
        self.url = ""
        self.process = Process(f"box {self.box_id}",
                               ["edge", "serve", "--config", str(config_path)],
                               self.dir / "box.log", " serving http://")

    def start(self) -> None:
        self.url = self.process.start().rsplit(" ", 1)[-1]

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    # the district platform's side
    def events(self, count: int, days_back: int = 20) -> list[dict]:
        """``count`` more simulated case events from this box's platform (recent history)."""
        start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_back)
        per_day = max(1, count // max(1, days_back * 5 // 7))
        return list(itertools.islice(self.platform.backlog(start, 10_000, per_day), count))

    def post(self, events: list[dict]) -> int:
        """POST events as the platform does; returns how many the box accepted."""
        accepted = 0
        for first in range(0, len(events), POST_CHUNK):
            chunk = events[first:first + POST_CHUNK]
            request = urllib.request.Request(
                f"{self.url}/api/v1/platform/events",
                data="\n".join(json.dumps(e, ensure_ascii=False) for e in chunk).encode(),
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/x-ndjson"}, method="POST")
            with urllib.request.urlopen(request, timeout=120) as response:
                accepted += json.loads(response.read())["accepted"]
        return accepted

    def post_events(self, count: int) -> int:
        return self.post(self.events(count))

    def post_live_case(self) -> int:
        """A citizen's case accepted now; returns the outbox seq of its first event."""
        events = self.platform.new_case(dt.datetime.now(dt.timezone.utc))
        assert self.post(events) == len(events)
        event_id = events[0]["event_id"]
        rows = self.query("select seq from outbox_records where kind = 'case_event'"
                          " and body like ?", (f'%"event_id":"{event_id}"%',))
        assert rows, f"event {event_id} has no outbox row"
        return rows[0][0]

    # the box's own database and status
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with read_only(self.db_path) as conn:
            return conn.execute(sql, params).fetchall()

    def chain_seq(self) -> int:
        rows = self.query("select value from meta where key = 'chain_seq'")
        return int(rows[0][0]) if rows else 0

    def cases_to_judge(self) -> int:
        """Cases the box's rules have not judged yet (0 before its tables exist)."""
        try:
            return self.query("select count(*) from cases_to_judge")[0][0]
        except sqlite3.OperationalError:
            return 0

    @contextmanager
    def tamper(self) -> Iterator[sqlite3.Connection]:
        """A writable connection to the box's database, as someone with a shell on it."""
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def status(self) -> dict:
        """``hallwatch edge status --json``."""
        result = run_cli("edge", "status", "--config", self.config_path, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


# -- provisioning -------------------------------------------------------------------------
def next_year_calendar(folder: Path) -> dict[str, str]:
    """box.toml's ``calendar_overrides`` (weekends off) for next year while the packaged
    calendar does not know it: the tests' events run up to today, and from mid-December a case
    is due in January, so without it every such case has an unknown light and a 日历缺失 alert,
    whenever CI happens to run then. Nothing when the calendar knows next year."""
    year = dt.datetime.now(LOCAL_TZ).year + 1
    if year in WorkCalendar().known_years():
        return {}
    path = folder / "calendar-next.json"
    path.write_text(json.dumps({"version": 1, "years": {str(year): {}}}), encoding="utf-8")
    return {"calendar_overrides": path.name}


class Deployment:
    """A hub and its boxes in ``folder``; :meth:`close` stops whatever is still running."""

    def __init__(self, folder: Path, database: str | None = None):
        """``database``: a PostgreSQL URL for the hub (None: SQLite in its folder)."""
        self.folder = folder
        port, self._port_holder = reserve_port()  # the hub's, kept across its restarts
        config, hub_identity = enrollment.init_hub(folder / "hub",
                                                 bind=f"tcp://127.0.0.1:{port}")
        config_path = Path(config.base_dir) / "hub.toml"
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        raw.setdefault("web", {})["port"] = 0  # the dashboard too, on a port of its own
        if database:
            raw["database"] = {"url": database}
        config_path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        self.hub = Hub(load_hub_config(config_path), hub_identity)
        self.boxes: list[Box] = []
        self.receivers: list[Receiver] = []

    def add_receiver(self) -> Receiver:
        """Another receiver process (``hub receive``) on the hub's database, not started."""
        receiver = Receiver(self.hub, f"receiver{len(self.receivers) + 2}")
        self.receivers.append(receiver)
        return receiver

    def add_box(self, district_code: str = "440605", name: str = "南海区行政服务中心",
                **relay: Any) -> Box:
        """Provision and enroll a box (web port 0); ``relay`` overrides [relay] keys."""
        number = len(self.boxes) + 1
        catalogue = self.folder / f"catalogue-{district_code}.json"
        catalogue.write_text(json.dumps(catalogue_for(district_code), ensure_ascii=False),
                             encoding="utf-8")
        box_identity, config = enrollment.provision_box(
            self.hub.config, self.folder / f"box{number}", district_code, name,
            catalogue=catalogue)
        config_path = Path(config.base_dir) / "box.toml"
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        raw.pop("base_dir", None)
        raw["web"]["port"] = 0
        raw["relay"].update(relay)
        raw.update(next_year_calendar(config_path.parent))
        config_path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        box = Box(config_path, box_identity, seed=number)
        self.boxes.append(box)
        return box

    def close(self) -> None:
        for process in ([box.process for box in self.boxes] + [self.hub.process]
                        + [receiver.process for receiver in self.receivers]):
            if process.alive:
                process.kill()
        for holder in [self._port_holder] + [r.port_holder for r in self.receivers]:
            holder.close()


def all_arrived(hub: Hub, box: Box) -> bool:
    """The hub holds every record the box made, once each, and has acked them all."""
    made = box.chain_seq()
    rows, distinct, top = hub.distinct_seqs(box.box_id)
    return made > 0 and rows == distinct == top == made and hub.acked(box.box_id) == made


def wait_all_acked(hub: Hub, box: Box, timeout: float = 30) -> int:
    """Wait until the box has judged every case it was given and the hub has acked every
    record it made, gaps included (a deleted outbox row); returns that count. The box may make
    more records afterwards (a scheduled rule pass as its clock moves): compare up to it."""
    def acked_all() -> int | None:
        if box.cases_to_judge():
            return None
        made = box.chain_seq()
        return made if made and hub.acked(box.box_id) == made else None

    return wait_for(acked_all, timeout, what=f"the hub to ack every record of {box.box_id}",
                    detail=lambda: {"box chain_seq": box.chain_seq(),
                                    "box cases to judge": box.cases_to_judge(),
                                    "hub acked": hub.acked(box.box_id)})


def wait_all_arrived(hub: Hub, box: Box, timeout: float = 30) -> int:
    """Wait until the box has judged every case it was given (the rule check's alerts come a
    moment after the events, edge/supervision/checker.py) and the hub holds every record it
    made; returns that count, the one the check saw."""
    seen: list[int] = []

    def arrived() -> bool:
        if box.cases_to_judge():
            return False
        made = box.chain_seq()
        if all_arrived(hub, box) and box.chain_seq() == made:
            seen.append(made)
            return True
        return False

    wait_for(arrived, timeout, what=f"every record of {box.box_id}",
             detail=lambda: {"box chain_seq": box.chain_seq(),
                             "box cases to judge": box.cases_to_judge(),
                             "hub rows, distinct, max": hub.distinct_seqs(box.box_id),
                             "hub acked": hub.acked(box.box_id)})
    return seen[-1]


# -- a box impersonated at the wire level ---------------------------------------------------
def make_records(first_seq: int, count: int, prev_hash: bytes = GENESIS,
                 kind: str = "note") -> tuple[list[tuple[str, bytes]], bytes]:
    """Outbox rows as :meth:`edge.store.Tx.emit` makes them: (record text, chain hash)."""
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    rows = []
    for seq in range(first_seq, first_seq + count):
        text = canonical_json({"seq": seq, "kind": kind, "at": at, "body": {"n": seq}})
        prev_hash = chain_hash(prev_hash, text)
        rows.append((text.decode("utf-8"), prev_hash))
    return rows, prev_hash


class FakeBox:
    """A DEALER with CURVE keys of our choosing: a box's own, or a stranger's."""

    def __init__(self, endpoint: str, hub_curve_public: bytes, curve_public: bytes,
                 curve_secret: bytes):
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.curve_publickey = curve_public
        self.sock.curve_secretkey = curve_secret
        self.sock.curve_serverkey = hub_curve_public
        self.sock.connect(endpoint)

    @classmethod
    def as_box(cls, hub: Hub, box: Box) -> FakeBox:
        return cls(hub.endpoint, hub.identity.curve_public, box.identity.curve_public,
                   box.identity.curve_secret)

    def send(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames)

    def receive(self, timeout: float = 5) -> list[bytes] | None:
        """The next message from the hub, or None if none came within ``timeout``."""
        if self.sock.poll(timeout * 1000):
            return self.sock.recv_multipart()
        return None

    def receive_kind(self, kinds: set[bytes], timeout: float = 10) -> tuple[bytes, dict] | None:
        """The next message of one of ``kinds`` (skipping pongs and configs), decoded."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            frames = self.receive(left)
            if frames is None:
                return None
            if frames[0] in kinds:
                return frames[0], wire.decode_json(frames[1:], frames[0])
        return None

    def hello(self, box_id: str) -> list[bytes] | None:
        self.send(wire.encode(wire.HELLO, {"box_id": box_id, "last_seq": 0, "acked_seq": 0,
                                           "backlog": 0, "configs": {}}))
        return self.receive()

    def close(self) -> None:
        self.sock.close(linger=0)
        self.context.term()


def sealed_batch(box: Box, hub: Hub, rows: list[tuple[str, bytes]], counter: int,
                 from_seq: int | None = None) -> list[bytes]:
    """``[b"batch", header, ciphertext, signature]`` sealed with the box's own keys."""
    sealer = Sealer(box.identity.seal_private, hub.identity.seal_public,
                    box.identity.sign_private, box.box_id)
    first = json.loads(rows[0][0])["seq"]
    last = json.loads(rows[-1][0])["seq"]
    header = {"first_seq": first, "last_seq": last, "from_seq": from_seq or first,
              "count": len(rows), "backlog": 0}
    return [wire.BATCH, *sealer.seal(header, wire.batch_plaintext(rows), counter)]


@contextmanager
def in_process_receiver(tmp: Path, database: Path | str | None = None) -> Iterator[Any]:
    """A hub receiver in this process on 127.0.0.1 with one provisioned box (南海区).

    ``database``: the ``hub_database`` fixture's value; a PostgreSQL URL is written into
    hub.toml (so the CLI finds it too), a SQLite path means the hub folder's own file. On
    PostgreSQL the receiver applies batches on its worker pool."""
    from types import SimpleNamespace

    from hub.receiver import Receiver
    from hub.store import HubStore

    config, hub_identity = enrollment.init_hub(tmp / "hub", bind="tcp://127.0.0.1:0")
    if isinstance(database, str):
        path = Path(config.base_dir) / "hub.toml"
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        raw["database"] = {"url": database}
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        config = load_hub_config(path)
    store = HubStore(config.store_target).open()
    receiver = Receiver(store, hub_identity, config.bind, lambda: boxregistry.load_enrolled(config),
                        apply_workers=config.database.apply_workers)
    box, _ = enrollment.provision_box(config, tmp / "box", "440605", "南海区行政服务中心")
    receiver.start()
    try:
        yield SimpleNamespace(config=config, identity=hub_identity, store=store,
                              receiver=receiver, box=box, box_dir=tmp / "box", tmp=tmp)
    finally:
        receiver.stop()
        store.close()
