"""Ingest throughput: events/s from a file and over HTTP, against raw SQLite executemany.

    python -m bench.bench_ingest [--events 1000000] [--http-events 100000] [--source FILE]

Prints figures only. Goals (issues 2 and 17): ≥ 50,000 events/s from a file, at least half the
rate of a plain parse + executemany of the same lines in the same run (the insert alone is
printed too, the yardstick of the earlier figures); ≥ 10,000 events/s over HTTP in batches of
500 with the rules running.

The file figure is ``edge ingest``'s own path (``ingest_files``). The HTTP box runs as ``serve``
runs it (waitress, 8 threads) with its clock fixed an hour after the last event posted, so that
the figures do not drift with the date of the run. The platform's answer does not wait for the
rule check (edge/supervision/checker.py), but the check runs alongside in the same interpreter; the HTTP
line says how long after the last answer the rules had checked every posted case, and the rate
of a second box whose rule check is switched off (the request path alone). The generated
history is mostly overdue, so nearly every case opens alerts and cards: a worst case for the
rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sqlite3
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from edge.filefeed import ingest_files
from edge.store import Store
from hallwatch.sim import Platform


def history(platform: Platform, start: dt.datetime, count: int,
            cases_per_day: int = 200) -> list[str]:
    """``count`` events of ``platform``'s history from ``start`` on, as JSON lines."""
    lines: list[str] = []
    day = 0
    while len(lines) < count:
        for event in platform.backlog(start + dt.timedelta(days=day), 1, cases_per_day):
            lines.append(json.dumps(event, ensure_ascii=False))
        day += 1
    return lines[:count]


def generate(path: Path, count: int) -> None:
    platform = Platform("440605", seed=7, windows=12)
    lines = history(platform, dt.datetime(2026, 6, 1, 1, tzinfo=dt.timezone.utc), count)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """The first ``limit`` lines of an NDJSON file (all when None).

    Each phase reads what it needs and lets it go: a million lines held for the whole run make
    every full garbage collection during the file ingest slower, which is not ingest's cost.
    """
    with path.open(encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in itertools.islice(handle, limit)]


def raw_executemany(folder: Path, lines: list[str]) -> tuple[float, float]:
    """The baselines: the same rows straight into SQLite, in rows/s, timed without the parse
    (already parsed) and with it (``json.loads`` of each line, issue 17's "plain parse +
    executemany")."""
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("pragma journal_mode=wal")
    conn.execute("pragma synchronous=normal")
    conn.execute("create table case_events (event_id text primary key, case_no text,"
                 " event_type text, occurred_at text, body text)")
    started = time.perf_counter()
    rows = []
    for line in lines:
        record = json.loads(line)
        rows.append((record["event_id"], record["case_no"], record["event_type"],
                     record["occurred_at"], line))
    parsed = time.perf_counter()
    for offset in range(0, len(rows), 2000):
        conn.execute("begin")
        conn.executemany("insert into case_events values (?, ?, ?, ?, ?)",
                         rows[offset:offset + 2000])
        conn.execute("commit")
    ended = time.perf_counter()
    conn.close()
    return len(rows) / (ended - parsed), len(rows) / (ended - started)


def file_ingest(folder: Path, path: Path) -> tuple[float, int, float]:
    """Events/s, events, and the process's CPU time per event in µs (every thread's: steadier
    than the wall clock on a shared machine)."""
    with Store(folder / "box.db", box_id="bench") as store:
        cpu = time.process_time()
        started = time.perf_counter()
        result = ingest_files(store, [path])
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return result.accepted / elapsed, result.accepted, cpu / max(result.accepted, 1) * 1e6


def http_ingest(folder: Path, lines: list[str], *, rules: bool = True) -> tuple[float, float]:
    """Events/s posting ``lines`` in batches of 500, and the seconds the rule check took to
    catch up after the last answer. ``rules=False`` times the request path alone."""
    from waitress import create_server

    from edge.app import build_box
    from edge.config import load_box_config
    from tests.boxes import write_box_folder
    from web.box import create_app

    last = max(dt.datetime.fromisoformat(json.loads(line)["occurred_at"]) for line in lines)
    moment = last + dt.timedelta(hours=1)
    box = build_box(load_box_config(write_box_folder(folder / f"httpbox-{rules}")),
                    clock=lambda: moment).start()
    if not rules:
        box.after_ingest = lambda case_nos: None
    server = create_server(create_app(box), host="127.0.0.1", port=0, threads=8)

    def serve() -> None:
        try:
            server.run()
        except (OSError, ValueError):  # select() on the sockets server.close() just closed
            pass

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}/api/v1/platform/events"
    headers = {"Authorization": f"Bearer {box.platform_token}"}
    started = time.perf_counter()
    for offset in range(0, len(lines), 500):
        body = "\n".join(lines[offset:offset + 500]).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    elapsed = time.perf_counter() - started
    box.checker.wait_idle(timeout=600)
    lag = time.perf_counter() - started - elapsed
    server.task_dispatcher.shutdown()  # let the worker threads finish before the sockets close
    server.close()
    box.stop()
    return len(lines) / elapsed, lag


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--http-events", type=int, default=100_000)
    parser.add_argument("--file-only", action="store_true", help="skip the HTTP phase")
    parser.add_argument("--source", type=Path,
                        help="an NDJSON file of events to use instead of generating --events "
                             "(generating a million takes minutes)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = args.source or folder / "events.ndjson"
        if args.source is None:
            generate(source, args.events)
        raw_rate, parse_rate = raw_executemany(folder, read_lines(source))
        rate, accepted, cpu_us = file_ingest(folder, source)
        print(f"file ingest: {accepted:,} events, {rate:,.0f} events/s "
              f"(goal ≥ 50,000); raw executemany {raw_rate:,.0f} rows/s, ratio "
              f"{rate / raw_rate:.2f}; parse + executemany {parse_rate:,.0f} rows/s, ratio "
              f"{rate / parse_rate:.2f} (goal ≥ 0.5); {cpu_us:.1f} µs of CPU an event")
        if args.file_only:
            return
        lines = read_lines(source, args.http_events)
        http_rate, lag = http_ingest(folder, lines)
        alone, _ = http_ingest(folder, lines, rules=False)
        print(f"HTTP ingest, batches of 500: {http_rate:,.0f} events/s (goal ≥ 10,000); "
              f"the rule check caught up {lag:.1f} s after the last answer; "
              f"{alone:,.0f} events/s without the rule check")


if __name__ == "__main__":
    main()
