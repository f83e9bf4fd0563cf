"""Benchmark: evaluator key press (mock pin driven low) to committed rating row.

Run from the repository root: ``python -m bench.bench_press``. A real box is built with
``build_box`` from ``firmware_cfg/hall-4.toml`` (mock pins, lockout 0), with a few thousand
open cases and the rules and evaluation schedulers running every second, so the press competes
for the single SQLite writer as it would in a hall. Each press is timed from ``drive_low`` to
the worker's after-commit callback. Debounce runs on a virtual clock that moves one second per
press (citizens are seconds apart; waiting 50 ms of real time per press would only measure
sleep). Prints figures and the goal only; nothing here asserts.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import tomli_w

from edge.app import build_box
from edge.config import load_box_config
from edge.ingest import ingest_texts
from edge.supervision.rules import Scheduler
from hallwatch.sim import Platform, catalogue_for

PRESSES = 10_000
BURST = 1_000
GOAL_P99_MS = 20.0
REPO = Path(__file__).resolve().parent.parent


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_box_folder(folder: Path) -> Path:
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "platform.token").write_text(secrets.token_urlsafe(32))
    (folder / "catalogue.json").write_text(json.dumps(catalogue_for("440605"), ensure_ascii=False),
                                           encoding="utf-8")
    profile = (REPO / "firmware_cfg" / "hall-4.toml").read_text(encoding="utf-8")
    profile = profile.replace("lockout_seconds = 5", "lockout_seconds = 0")
    (folder / "hall-4.toml").write_text(profile, encoding="utf-8")
    config = {"version": 1, "box_id": "440605-bench", "district_code": "440605",
              "catalogue": "catalogue.json", "profile": "hall-4.toml"}
    (folder / "box.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
    return folder / "box.toml"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-press-"))
    try:
        box = build_box(load_box_config(make_box_folder(folder)))
        for service in box.services:
            if isinstance(service, Scheduler):
                service.interval = 1.0  # busy schedulers: the writer is contended
        virtual = VirtualClock()
        keys = box.evaluations.keys
        keys.monotonic = virtual
        box.start()
        now = dt.datetime.now(dt.timezone.utc)
        events = list(Platform("440605").backlog(now - dt.timedelta(days=30), 30, 150))
        lines = [(i, json.dumps(e, ensure_ascii=False)) for i, e in enumerate(events)]
        result = ingest_texts(box.store, lines, source="bench", hooks=box.ingest_hooks)
        open_cases = box.store.query("select count(*) as n from cases where is_open = 1")[0]["n"]
        print(f"box with {result.accepted} case events, {open_cases} open cases; "
              "rules and evaluation passes every 1 s")

        done = threading.Event()
        finished: list[float] = []

        def committed(press, outcome) -> None:
            finished.append(time.perf_counter())
            done.set()

        keys.listeners.append(committed)
        factory = keys.factories["main"]
        targets = [(w.window_no, pin) for w in box.evaluations.profile.windows
                   for pin in w.keys.values()]
        latencies = []
        for n in range(PRESSES):
            _, bcm = targets[n % len(targets)]
            pin = factory.pin(bcm)
            done.clear()
            started = time.perf_counter()
            pin.drive_low()
            if not done.wait(30):
                raise SystemExit(f"press {n} was not committed within 30 s")
            latencies.append((finished[-1] - started) * 1000)
            virtual.now += 0.5
            pin.drive_high()
            virtual.now += 0.5

        ms = latencies
        print(f"{PRESSES} presses, one at a time: p50 {percentile(ms, 0.50):.2f} ms, "
              f"p99 {percentile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms, "
              f"mean {statistics.fmean(ms):.2f} ms  (goal: p99 < {GOAL_P99_MS:.0f} ms)")

        finished.clear()
        started = time.perf_counter()
        for n in range(BURST):
            _, bcm = targets[n % len(targets)]
            factory.pin(bcm).drive_low()
            virtual.now += 0.5
            factory.pin(bcm).drive_high()
            virtual.now += 0.5
        keys.flush(60)
        elapsed = time.perf_counter() - started
        print(f"{BURST} presses queued at once: all committed in {elapsed * 1000:.0f} ms "
              f"({BURST / elapsed:.0f} presses/s)")
        rows = box.store.query("select count(*) as n from ratings")[0]["n"]
        print(f"ratings rows: {rows} (expected {PRESSES + BURST})")
        box.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
