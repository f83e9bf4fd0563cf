"""Benchmark: many boxes' records into one hub, on SQLite and on PostgreSQL, in the same run.

Run from the repository root: ``python -m bench.bench_hub_province [--boxes 120]
[--records-per-box 2000] [--pg-url URL]``. Prints figures only.

Each receiver is a process of its own that applies batches of 500 records through
``HubStore.apply_batches`` with every view (the receiver's own path after a batch is opened),
taking its boxes' batches in turn as a receiver serving many boxes does, and committing
those that wait together as its apply worker does (``--group-records``; 500 for one
transaction per batch). Box i goes to
receiver i mod n. Records come from ``hallwatch.hubsim`` (cases, ratings, alerts, notices: the
projections' real work), made in each receiver process before the clock starts. Not measured
here: ZeroMQ, CURVE, decryption and signature checks (``bench_relay`` measures the whole path
for one box; they add ~10 % per record).

Runs, in order: SQLite with one receiver (its single writer); PostgreSQL with one receiver;
PostgreSQL with two. Then the same without views ("raw": the storage layer's ceiling). Without
``--pg-url`` a throwaway PostgreSQL cluster with durable settings is started (Debian's
server binaries, tests/pgcluster.py).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
from pathlib import Path

import tomli_w

from hallwatch.hubsim import SimBox, city_catalogue
from hub.apply_pool import GROUP_RECORDS
from standard.districts import DISTRICTS

BATCH = 500
UNITS = list(DISTRICTS)


def _box(index: int, records_per_box: int) -> tuple[SimBox, list]:
    district = UNITS[index % len(UNITS)]
    box = SimBox(f"{district}-{index:03d}", district, seed=index)
    import datetime as dt
    import itertools

    start = dt.date(2026, 9, 1)
    records = list(itertools.islice(box.history(start, 400, 4, today=dt.date(2026, 11, 20)),
                                    records_per_box))
    return box, records


def _receiver(folder: str, boxes: list[int], records_per_box: int, views: bool,
              group_records: int, ready, go, results) -> None:
    from hub.config import load_hub_config
    from hub.store import Batch, HubStore
    from hub.wiring import wire_dashboard

    config = load_hub_config(Path(folder) / "hub.toml")
    store = HubStore(config.store_target)
    if views:
        wire_dashboard(config, store, with_web=False)
    store.open()
    made = [_box(index, records_per_box) for index in boxes]
    ready.put(sum(len(records) for _, records in made))
    go.wait()
    started = time.perf_counter()
    applied, caught_up = 0, []
    cursors = [0] * len(made)
    group: list = []  # (position, Batch) waiting: committed together, as the receiver's
    #                   worker takes what waits in its queue (hub/apply_pool.py)

    def commit() -> int:
        done = store.apply_batches([batch for _, batch in group])
        for position, _ in group:
            if cursors[position] >= len(made[position][1]):
                caught_up.append(time.perf_counter() - started)
        group.clear()
        return sum(outcome.new for outcome in done)

    while len(caught_up) < len(made):
        for position, (box, records) in enumerate(made):
            first = cursors[position]
            if first >= len(records):
                continue
            chunk = records[first:first + BATCH]
            group.append((position, Batch(box.box_id, box.district_code, chunk,
                                          chunk[0][0]["seq"], 0)))
            cursors[position] = first + BATCH
            if len(group) * BATCH >= group_records:
                applied += commit()
        if group:
            applied += commit()
    results.put({"applied": applied, "seconds": time.perf_counter() - started,
                 "last_caught_up": max(caught_up)})
    store.close()


def run(label: str, folder: Path, database: str | None, boxes: int, records_per_box: int,
        receivers: int, views: bool, group_records: int) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.json").write_text(json.dumps(city_catalogue(UNITS), ensure_ascii=False),
                                           encoding="utf-8")
    settings = {"version": 1, "catalogue": "catalogue.json", "web": {"enabled": False}}
    if database:
        settings["database"] = {"url": database}
    (folder / "hub.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=_receiver, args=(
        str(folder), list(range(n, boxes, receivers)), records_per_box, views, group_records,
        ready, go, results)) for n in range(receivers)]
    for process in processes:
        process.start()
    total = sum(ready.get(timeout=1800) for _ in processes)
    started = time.perf_counter()
    go.set()
    outcome = [results.get(timeout=7200) for _ in processes]
    wall = time.perf_counter() - started
    for process in processes:
        process.join()
    applied = sum(o["applied"] for o in outcome)
    caught_up = max(o["last_caught_up"] for o in outcome)
    print(f"  {label:<34}{applied:>10,} records {wall:>8.1f} s {applied / wall:>10,.0f} rec/s"
          f"   every box caught up after {caught_up:.1f} s"
          + ("" if applied == total else f"   (!) {total - applied:,} not applied"), flush=True)
    return {"rate": applied / wall, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=120)
    parser.add_argument("--records-per-box", type=int, default=2000)
    parser.add_argument("--group-records", type=int, default=GROUP_RECORDS,
                        help="batches committed together, up to this many records (the "
                        "receiver's group commit); 500 = one batch per transaction")
    parser.add_argument("--pg-url", default=None, help="a database to fill (else a throwaway "
                        "cluster); it must be empty")
    args = parser.parse_args()
    cluster = None
    if args.pg_url is None:
        from tests.pgcluster import Cluster

        cluster = Cluster.create(durable=True)
    server = args.pg_url or cluster.url
    print(f"{args.boxes} boxes x {args.records_per_box:,} records, batches of {BATCH}, "
          f"group commits of up to {args.group_records:,} records, "
          f"{multiprocessing.cpu_count()} cores")
    try:
        import psycopg

        with tempfile.TemporaryDirectory() as tmp:
            figures = {}
            for views in (True, False):
                print("with every view:" if views else "records only (no views):")
                for label, engine, receivers in (("SQLite, 1 receiver", None, 1),
                                                 ("PostgreSQL, 1 receiver", "pg", 1),
                                                 ("PostgreSQL, 2 receivers", "pg", 2)):
                    database = None
                    if engine:
                        name = f"bench_{int(views)}_{receivers}"
                        with psycopg.connect(server, autocommit=True) as conn:
                            conn.execute(f"drop database if exists {name}")
                            conn.execute(f"create database {name}")
                        database = server.rsplit("/", 1)[0] + f"/{name}"
                    figures[(views, label)] = run(
                        label, Path(tmp) / f"{int(views)}-{label.replace(' ', '')}", database,
                        args.boxes, args.records_per_box, receivers, views,
                        args.group_records)
            base = figures[(True, "SQLite, 1 receiver")]["rate"]
            for (views, label), figure in figures.items():
                print(f"  {'views' if views else 'raw':<6}{label:<28}"
                      f"{figure['rate'] / base:>6.2f} x SQLite with views")
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()
