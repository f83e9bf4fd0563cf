"""The box's memory at a province-sized history: RSS of a real ``edge serve`` process.

    python -m bench.bench_memory [--cases 500000] [--open-share 0.05] [--folder DIR]

Issue 15 measured 1.3 GB for a 500,000-case box; the goal is under 300 MB. The bench writes a
history (每件 受理 then, for all but ``--open-share`` of them, 办结 a few working days later,
over the last two years, across the catalogue's items and 12 windows), loads it with
``hallwatch edge ingest`` (its own peak RSS is printed too), then starts ``hallwatch edge
serve`` on it and samples the process's resident memory (``/proc/PID/status``: VmRSS now,
VmHWM the peak) while the box judges every case once (the rule pass's backlog) and builds its
hall board, and after that settles. Then a working day arrives over the platform API
(``--day-cases`` new cases, 受理 each, in batches of 500, as the district platform posts them),
which fills the writer's cache of recent case facts (``FactsCache``, 16,384 cases) while the
rules judge the new cases, and the process settles again. ``--folder`` keeps the box between
runs (the history is made only once; each run's day uses new case numbers). Prints figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from hallwatch.sim import catalogue_for
from tests.boxes import REPO, write_box_folder

GOAL_MB = 300


def write_history(path: Path, cases: int, open_share: float) -> int:
    rng = random.Random(15)
    items = [item for item in catalogue_for("440605")["items"]]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    start = now - dt.timedelta(days=730)
    events = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(cases):
            item = items[n % len(items)]
            open_case = rng.random() < open_share
            accepted = (now - dt.timedelta(days=rng.randrange(0, 20), hours=rng.randrange(8))
                        if open_case else start + dt.timedelta(minutes=n * 2))
            base = {"case_no": f"M{n:09d}", "item_code": item["item_code"],
                    "dept_code": item["dept_code"], "district_code": "440605",
                    "actor": {"id": f"S{n % 40:03d}", "name": f"工作人员{n % 40}"},
                    "window_no": 1 + n % 12}
            out.write(json.dumps({**base, "event_id": f"M{n:09d}-1", "event_type": "受理",
                                  "occurred_at": accepted.isoformat()}, ensure_ascii=False))
            out.write("\n")
            events += 1
            if not open_case:
                done = accepted + dt.timedelta(days=rng.randrange(1, 9))
                out.write(json.dumps({**base, "event_id": f"M{n:09d}-2", "event_type": "办结",
                                      "occurred_at": done.isoformat()}, ensure_ascii=False))
                out.write("\n")
                events += 1
    return events


def post_day(url: str, token: str, cases: int) -> float:
    """POST ``cases`` new cases' 受理, 500 to a request; the seconds it took."""
    items = catalogue_for("440605")["items"]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0)
    run = f"{time.time_ns() // 1_000_000 % 10**9:09d}"  # fresh case numbers on a kept box
    lines = []
    for n in range(cases):
        item = items[n % len(items)]
        lines.append(json.dumps({
            "case_no": f"D{run}{n:06d}", "event_id": f"D{run}{n:06d}-1", "event_type": "受理",
            "item_code": item["item_code"], "dept_code": item["dept_code"],
            "district_code": "440605", "actor": {"id": f"S{n % 40:03d}", "name": f"工作人员{n % 40}"},
            "window_no": 1 + n % 12, "occurred_at": (now - dt.timedelta(minutes=n % 480)).isoformat(),
        }, ensure_ascii=False))
    started = time.perf_counter()
    for offset in range(0, len(lines), 500):
        request = urllib.request.Request(
            f"{url}/api/v1/platform/events", data="\n".join(lines[offset:offset + 500]).encode(),
            headers={"Authorization": f"Bearer {token}"}, method="POST")
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
    return time.perf_counter() - started


def serving_url(log: Path, process: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()[::-1]:
            if " serving http" in line:
                return line.strip().rsplit(" ", 1)[-1]
        time.sleep(0.5)
    sys.exit(f"edge serve did not say where it serves; see {log}")


def hallwatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "hallwatch", *args]


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def backlog(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("select count(*) from cases_to_judge").fetchone()[0]


def settle(process: subprocess.Popen, db: Path, log: Path, started: float,
           seconds: float) -> float:
    """Sample memory every 5 s until no case waits to be judged and ``seconds`` more have
    passed; returns when (seconds since ``started``) the backlog was first empty."""
    judged_at = None
    while True:
        time.sleep(5)
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            sys.exit(f"edge serve exited with {process.returncode}; the end of {log}:\n"
                     + "\n".join(tail))
        rss, peak = memory(process.pid)
        waiting = backlog(db)
        elapsed = time.perf_counter() - started
        print(f"  {elapsed:5.0f} s  RSS {rss:6.0f} MB  peak {peak:6.0f} MB  "
              f"cases to judge {waiting:,}", flush=True)
        if waiting == 0 and judged_at is None:
            judged_at = elapsed
        if judged_at is not None and elapsed - judged_at >= seconds:
            return judged_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=500_000)
    parser.add_argument("--open-share", type=float, default=0.05)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--settle", type=float, default=60.0,
                        help="seconds to keep sampling after the backlog is judged")
    parser.add_argument("--day-cases", type=int, default=40_000,
                        help="new cases posted over the platform API after the first settle "
                             "(0: none)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-memory-"))
    config = folder / "box.toml"
    if not config.exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_box_folder(folder)
        history = folder / "history.ndjson"
        started = time.perf_counter()
        events = write_history(history, args.cases, args.open_share)
        print(f"history: {args.cases:,} cases, {events:,} events "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        started = time.perf_counter()
        subprocess.run(hallwatch("edge", "ingest", "--config", str(config), str(history)),
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"edge ingest: {time.perf_counter() - started:.0f} s, peak RSS {peak:.0f} MB",
              flush=True)
        history.unlink()
    db = folder / "data" / "box.db"
    print(f"database {db.stat().st_size / 2**20:.0f} MB; cases to judge: {backlog(db):,}",
          flush=True)
    log = folder / "serve.log"  # kept: if the box dies, its last words are the figure
    log.unlink(missing_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(hallwatch("edge", "serve", "--config", str(config)),
                                   cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    started = time.perf_counter()
    try:
        judged_at = settle(process, db, log, started, args.settle)
        rss, peak = memory(process.pid)
        verdict = "met" if peak < GOAL_MB else "NOT met"
        print(f"edge serve, {args.cases:,} cases: settled RSS {rss:.0f} MB, peak {peak:.0f} MB "
              f"(goal < {GOAL_MB} MB: {verdict}); every case judged after {judged_at:.0f} s",
              flush=True)
        if args.day_cases:
            token = (folder / "keys" / "platform.token").read_text().strip()
            took = post_day(serving_url(log, process), token, args.day_cases)
            print(f"a day of {args.day_cases:,} new cases posted in {took:.0f} s", flush=True)
            settle(process, db, log, started, args.settle)
            rss, peak = memory(process.pid)
            verdict = "met" if peak < GOAL_MB else "NOT met"
            print(f"edge serve after the day: settled RSS {rss:.0f} MB, peak {peak:.0f} MB "
                  f"(goal < {GOAL_MB} MB: {verdict})")
    finally:
        process.terminate()
        process.wait(60)


if __name__ == "__main__":
    main()
