"""What durable answers cost: ``synchronous=full`` (the box and the hub) against ``normal``.

    python -m bench.bench_durable [--events 20000] [--runs 3]

An answer (to the platform, to an evaluator key, from the hub to a box) is given only after
its commit, and with ``synchronous=full`` a commit has synced the WAL to disk. The box pays that
fsync once per *group* of jobs (edge/store.py commits every job waiting in its queue in one
transaction, each under its own savepoint); the hub once per batch. Each line compares the
same work under ``normal`` and ``full`` in the same run, on the same disk (medians of
``--runs``):

- HTTP ingest, batches of 500 from one client (the platform's bulk push);
- HTTP ingest, one event a request from 8 clients at once (live pushes: group commit);
- writes of one small record, one at a time and from 8 threads (a key press: one rating);
- the hub applying batches of 500 and of 2,000 records (``[relay] batch_size``).

The rule check is switched off for the HTTP lines (it is not what is measured). Prints
figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import edge.store
import hub.storage.engines
from edge.store import Store
from hallwatch.sim import Platform
from standard.envelope import GENESIS, canonical_json, chain_hash

MODES = ("normal", "full")


def platform_lines(count: int) -> list[str]:
    platform = Platform("440605", seed=11, windows=12)
    start = dt.datetime(2026, 6, 1, 1, tzinfo=dt.timezone.utc)
    lines: list[str] = []
    day = 0
    while len(lines) < count:
        lines += [json.dumps(e, ensure_ascii=False)
                  for e in platform.backlog(start + dt.timedelta(days=day), 1, 200)]
        day += 1
    return lines[:count]


def serving_box(folder: Path):
    """A box as ``edge serve`` runs it (waitress, 8 threads), rule check off; (box, url, stop)."""
    from waitress import create_server

    from edge.app import build_box
    from edge.config import load_box_config
    from tests.boxes import write_box_folder
    from web.box import create_app

    box = build_box(load_box_config(write_box_folder(folder))).start()
    box.after_ingest = lambda case_nos: None
    server = create_server(create_app(box), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=lambda: _run(server), daemon=True)
    thread.start()

    def stop() -> None:
        server.close()
        thread.join(10)
        box.stop()

    return box, f"http://127.0.0.1:{server.effective_port}/api/v1/platform/events", stop


def _run(server) -> None:
    try:
        server.run()
    except (OSError, ValueError):  # select() on sockets server.close() just closed
        pass


def post(url: str, token: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200, response.status


def http_batches(folder: Path, lines: list[str]) -> float:
    """Events/s, batches of 500 posted one after another."""
    box, url, stop = serving_box(folder)
    try:
        started = time.perf_counter()
        for offset in range(0, len(lines), 500):
            post(url, box.platform_token, "\n".join(lines[offset:offset + 500]).encode())
        return len(lines) / (time.perf_counter() - started)
    finally:
        stop()


def http_single(folder: Path, lines: list[str], clients: int = 8) -> float:
    """Events/s, one event a request, ``clients`` posting at once."""
    box, url, stop = serving_box(folder)
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda line: post(url, box.platform_token, line.encode()), lines))
        return len(lines) / (time.perf_counter() - started)
    finally:
        stop()


def small_writes(folder: Path, count: int, threads: int) -> tuple[float, float]:
    """(writes/s, median ms a write) of one small outbox record each, like a key press."""
    latencies: list[float] = []
    with Store(folder / "box.db", box_id="bench") as store:
        def one(n: int) -> None:
            started = time.perf_counter()
            store.write(lambda tx: tx.emit("rating", {"press": n, "level": 5}))
            latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        if threads == 1:
            for n in range(count):
                one(n)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, range(count)))
        elapsed = time.perf_counter() - started
    return count / elapsed, statistics.median(latencies) * 1000


def hub_batches(folder: Path, batches: int, size: int = 500) -> float:
    """Records/s the hub applies (each batch one transaction, committed before its ack)."""
    from hub.store import HubStore

    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    store = HubStore(folder / "hub.db").open()
    prev = GENESIS
    try:
        started = time.perf_counter()
        for b in range(batches):
            parsed = []
            for seq in range(b * size + 1, (b + 1) * size + 1):
                record = {"seq": seq, "kind": "note", "at": at, "body": {"n": seq}}
                text = canonical_json(record)
                prev = chain_hash(prev, text)
                parsed.append((record, text.decode(), prev))
            store.apply_batch("440605-01", "440605", parsed, from_seq=b * size + 1, backlog=0)
        return batches * size / (time.perf_counter() - started)
    finally:
        store.close()


def compare(name: str, runs: int, measure: Callable[[Path], float | tuple[float, ...]],
            unit: str) -> None:
    figures: dict[str, list] = {mode: [] for mode in MODES}
    for _ in range(runs):
        for mode in MODES:  # interleaved, so drift in the machine's load hits both
            edge.store.SYNCHRONOUS = mode
            hub.storage.engines.SQLITE_SYNCHRONOUS = mode
            with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
                figures[mode].append(measure(Path(folder)))
    edge.store.SYNCHRONOUS = hub.storage.engines.SQLITE_SYNCHRONOUS = "full"
    first = {mode: statistics.median(v if isinstance(v, float) else v[0] for v in values)
             for mode, values in figures.items()}
    extra = ""
    if not isinstance(figures["full"][0], float):
        ms = {mode: statistics.median(v[1] for v in values) for mode, values in figures.items()}
        extra = f"   median {ms['normal']:.2f} ms -> {ms['full']:.2f} ms a write"
    print(f"{name:<44} normal {first['normal']:>9,.0f}  full {first['full']:>9,.0f} {unit}"
          f"   full/normal {first['full'] / first['normal']:.2f}{extra}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = platform_lines(args.events)
    singles = lines[:max(args.events // 10, 200)]
    print(f"durable answers: synchronous=normal vs full, medians of {args.runs} runs "
          f"(disk of {Path.cwd()})")
    compare(f"HTTP, {len(lines):,} events in batches of 500", args.runs,
            lambda folder: http_batches(folder, lines), "events/s")
    compare(f"HTTP, {len(singles):,} single events, 8 clients", args.runs,
            lambda folder: http_single(folder, singles), "events/s")
    compare("small writes (a key press), one at a time", args.runs,
            lambda folder: small_writes(folder, 300, 1), "writes/s")
    compare("small writes (a key press), 8 threads", args.runs,
            lambda folder: small_writes(folder, 2000, 8), "writes/s")
    compare("hub, 40 batches of 500 records", args.runs,
            lambda folder: hub_batches(folder, 40), "records/s")
    compare("hub, 10 batches of 2,000 records", args.runs,
            lambda folder: hub_batches(folder, 10, 2000), "records/s")


if __name__ == "__main__":
    main()
