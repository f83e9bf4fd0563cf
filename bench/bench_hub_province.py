"""Benchmark: boxes relaying a day's records each to a hub on SQLite and on PostgreSQL.

Run from the repository root: ``python -m bench.bench_hub_province [--boxes 120]
[--records 30000] [--pg-url URL] [--profile DIR]``. Prints figures only.

Issue 18's province run: 120 simulated boxes, each relaying a day of about 30,000 records
(hallwatch/hubday.py: case events with their stage sequences, ratings, alerts and notices),
into real receiver processes on 127.0.0.1: ``hallwatch hub serve`` (its pages and background
jobs too) and, for two receivers, a ``hallwatch hub receive`` beside it on the same database.
The receivers take the production path: CurveZMQ, the box's key and signature checked, the
batch decrypted and parsed, applied with every view by the apply pool's workers in group
commits, then acknowledged. Box i dials receiver i mod n.

The boxes' batches (the relay's size, 4,000 records) are sealed before the clock starts, in
two processes; the boxes themselves are played by this process from one thread
(bench/province_boxes.py: hello, the relay's window, acks, pings, resends). The clock runs
from the first hello until every box holds the ack of its last record. Runs, in order:
PostgreSQL with two receivers (the issue's goal), with one, then SQLite with one (or the
order ``--only`` gives; ``--time-limit`` cuts the last ones), each on a fresh database (without ``--pg-url``, a throwaway cluster with durable settings:
tests/pgcluster.py).

Besides records/s it prints where the two cores went: CPU seconds of the receivers, of the
PostgreSQL server's processes and of the boxes' process, and the receivers' peak memory.
Without ``--pg-url`` the throwaway cluster logs lock waits and deadlocks (both statements,
each line with its backend's pid); the log is copied to ``--server-log`` (by default
``bench-province-server-<time>.log`` in the system's temporary folder), whose path the run
prints at the end, so that the receivers' conflicts can be read after the cluster is gone.
``--profile DIR`` also samples every receiver with py-spy (raw profiles in DIR; summarise with
``python -m bench.profile_summary``), which slows them a little.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import tomli_w

from bench.province_boxes import SETTINGS, Boxes, SealedDay, seal_day
from hallwatch.hubsim import city_catalogue
from standard.districts import DISTRICTS
from standard.envelope import key_to_text
from standard.boxregistry import enroll_box
from standard.identity import box_public_record, load_hub_identity, new_box_identity

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2026, 11, 20)
UNITS = list(DISTRICTS)
TICK = os.sysconf("SC_CLK_TCK")


# -- the hub's folder and its boxes ----------------------------------------------------------
def hub_template(folder: Path, boxes: int):
    """``provision hub-init``, the city catalogue and ``boxes`` enrolled boxes' identities."""
    subprocess.run([sys.executable, "-m", "hallwatch", "provision", "hub-init", "--dir",
                    str(folder), "--bind", "tcp://127.0.0.1:0"], cwd=REPO, check=True,
                   capture_output=True)
    (folder / "catalogue.json").write_text(json.dumps(city_catalogue(UNITS),
                                                      ensure_ascii=False), encoding="utf-8")
    from hub.config import load_hub_config

    config = load_hub_config(folder / "hub.toml")
    identities = []
    for index in range(boxes):
        district = UNITS[index % len(UNITS)]
        box = new_box_identity(f"{district}-{index:03d}", district, f"模拟大厅{index}")
        enroll_box(config, box_public_record(box))
        identities.append(box)
    return load_hub_identity(config.path(config.identity)), identities


def sealed_days(hub, identities, records: int) -> list[SealedDay]:
    jobs = [(box.box_id, box.district_code, box.curve_public, box.curve_secret,
             key_to_text(box.seal_private), key_to_text(box.sign_private),
             key_to_text(hub.seal_public), DAY, records, SETTINGS.batch_size)
            for box in identities]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return pool.map(seal_day, jobs, chunksize=1)


def hub_folder(template: Path, folder: Path, database: str | None) -> Path:
    shutil.copytree(template, folder)
    path = folder / "hub.toml"
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    settings["catalogue"] = "catalogue.json"
    settings["web"]["port"] = 0
    settings["database"]["url"] = database or ""
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return path


# -- receiver processes and CPU accounting ---------------------------------------------------
class Receiver:
    READY = re.compile(r"hallwatch hub receiving on (tcp://\S+)")

    def __init__(self, config: Path, command: str, profile: Path | None, label: str):
        args = [sys.executable, "-m", "hallwatch", "hub", command, "--config", str(config)]
        if command == "receive":
            args += ["--bind", "tcp://127.0.0.1:0"]
        self.process = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self.endpoint = ""
        ready = threading.Event()

        def pump() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                if found := self.READY.search(line):
                    self.endpoint = found[1]
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(120) or not self.endpoint:
            self.process.kill()
            raise RuntimeError(f"hub {command} did not start:\n" + "".join(self.lines))
        self.spy = None
        if profile is not None:
            self.spy = subprocess.Popen(
                [shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "-r", "50", "--nonblocking", "-f", "raw", "-p",
                 str(self.process.pid), "-o", str(profile / f"{label}.raw")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        if self.spy is not None:
            self.spy.wait(60)
        errors = [line for line in self.lines if "Traceback" in line or "ERROR" in line]
        if errors:
            print("    receiver said: " + "".join(errors[:3]).strip(), flush=True)


def cpu_seconds(pid: int, children: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:  # reaped children (PostgreSQL's ended backends)
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def server_cpu(postmaster: int | None) -> float:
    """The PostgreSQL server's CPU seconds: the postmaster, its reaped and live children."""
    if postmaster is None:
        return 0.0
    total = cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == postmaster:
                    total += (int(stat[11]) + int(stat[12])) / TICK
            except (OSError, IndexError, ValueError):
                continue
    return total


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status)[1]) / 1024


def records_held(database: str | None, folder: Path) -> int:
    if database:
        import psycopg

        with psycopg.connect(database) as conn:
            return conn.execute("select count(*) from records").fetchone()[0]
    with sqlite3.connect(folder / "data" / "hub.db") as conn:
        return conn.execute("select count(*) from records").fetchone()[0]


# -- one configuration -----------------------------------------------------------------------
def run(label: str, template: Path, folder: Path, database: str | None, receivers: int,
        days: list[SealedDay], hub_curve_public: bytes, postmaster: int | None,
        profile: Path | None, limit: float) -> dict | None:
    config = hub_folder(template, folder, database)
    tag = label.replace(" ", "").replace(",", "")
    procs = [Receiver(config, "serve" if n == 0 else "receive", profile, f"{tag}-{n}")
             for n in range(receivers)]
    total = sum(day.records for day in days)
    boxes = Boxes(days, [proc.endpoint for proc in procs], hub_curve_public)
    cpu_before = ([cpu_seconds(p.process.pid) for p in procs], server_cpu(postmaster),
                  time.process_time())
    started = time.perf_counter()
    try:
        try:
            caught_up = boxes.run(timeout=limit)
        except TimeoutError as exc:  # the run's time limit: say how far it got
            print(f"  {label:<26}cut by the time limit after {time.perf_counter() - started:.0f}"
                  f" s ({exc}): the hub holds {records_held(database, folder):,} of "
                  f"{sum(day.records for day in days):,} records", flush=True)
            return None
        wall = time.perf_counter() - started
        receiver_cpu = sum(cpu_seconds(p.process.pid) - before
                           for p, before in zip(procs, cpu_before[0]))
        db_cpu = server_cpu(postmaster) - cpu_before[1]
        boxes_cpu = time.process_time() - cpu_before[2]
        rss = [peak_rss_mb(p.process.pid) for p in procs]
    finally:
        boxes.close()
        for proc in procs:
            proc.stop()
    held = records_held(database, folder)
    rate = total / wall
    busy = receiver_cpu + db_cpu + boxes_cpu
    print(f"  {label:<26}{total:>11,} records {wall:>8.1f} s {rate:>9,.0f} records/s   "
          f"every box caught up after {caught_up:.1f} s"
          + ("" if held == total else f"   (!) the hub holds {held:,}"), flush=True)
    print(f"  {'':<26}CPU s: receivers {receiver_cpu:,.0f}, PostgreSQL {db_cpu:,.0f}, boxes "
          f"{boxes_cpu:,.0f} ({busy / wall:.2f} of 2 cores; {busy / total * 1e6:.0f} µs a "
          f"record: receivers {receiver_cpu / total * 1e6:.0f}, PostgreSQL "
          f"{db_cpu / total * 1e6:.0f}, boxes {boxes_cpu / total * 1e6:.0f}); receivers' peak"
          f" memory {', '.join(f'{mb:,.0f}' for mb in rss)} MB; reconnects "
          f"{boxes.reconnects}, batches resent {boxes.resent_batches} (sealed again, with "
          f"reconnects' resends: {boxes.resealed})", flush=True)
    return {"rate": rate, "wall": wall, "caught_up": caught_up}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=120)
    parser.add_argument("--records", type=int, default=30_000, help="a box's day, about")
    parser.add_argument("--pg-url", default=None, help="a server to create the bench's "
                        "databases on (else a throwaway cluster)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="sample the receivers with py-spy into this folder")
    parser.add_argument("--only", default="", help="comma-separated labels to run, in this "
                        "order, e.g. pg2,sqlite,pg1 (default: pg2, pg1, sqlite)")
    parser.add_argument("--time-limit", type=float, default=3600,
                        help="seconds for all configurations together, from the clock's first "
                        "start; one still running then is cut and its progress printed")
    parser.add_argument("--server-log", type=Path, default=None,
                        help="keep the throwaway cluster's server log here (lock waits and "
                        "deadlocks with their statements)")
    args = parser.parse_args()
    # SIGTERM (timeout, kill) ends the run through the finally blocks: receivers and the
    # throwaway cluster are stopped, not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cluster = None
    if args.pg_url is None:
        from tests.pgcluster import LOCK_LOG_SETTINGS, Cluster

        cluster = Cluster.create(durable=True, settings=LOCK_LOG_SETTINGS)
    server = args.pg_url or cluster.url
    postmaster = None
    if cluster is not None:
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"{args.boxes} boxes x ~{args.records:,} records (one day each), batches of "
          f"{SETTINGS.batch_size:,}, window {SETTINGS.window} / {SETTINGS.inflight_records:,}"
          f" records, {os.cpu_count()} cores, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    try:
        import psycopg

        with tempfile.TemporaryDirectory(prefix="bench-province-") as tmp:
            template = Path(tmp) / "template"
            hub, identities = hub_template(template, args.boxes)
            made = time.perf_counter()
            days = sealed_days(hub, identities, args.records)
            total = sum(day.records for day in days)
            sealed = sum(len(frames[1]) for day in days for _, _, frames in day.batches)
            print(f"made and sealed before the clock: {total:,} records "
                  f"({sum(d.text_bytes for d in days) / total:.0f} bytes each, "
                  f"{sealed / 2**20:,.0f} MiB sealed) in {time.perf_counter() - made:.1f} s "
                  "on 2 processes", flush=True)
            figures = {}
            configurations = {"pg2": ("PostgreSQL, 2 receivers", "pg", 2),
                              "pg1": ("PostgreSQL, 1 receiver", "pg", 1),
                              "sqlite": ("SQLite, 1 receiver", None, 1)}
            wanted = args.only.split(",") if args.only else list(configurations)
            ends = time.monotonic() + args.time_limit
            for key in wanted:
                label, engine, receivers = configurations[key]
                if time.monotonic() >= ends:
                    print(f"  {label:<26}not run: the time limit was reached", flush=True)
                    continue
                database = None
                if engine:
                    name = f"bench_province_{receivers}"
                    with psycopg.connect(server, autocommit=True) as conn:
                        conn.execute(f"drop database if exists {name}")
                        conn.execute(f"create database {name}")
                    database = server.rsplit("/", 1)[0] + f"/{name}"
                figures[label] = run(label, template, Path(tmp) / key, database, receivers,
                                     days, hub.curve_public, postmaster if engine else None,
                                     args.profile, ends - time.monotonic())
            print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    finally:
        if cluster is not None:
            keep_server_log(cluster, args.server_log)
            cluster.destroy()


def keep_server_log(cluster, target: Path | None) -> None:
    """Copy the cluster's log out of its folder (removed with it) and say where it is."""
    target = target or Path(tempfile.gettempdir()) / (
        f"bench-province-server-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}.log")
    try:
        shutil.copyfile(cluster.log, target)
    except OSError as exc:
        print(f"the PostgreSQL server log was not kept: {exc}", flush=True)
        return
    text = target.read_text(errors="replace")
    print(f"PostgreSQL server log: {target} ({text.count('deadlock detected')} deadlocks, "
          f"{text.count('still waiting for')} lock waits over deadlock_timeout)", flush=True)


if __name__ == "__main__":
    main()
