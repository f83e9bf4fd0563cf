"""The relay bench's baseline: the same outbox carried by Debian's mosquitto and paho-mqtt QoS 1.

Built the way a team would build it without hallwatch's relay, with the same promises:

- the box's outbox is a SQLite table (WAL, ``synchronous=full``) of the same record texts;
  a publisher thread reads it in order and publishes each record at QoS 1, at most ``WINDOW``
  ahead of the broker's PUBACKs; a row is deleted
  (in one transaction per group of PUBACKs) only once the broker has acknowledged it;
- the hub subscribes at QoS 1 with ``manual_ack``: it inserts what arrived into a SQLite table
  (WAL, ``synchronous=full``) with one ``executemany`` per group, commits, and only then sends
  the PUBACKs, so an acknowledgement still means the record is on disk.

No encryption and no signature (mosquitto over plain TCP on loopback): the baseline does less.
mosquitto is started on a free 127.0.0.1 port with a throw-away config and stopped after.
"""

from __future__ import annotations

import queue
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

INSTALL_HINT = "apt-get install mosquitto  (Debian's broker; the baseline is skipped without it)"
TOPIC = "hallwatch/outbox"
GROUP_WAIT = 0.002  # how long the hub and the deleter wait to gather a group
# Messages published and not yet PUBACKed. paho numbers messages with a 16-bit id that wraps
# at 65,535 and keys its queue by that id, so a publisher that runs further ahead overwrites
# its own queued messages: they are never sent, and the run waits for them forever (the hang
# at 100,000 records). A real publisher reading an outbox bounds its window the same way.
WINDOW = 10_000


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1, for the length of a ``with`` block."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Broker:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                          "persistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n"
                          "log_dest none\n")
        self.process = subprocess.Popen([mosquitto_path(), "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("mosquitto exited at start") from None
                threading.Event().wait(0.02)
        raise RuntimeError("mosquitto did not start listening")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def _durable(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("pragma journal_mode=wal")
    conn.execute("pragma synchronous=full")
    return conn


def _client(client_id: str):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=False, manual_ack=client_id == "hub")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    return client


def mqtt_relay(folder: Path, records: list[tuple[int, str, bytes]]) -> float:
    """Seconds to move ``records`` (seq, text, hash) from a box outbox to a hub table."""
    folder.mkdir(parents=True, exist_ok=True)
    box = _durable(folder / "box.db")
    box.execute("create table outbox (seq integer primary key, body text not null,"
                " hash blob not null)")
    box.execute("begin")
    box.executemany("insert into outbox values (?, ?, ?)", records)
    box.execute("commit")
    hub = _durable(folder / "hub.db")
    hub.execute("create table records (seq integer primary key, body text not null)")
    total = len(records)
    with Broker(folder / "broker") as broker:
        return _run(broker.port, box, hub, total)


def _run(port: int, box: sqlite3.Connection, hub: sqlite3.Connection, total: int) -> float:
    arrived: queue.Queue = queue.Queue()
    acked: queue.Queue = queue.Queue()
    done = threading.Event()
    subscribed = threading.Event()

    receiver = _client("hub")
    receiver.on_message = lambda client, data, message: arrived.put(message)
    receiver.on_subscribe = lambda *args: subscribed.set()
    receiver.connect("127.0.0.1", port)
    receiver.subscribe(TOPIC, qos=1)
    receiver.loop_start()
    if not subscribed.wait(10):
        raise RuntimeError("the hub's subscription was not acknowledged")

    def hub_writer() -> None:  # insert a group, commit (fsync), then PUBACK the group
        stored = 0
        while stored < total:
            group = [arrived.get()]
            while True:
                try:
                    group.append(arrived.get(timeout=GROUP_WAIT))
                except queue.Empty:
                    break
            rows = [(int(m.payload.split(b",", 1)[0][7:]), m.payload.decode()) for m in group]
            hub.execute("begin")
            hub.executemany("insert or ignore into records values (?, ?)", rows)
            hub.execute("commit")
            for message in group:
                receiver.ack(message.mid, message.qos)
            stored += len(group)

    sender = _client("box")
    mids: dict[int, int] = {}
    lock = threading.Lock()
    window = threading.BoundedSemaphore(WINDOW)

    def on_publish(client, data, mid, reason, properties) -> None:
        with lock:
            seq = mids.pop(mid, None)
        acked.put(-mid if seq is None else seq)  # -mid: PUBACK before publish() returned
        window.release()

    sender.on_publish = on_publish
    sender.connect("127.0.0.1", port)
    sender.loop_start()

    def box_deleter() -> None:  # delete acknowledged rows, one transaction per group
        deleted = 0
        early: set[int] = set()
        while deleted < total:
            try:
                group = [acked.get(timeout=0.01)]
            except queue.Empty:
                group = []
            while group:
                try:
                    group.append(acked.get(timeout=GROUP_WAIT))
                except queue.Empty:
                    break
            seqs = []
            for item in group:
                if item < 0:
                    early.add(-item)
                else:
                    seqs.append(item)
            with lock:
                for mid in list(early):
                    if mid in mids:
                        seqs.append(mids.pop(mid))
                        early.discard(mid)
            if not seqs:
                continue
            box.execute("begin")
            box.executemany("delete from outbox where seq = ?", [(s,) for s in seqs])
            box.execute("commit")
            deleted += len(seqs)
        done.set()

    started = time.perf_counter()
    threads = [threading.Thread(target=hub_writer, daemon=True),
               threading.Thread(target=box_deleter, daemon=True)]
    for thread in threads:
        thread.start()
    reader = sqlite3.connect(box.execute("pragma database_list").fetchone()[2],
                             check_same_thread=False)
    cursor = 0
    while True:
        rows = reader.execute("select seq, body from outbox where seq > ? order by seq limit 500",
                              (cursor,)).fetchall()
        if not rows:
            break
        for seq, body in rows:
            if not window.acquire(timeout=600):
                raise RuntimeError("the broker acknowledged nothing for 600 s")
            info = sender.publish(TOPIC, body, qos=1)
            with lock:
                mids[info.mid] = seq
        cursor = rows[-1][0]
    finished = done.wait(600)
    elapsed = time.perf_counter() - started
    for thread in threads:
        thread.join(10)
    sender.loop_stop()
    receiver.loop_stop()
    sender.disconnect()
    receiver.disconnect()
    reader.close()
    if not finished:
        raise RuntimeError("the MQTT baseline did not finish in 600 s")
    held = hub.execute("select count(*) from records").fetchone()[0]
    if held != total:
        raise RuntimeError(f"the MQTT baseline's hub holds {held} of {total} records")
    return elapsed
