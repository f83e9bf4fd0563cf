"""Benchmark: one box's huge jump in sequence numbers must not hold up the other boxes.

Run from the repository root: ``python -m bench.bench_hub_fairness [--jump 2000000]``.
Prints figures only.

Issue 15: a signed batch that jumped from seq 9 to 2,000,009 made the receiver insert
1,999,999 ``missing`` rows, and every other box waited 6 s. Gaps are now ranges, so the
jump is one row. The receiver applies batches one after another, so what another box waits
is the time the jump batch takes to apply. Measured on each engine through
``HubStore.apply_batch`` with every view installed (the receiver's own path):

- a normal batch of 500 records from another box (the baseline, same run);
- the jump batch: seq 9 then seq 9 + jump (one gap of ``jump - 1`` records);
- the other box's next batch right after the jump (what it waits behind it).

Without ``--pg-url`` a throwaway PostgreSQL cluster is started (tests/pgcluster.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import tomli_w

from hallwatch.hubsim import SimBox, city_catalogue
from standard.districts import DISTRICTS
from standard.envelope import canonical_json, chain_hash

GOAL_SECONDS = 0.2  # "a fraction of a second"


def open_store(folder: Path, database: str | None):
    from hub.config import load_hub_config
    from hub.store import HubStore
    from hub.wiring import wire_dashboard

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.json").write_text(json.dumps(city_catalogue(DISTRICTS),
                                                      ensure_ascii=False), encoding="utf-8")
    settings = {"version": 1, "catalogue": "catalogue.json", "web": {"enabled": False}}
    if database:
        settings["database"] = {"url": database}
    (folder / "hub.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
    config = load_hub_config(folder / "hub.toml")
    store = HubStore(config.store_target)
    wire_dashboard(config, store, with_web=False)
    return store.open()


def jump_batch(box: SimBox, jump: int) -> list[tuple]:
    """Records 1-9 as the box made them, then one record numbered 9 + jump."""
    records = [box.record("note", {"n": n}, box_time()) for n in range(9)]
    box.seq += jump - 1
    record = {"seq": box.seq + 1, "kind": "note", "at": records[-1][0]["at"], "body": {"n": 10}}
    text = canonical_json(record)
    box.seq += 1
    box.head = chain_hash(box.head, text)
    return records + [(record, text.decode("utf-8"), box.head)]


def box_time():
    import datetime as dt

    return dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)


def timed_apply(store, box: SimBox, records: list[tuple]) -> float:
    started = time.perf_counter()
    store.apply_batch(box.box_id, box.district_code, records, from_seq=records[0][0]["seq"],
                      backlog=0)
    return time.perf_counter() - started


def run(label: str, store, jump: int) -> None:
    import datetime as dt
    import itertools

    other = SimBox("440606-01", "440606", seed=1)
    history = other.history(dt.date(2026, 9, 1), 80, 10, today=dt.date(2026, 11, 20))
    batches = [list(itertools.islice(history, 500)) for _ in range(8)]
    normal = [timed_apply(store, other, batch) for batch in batches[:6]]
    jumper = SimBox("440605-01", "440605", seed=2)
    jumped = timed_apply(store, jumper, jump_batch(jumper, jump))
    after = timed_apply(store, other, batches[6])
    rows = store.query("select count(*) as n from missing_ranges")[0]["n"]
    print(f"  {label:<12} normal batch of 500: median {statistics.median(normal) * 1000:6.0f} ms"
          f" | jump of {jump:,}: {jumped * 1000:6.1f} ms ({rows} missing_ranges row)"
          f" | the other box's next batch: {after * 1000:6.0f} ms"
          f" | goal: the jump under {GOAL_SECONDS * 1000:.0f} ms: "
          f"{'met' if jumped < GOAL_SECONDS else 'NOT met'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jump", type=int, default=2_000_000)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    cluster = None
    if args.pg_url is None:
        from tests.pgcluster import Cluster

        cluster = Cluster.create(durable=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = open_store(Path(tmp) / "sqlite", None)
            run("SQLite", sqlite, args.jump)
            sqlite.close()
            postgres = open_store(Path(tmp) / "pg", args.pg_url or cluster.url)
            run("PostgreSQL", postgres, args.jump)
            postgres.close()
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()
