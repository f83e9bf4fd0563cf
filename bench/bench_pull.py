"""The 中间库 pull: rows/s from PostgreSQL into the box, against reading the same rows with
psycopg alone, in the same run.

    python -m bench.bench_pull [--rows 100000] [--batch 1000 --batch 5000]

Prints figures only. The platform's table is the made-up layout of hallwatch/exchange.py,
filled with a simulated district's history. Three figures per batch size:

- psycopg alone: ``select * ... where xh > %s order by xh limit N`` until the end, rows fetched
  and dropped (the floor of any reader);
- SQLAlchemy read: the box's reader (``DatabaseReader.read``), nothing stored;
- into the box: ``DatabasePull.poll`` until caught up: read, map, validate, store each batch
  with its watermark in one transaction (fsync'd, as in a hall), in a fresh box store.

Uses ``HALLWATCH_TEST_PG_URL`` when set, else a throwaway cluster (Debian's server binaries);
without either it says so and exits cleanly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from edge.integration import INTEGRATION_SCHEMA, Mapping, RowMapper, Sink
from edge.integration.pull import DatabasePull, DatabaseReader
from edge.store import Store
from hallwatch.exchange import MAPPING_FILE, Exchange
from hallwatch.sim import Platform
from standard.configfile import load_toml

REPEATS = 3


def server_url() -> tuple[str | None, object | None]:
    """(superuser URL, cluster to destroy or None); (None, None) when there is no server."""
    url = os.environ.get("HALLWATCH_TEST_PG_URL")
    if url:
        return url, None
    from tests.pgcluster import Cluster, ClusterError, server_bin_dir

    if server_bin_dir() is None:
        return None, None
    try:
        cluster = Cluster.create(durable=True)
    except ClusterError as exc:
        print(f"bench_pull: cannot start a PostgreSQL cluster ({exc}); skipped")
        return None, None
    return cluster.url, cluster


def database(server: str) -> tuple[str, str]:
    """A new database on ``server``: (its name, its psycopg URL)."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    base = server.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def fill(url: str, rows: int) -> int:
    exchange = Exchange(url.replace("postgresql://", "postgresql+psycopg://", 1))
    exchange.create()
    platform = Platform("440607", seed=3, windows=12)
    start = dt.datetime(2026, 3, 1, 1, tzinfo=dt.timezone.utc)
    written, day = 0, 0
    while written < rows:
        events = list(platform.backlog(start + dt.timedelta(days=day), 1, 300))
        written += exchange.insert(events[:rows - written])
        day += 1
    exchange.close()
    return written


def psycopg_alone(url: str, batch: int) -> float:
    import psycopg

    began = time.perf_counter()
    last, total = 0, 0
    with psycopg.connect(url) as conn:
        while True:
            rows = conn.execute("select * from t_bj_hjxx where xh > %s order by xh limit %s",
                                (last, batch)).fetchall()
            if not rows:
                break
            total += len(rows)
            last = rows[-1][0]
    return total / (time.perf_counter() - began)


def reader_alone(url: str, batch: int) -> float:
    reader = DatabaseReader(url, table="t_bj_hjxx", watermark="xh")
    began = time.perf_counter()
    after, total = None, 0
    while True:
        got = reader.read(after, batch)
        total += len(got.rows)
        after = got.watermark
        if not got.behind:
            break
    reader.close()
    return total / (time.perf_counter() - began)


def into_the_box(url: str, batch: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "box.db", box_id="440607-01")
        store.extra_schema.append(INTEGRATION_SCHEMA)
        store.open()
        pull = DatabasePull("bench", DatabaseReader(url, table="t_bj_hjxx", watermark="xh"),
                            RowMapper(load_toml(MAPPING_FILE, Mapping)), Sink(store),
                            batch_size=batch)
        began = time.perf_counter()
        while pull.poll().behind:
            pass
        elapsed = time.perf_counter() - began
        stored = store.query("select count(*) as n from case_events")[0]["n"]
        pull.close()
        store.close()
    return stored / elapsed, stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, action="append")
    args = parser.parse_args(argv)
    server, cluster = server_url()
    if server is None:
        print("bench_pull: skipped: no PostgreSQL server binaries (apt-get install postgresql) "
              "and HALLWATCH_TEST_PG_URL is unset")
        return 0
    try:
        name, url = database(server)
        rows = fill(url, args.rows)
        sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        print(f"中间库 pull from PostgreSQL, {rows} rows of t_bj_hjxx")
        for batch in args.batch or [1000, 5000]:
            raw = statistics.median(psycopg_alone(url, batch) for _ in range(REPEATS))
            read = statistics.median(reader_alone(sa_url, batch) for _ in range(REPEATS))
            box, stored = into_the_box(sa_url, batch)
            assert stored == rows, f"stored {stored} of {rows}"
            print(f"  batch {batch:>5}: psycopg alone {raw:>9,.0f} rows/s | SQLAlchemy read "
                  f"{read:>9,.0f} rows/s ({read / raw:.2f}x) | into the box {box:>8,.0f} rows/s "
                  f"({box / raw:.2f}x of psycopg alone)")
    finally:
        if cluster is not None:
            cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
