"""Benchmark: a box's outbox relayed to the hub's store and acked back, on loopback.

Run from the repository root: ``python -m bench.bench_relay``. Prints figures only; nothing
here asserts (timed assertions do not belong in tests).

1. Throughput: a box Store filled with N case events stored as ingest stores them (each in
   ``case_events``, its outbox row referring to it: edge/outboxrefs.py), a Relay (sealing,
   Ed25519, CurveZMQ, default batches and window) and a Receiver + HubStore on temporary
   files. Timed from the relay's start until the box has recorded the hub's ack of the last
   record. Compared in the same run with (a) the same outbox carried by Debian's mosquitto
   broker and paho-mqtt at QoS 1 into a hub SQLite table, acked after the hub's commit and
   deleted from the box on PUBACK (bench/mqtt_baseline.py; the ratio's goal is >= 10x), and
   (b) raw pyzmq PUSH/PULL of the same batch payloads (no CURVE, no sealing, no storage).
2. A 7-day backlog (350,000 records) drained while the hall keeps working: a live record is
   emitted every 0.5 s during the drain, and its latency (box commit to hub apply) is noted.

The hub runs in its own process (the deployment has it on another machine); the box's
store, relay and live feed share this one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import zmq

from edge.relay import Relay, RelaySettings
from edge.store import Store
from edge.storetx import iso
from bench import mqtt_baseline
from hallwatch.sim import Platform
from hub.receiver import Receiver
from hub.store import HubStore
from standard import wire
from standard.boxregistry import EnrolledBox
from standard.envelope import (
    ed25519_private_from_text,
    ed25519_public_from_text,
    key_to_text,
    x25519_private_from_text,
    x25519_public_from_text,
)
from standard.identity import (
    BoxIdentity,
    HubIdentity,
    HubPublic,
    new_box_identity,
    new_hub_identity,
)

BOX_ID, DISTRICT = "440605-01", "440605"
BATCH = RelaySettings().batch_size  # what a box sends by default (a batch takes what waits)
FILL_CHUNK = 5000


def free_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def sample_events(count: int = 5000) -> list[dict]:
    """Realistic platform events (~300 bytes of JSON each), reused round-robin as bodies."""
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)
    events = Platform(DISTRICT).backlog(start, 10_000, 200)
    return list(itertools.islice(events, count))


def filled_store(path: Path, count: int, events: list[dict]) -> Store:
    """``count`` platform events stored as ingest stores them: each in ``case_events`` (its
    own event id), its outbox row referring to it (edge/outboxrefs.py)."""
    store = Store(path, box_id=BOX_ID).open()
    bodies = itertools.cycle(events)
    for first in range(0, count, FILL_CHUNK):
        size = min(FILL_CHUNK, count - first)
        chunk = [{**next(bodies), "event_id": f"bench-{first + n}"} for n in range(size)]
        texts = [json.dumps(body, ensure_ascii=False, separators=(",", ":")) for body in chunk]

        def store_chunk(tx, chunk=chunk, texts=texts) -> None:
            tx.conn.executemany(
                "insert into case_events (event_id, case_no, event_type, occurred_at,"
                " received_at, body) values (?, ?, ?, ?, ?, ?)",
                [(body["event_id"], body["case_no"], body["event_type"], body["occurred_at"],
                  iso(tx.now), text) for body, text in zip(chunk, texts)])
            tx.emit_json_many("case_event", texts, refs=[body["event_id"] for body in chunk])
        store.write(store_chunk)
    return store


# -- the hub, in its own process -------------------------------------------------------------
def keys_as_text(hub: HubIdentity, box: BoxIdentity) -> dict[str, bytes | str]:
    """What the hub process needs, in a form that crosses a process boundary."""
    return {"hub_curve_public": hub.curve_public, "hub_curve_secret": hub.curve_secret,
            "hub_seal": key_to_text(hub.seal_private), "hub_sign": key_to_text(hub.sign_private),
            "box_curve_public": box.curve_public, "box_seal": key_to_text(box.seal_public),
            "box_sign": key_to_text(box.sign_public)}


def run_hub(folder: str, keys: dict, endpoint: str, ready: multiprocessing.Event,
            stop: multiprocessing.Event, latencies: multiprocessing.Queue) -> None:
    hub = HubIdentity(curve_public=keys["hub_curve_public"], curve_secret=keys["hub_curve_secret"],
                      seal_private=x25519_private_from_text(keys["hub_seal"]),
                      sign_private=ed25519_private_from_text(keys["hub_sign"]))
    box = EnrolledBox(box_id=BOX_ID, district_code=DISTRICT, name="南海区行政服务中心",
                      curve_public=keys["box_curve_public"],
                      seal_public=x25519_public_from_text(keys["box_seal"]),
                      sign_public=ed25519_public_from_text(keys["box_sign"]),
                      enrolled_at="", revoked=False)
    store = HubStore(Path(folder) / "hub.db")
    seen: list[float] = []
    # The live records carry their emit time; the hub notes the latency as it applies them.
    store.appliers["live"] = [lambda conn, box_id, record:
                              seen.append(time.time() - record["body"]["emitted_at"])]
    store.open()
    receiver = Receiver(store, hub, endpoint, lambda: {box.box_id: box})
    receiver.start()
    ready.set()
    stop.wait()
    receiver.stop()
    store.close()
    latencies.put(seen)


class HubProcess:
    def __init__(self, folder: Path, hub: HubIdentity, box: BoxIdentity):
        context = multiprocessing.get_context("spawn")
        self.endpoint = free_endpoint()
        self.ready, self.stop_event = context.Event(), context.Event()
        self.latencies = context.Queue()
        self.process = context.Process(
            target=run_hub, args=(str(folder), keys_as_text(hub, box), self.endpoint,
                                  self.ready, self.stop_event, self.latencies), daemon=True)

    def __enter__(self) -> HubProcess:
        self.process.start()
        if not self.ready.wait(60):
            raise RuntimeError("hub process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.process.join(30)

    def live_latencies(self) -> list[float]:
        self.stop_event.set()
        return self.latencies.get(timeout=60)


def hub_public(hub: HubIdentity, endpoint: str) -> HubPublic:
    return HubPublic(curve_public=hub.curve_public, seal_public=hub.seal_public,
                     sign_public=hub.sign_public, endpoint=endpoint)


def relay_until_acked(store: Store, box: BoxIdentity, hub: HubIdentity, endpoint: str,
                      target, on_tick=None) -> float:
    """Seconds from the relay's start until the box holds the hub's ack of ``target()``."""
    relay = Relay(store, box, hub_public(hub, endpoint), endpoint, RelaySettings(batch_size=BATCH))
    pause = threading.Event()
    started = time.perf_counter()
    relay.start()
    try:
        while relay.state.acked_seq < target():
            if on_tick:
                on_tick()
            pause.wait(0.005)
        return time.perf_counter() - started
    finally:
        relay.stop()


# -- 1. throughput --------------------------------------------------------------------------
def raw_push_pull(payloads: list[bytes]) -> float:
    """Seconds to move the payloads over plain PUSH/PULL on loopback (a sender thread)."""
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = context.socket(zmq.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"warm-up")
    pull.recv()

    def send_all() -> None:
        for payload in payloads:
            push.send(payload, copy=False)

    started = time.perf_counter()
    sender = threading.Thread(target=send_all)
    sender.start()
    for _ in payloads:
        pull.recv(copy=False)
    elapsed = time.perf_counter() - started
    sender.join()
    push.close(0)
    pull.close(0)
    context.term()
    return elapsed


def relay_once(folder: Path, count: int,
               events: list[dict]) -> tuple[float, list[bytes], list[tuple]]:
    """One throughput run on fresh files: seconds, the batch payloads and the outbox rows."""
    hub, box = new_hub_identity(), new_box_identity(BOX_ID, DISTRICT, "南海区行政服务中心")
    folder.mkdir()
    store = filled_store(folder / "box.db", count, events)
    with store.read() as db:
        rows = db.conn.execute("select seq, body, hash from outbox_records order by seq"
                               ).fetchall()
    payloads = [wire.batch_plaintext([(body, digest) for _, body, digest in rows[i:i + BATCH]])
                for i in range(0, len(rows), BATCH)]
    try:
        with HubProcess(folder / "hub", hub, box) as hub_process:
            seconds = relay_until_acked(store, box, hub, hub_process.endpoint, lambda: count)
    finally:
        store.close()
    return seconds, payloads, rows


def throughput(folder: Path, count: int, events: list[dict], runs: int, mqtt: bool) -> None:
    """Relay and MQTT runs alternate, so a busy moment of a shared machine hits both."""
    times, mqtt_times, payloads = [], [], []
    have_mqtt = mqtt and mqtt_baseline.mosquitto_path() is not None
    for run in range(runs):
        seconds, payloads, rows = relay_once(folder / f"run{run}", count, events)
        times.append(seconds)
        if have_mqtt:
            mqtt_times.append(mqtt_baseline.mqtt_relay(folder / f"mqtt{run}", rows))
    raw = statistics.median(raw_push_pull(payloads) for _ in range(5))
    seconds = statistics.median(times)
    size = sum(len(row[1].encode()) for row in rows) / count
    print(f"throughput: {count:,} records of {size:.0f} bytes, sealed + signed + CurveZMQ, "
          "applied once and acked after a durable commit (synchronous=full)")
    print(f"  relay:           {seconds:6.2f} s  {count / seconds:10,.0f} records/s  "
          f"(median of {runs}: {', '.join(f'{count / t:,.0f}' for t in times)}; goal 50,000)")
    if have_mqtt:
        mqtt = statistics.median(mqtt_times)
        print(f"  mosquitto+paho:  {mqtt:6.2f} s  {count / mqtt:10,.0f} records/s  (QoS 1, hub "
              f"commits then PUBACKs, box deletes on PUBACK; median of {runs}: "
              f"{', '.join(f'{count / t:,.0f}' for t in mqtt_times)})")
        print(f"  relay / MQTT:    {mqtt / seconds:6.1f}x the records/s  (goal >= 10x; "
              f"per-run ratios {', '.join(f'{m / t:.1f}' for m, t in zip(mqtt_times, times))})")
    elif mqtt:
        print(f"  mosquitto+paho:  skipped: {mqtt_baseline.INSTALL_HINT}")
    print(f"  raw PUSH/PULL:   {raw:6.2f} s  {count / raw:10,.0f} records/s  "
          f"(same payloads, no CURVE, no sealing, no storage; median of 5)")
    print(f"  relay / raw:     {seconds / raw:6.1f}x the time")


# -- 2. a 7-day backlog with live records ----------------------------------------------------
def backlog_drain(folder: Path, count: int, events: list[dict]) -> None:
    hub, box = new_hub_identity(), new_box_identity(BOX_ID, DISTRICT, "南海区行政服务中心")
    filled = time.perf_counter()
    store = filled_store(folder / "backlog.db", count, events)
    print(f"7-day backlog: {count:,} records written to the box's outbox in "
          f"{time.perf_counter() - filled:.1f} s")
    live_event = events[0]
    emitted: list[int] = []
    last_emit = [0.0]

    def emit_live() -> None:
        if time.perf_counter() - last_emit[0] >= 0.5:
            last_emit[0] = time.perf_counter()
            emitted.append(store.write(lambda tx: tx.emit(
                "live", {"emitted_at": time.time(), "event": live_event})))

    try:
        with HubProcess(folder / "hub2", hub, box) as hub_process:
            def head() -> int:
                return count + len(emitted)
            seconds = relay_until_acked(store, box, hub, hub_process.endpoint, head,
                                        on_tick=emit_live)
            latencies = hub_process.live_latencies()
    finally:
        store.close()
    print(f"  drained in {seconds:.1f} s ({count / seconds:,.0f} records/s; goal < 30 s)")
    if latencies:
        print(f"  live records during the drain: {len(latencies)} (one every 0.5 s), latency "
              f"median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s "
              f"(goal < 2 s)")
    else:
        print("  no live record was emitted during the drain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="throughput run size")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs (median shown)")
    parser.add_argument("--backlog", type=int, default=350_000, help="backlog drain size")
    parser.add_argument("--no-mqtt", action="store_true",
                        help="skip the mosquitto baseline (e.g. when profiling the relay alone)")
    args = parser.parse_args()
    events = sample_events()
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as folder:
        throughput(Path(folder), args.records, events, args.runs, not args.no_mqtt)
        if args.backlog:
            backlog_drain(Path(folder), args.backlog, events)


if __name__ == "__main__":
    main()
