"""Benchmark: the hub's pages at tens of millions of records on PostgreSQL (issue 18).

Run from the repository root::

    python -m bench.bench_hub_bigdata --seed-per-district 40000 --scales 5000000,25000000

Without ``--pg-url`` it makes a throwaway cluster (tests/pgcluster.py) with a hub server's
memory settings (``SERVER_SETTINGS``) in ``--cluster-dir`` and removes it at the end. 25
million records take about 25 GB of disk; 50 million about 50 GB.

Filling 50 million records through the receiver's path takes about 20 hours here, so it is
done in two steps:

1. a seed: six units' simulated boxes (hallwatch/hubsim.py) applied through
   ``HubStore.apply_batch`` with every projection, exactly as bench/bench_hub_pages.py does
   (``--seed-per-district`` records each, a year of history);
2. copies of the seed, made in SQL (``INSERT ... SELECT``), as if each box had sent its year
   again and again on the same days: copy ``k`` of a seed row has its box's sequence numbers
   and its alert, rating and absence ids moved up by ``k * 2,000,000``, and its case numbers
   ``440605<kkk>...`` instead of ``440605000...`` (the digits that hubsim's seed field and a
   box's first million cases leave at 0). Every table the projections fill per record or per
   case (``records``, ``hub_cases``, ``hub_case_events``, ``hub_alerts``, ``hub_ratings``...)
   gets the copies' rows (``hub_case_depts`` too, keyed by the copied cases' ids); the daily
   aggregates (``hub_case_daily``, ``hub_rating_daily``) are the seed's counts times the
   number of copies, and each box's ``record_count`` too. So the projections are what
   applying the copies' records would have made of them, at ``k`` times the volume per day
   (``k`` times the open cases as well), with the same six boxes. The copies' hash chains
   are not recomputed (the pages never read them).

Then it signs in as a city, a district and two department users (SCJ; JTJ, which takes
part in joint cases) and times the overview, the district, the department and the case
lists (first page, deep pages, filtered) through the Flask test client: median and p90 of
``--runs`` after one warm-up request. Each scale in ``--scales`` is reached by adding copies
to the previous one. Prints figures, the goal and the plans of the joint department's deep
page (EXPLAIN ANALYZE); nothing here asserts. ``--keep DIR`` keeps the hub folder (hub.toml)
for another run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_hub_pages import AT, GOAL_MS, fill, open_hub, signed_in_clients

STRIDE = 2_000_000  # a copy's ids are the seed's plus k * STRIDE (int4 columns: k < 1000)
MAX_COPIES = 1000  # the copy number takes the three case-number digits after the district
SHIFTED = {"seq", "last_seq", "alert_id", "event_id", "rating_id", "absence_id"}
# Text columns that may quote a case number (a record's body, an alert's subject and detail,
# a notice's content...): the seed's "<district>000" becomes "<district><kkk>".
QUOTING = {"body", "facts", "subject", "detail", "content", "html", "note", "reasons"}
# Tables copied row by row: those the projections fill per record, per case or per alert.
# (hub_cameras and hub_selftests hold one row per camera or box: not copied.)
COPIED = {"records": "box_id", "hub_cases": "case_no", "hub_case_events": "case_no",
          "hub_case_shares": "case_no", "hub_alerts": "alert_id",
          "hub_alert_events": "alert_id", "hub_notices": "number", "hub_ratings": "rating_id",
          "hub_followups": "rating_id", "hub_absences": "absence_id"}
# Daily aggregates: the seed's counts times the number of copies.
SCALED = {"hub_case_daily": ("finished", "with_deadline", "early", "on_time", "late",
                             "handling_days", "handling_n"),
          "hub_rating_daily": ("total", "counted", "satisfied", "bad", "invalid"),
          "hub_rating_item_daily": ("total", "counted", "satisfied"),
          "hub_reconciliations": ("platform", "box")}
# A hub server's settings rather than the tests' (tests/pgcluster.py keeps fsync off: the
# fill is throwaway, and it changes no read). random_page_cost for SSDs: at 4 the planner
# walked the primary key and filtered rather than take (district_code, id). max_wal_size
# 2GB: at 50 M records the WAL between checkpoints is disk the data needs (no read uses it).
SERVER_SETTINGS = ("shared_buffers = 2GB", "work_mem = 32MB", "maintenance_work_mem = 512MB",
                   "max_wal_size = 2GB", "effective_cache_size = 8GB", "random_page_cost = 1.1",
                   "max_parallel_workers_per_gather = 1")
PAGES = {
    "overview": "/",
    "district": "/districts/440605",
    "department": "/departments/SCJ?month=2026-10",
    "cases (open, first page)": "/cases",
    "cases (open, page 100)": "/cases?page=100",
    "cases red, district": "/cases?light=red&district=440605",
    "cases all (first page)": "/cases?state=all",
    "cases all (page 2000)": "/cases?state=all&page=2000",
    "cases done, dept (p 500)": "/cases?state=finished&dept=SCJ&page=500",
    "cases by number prefix": "/cases?state=all&q=4406050100",
    "cases all, joint dept (p 500)": "/cases?state=all&dept=JTJ&page=500",
    "cases open, joint dept (p 100)": "/cases?dept=JTJ&page=100",
}
ROLE_PAGES = {"city": list(PAGES), "district": [name for name in PAGES if "joint" not in name],
              "department": ["overview", "department", "cases (open, first page)",
                             "cases all (page 2000)", "cases done, dept (p 500)"],
              # a department that takes part in joint cases: its own lists (hub_case_depts)
              "joint dept": ["overview", "cases (open, first page)", "cases (open, page 100)",
                             "cases all (p 500)"]}
PAGES["cases all (p 500)"] = "/cases?state=all&page=500"


def copy_expression(column: str, district: str) -> str:
    """The column of copy ``g.k`` (a generate_series) of a seed row."""
    tag = "lpad(g.k::text, 3, '0')"
    if column in SHIFTED:
        return f"{column} + g.k * {STRIDE}"
    if column == "case_no":
        return f"left(case_no, 6) || {tag} || substr(case_no, 10)"
    if column == "number":
        return f"replace(number, '号', '-' || {tag} || '号')"
    if column in QUOTING:
        return f"replace({column}, {district} || '000', {district} || {tag})"
    return column


def seed_rows(table: str, key: str) -> str:
    """The WHERE clause selecting the seed's rows of ``table`` (copy 0)."""
    if key == "box_id":  # records: by its primary key, box by box
        return "box_id in (select box_id from boxes) and seq < %d" % STRIDE
    if key == "case_no":
        return "substr(case_no, 7, 3) = '000'"
    if key == "number":
        return "number not like '%%-%%'"
    return f"{key} < {STRIDE}"


def columns(conn, table: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "select column_name from information_schema.columns where table_schema = 'public'"
        " and table_name = %s order by ordinal_position", (table,))]


def add_copies(conn, first: int, last: int, per_statement: int = 10) -> None:
    """Copies ``first`` .. ``last`` (inclusive) of the seed, ``per_statement`` at a time."""
    if first == 1:  # only the seed so far
        most = conn.execute("select max(last_seq) from boxes").fetchone()[0]
        assert most < STRIDE, f"the seed's boxes reach seq {most}: more than the stride {STRIDE}"
    assert last < MAX_COPIES, f"at most {MAX_COPIES - 1} copies"
    layout = {table: columns(conn, table) for table in COPIED}
    for low in range(first, last + 1, per_statement):
        high = min(last, low + per_statement - 1)
        t0 = time.perf_counter()
        with conn.transaction():
            for table, key in COPIED.items():
                names = [name for name in layout[table] if name != "id"]
                district = "district_code" if "district_code" in names else "left(box_id, 6)"
                order = " order by s.id, g.k" if "id" in layout[table] else ""
                select = ", ".join(copy_expression(n, district) for n in names)
                conn.execute(
                    f"insert into {table} ({', '.join(names)}) select {select} from"
                    f" (select * from {table} where {seed_rows(table, key)}) s"
                    f" cross join generate_series({low}, {high}) as g(k){order}")
            copy_case_depts(conn, low, high)
        print(f"  copies {low}-{high}: {time.perf_counter() - t0:.0f} s", flush=True)


def copy_case_depts(conn, low: int, high: int) -> None:
    """The seed's ``hub_case_depts`` rows for copies ``low`` .. ``high`` of its cases (keyed
    by the copies' case ids, which the copied ``hub_cases`` rows have drawn)."""
    copied_no = copy_expression("case_no", "").replace("case_no", "s.case_no")
    conn.execute(
        "insert into hub_case_depts (dept_suffix, case_id, district_code, is_open, list_light,"
        " list_remaining, list_case_no) select d.dept_suffix, c.id, c.district_code, c.is_open,"
        " c.light, c.remaining, c.case_no from hub_case_depts d"
        " join hub_cases s on s.id = d.case_id and substr(s.case_no, 7, 3) = '000'"
        f" cross join generate_series({low}, {high}) as g(k)"
        f" join hub_cases c on c.district_code = s.district_code"
        f" and c.case_no = {copied_no} order by c.id")


def scale_aggregates(conn, copies: int) -> None:
    """Daily aggregates and record counts as ``copies`` times the seed's (kept aside)."""
    with conn.transaction():
        for table, counts in {**SCALED, "boxes": ("record_count",)}.items():
            conn.execute(f"create table if not exists bench_seed_{table} as"
                         f" select * from {table}")
            names = columns(conn, table)
            conn.execute(f"delete from {table}")
            conn.execute(
                f"insert into {table} ({', '.join(names)}) select "
                + ", ".join(f"{n} * {copies}" if n in counts else n for n in names)
                + f" from bench_seed_{table}")
        conn.execute("insert into hub_meta (key, value) values ('bench_copies', %s)"
                     " on conflict (key) do update set value = excluded.value", (str(copies),))


def copies_present(conn) -> int:
    row = conn.execute("select value from hub_meta where key = 'bench_copies'").fetchone()
    return int(row[0]) if row else 1


def grow(url: str, records_wanted: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        have = copies_present(conn)
        seed = conn.execute("select sum(record_count) from boxes").fetchone()[0] // have
        want = min(MAX_COPIES - 1, max(have, round(records_wanted / seed)))
        if want > have:
            print(f"copying the seed ({seed:,} records) {want - have} more times")
            t0 = time.perf_counter()
            add_copies(conn, have, want - 1)
            scale_aggregates(conn, want)
            t1 = time.perf_counter()
            conn.execute("vacuum analyze")
            print(f"  {want - have} copies in {t1 - t0:.0f} s, vacuum analyze"
                  f" {time.perf_counter() - t1:.0f} s")


def summary(store) -> str:
    counts = store.query(
        "select (select sum(record_count) from boxes) as records,"
        " (select count(*) from hub_cases) as cases,"
        " (select count(*) from hub_cases where is_open = 1) as open_cases,"
        " (select count(*) from hub_alerts) as alerts,"
        " (select count(*) from hub_ratings) as ratings,"
        " (select pg_database_size(current_database())) as size")[0]
    return (f"{counts['records']:,} records, {counts['cases']:,} cases "
            f"({counts['open_cases']:,} open), {counts['alerts']:,} alerts, "
            f"{counts['ratings']:,} ratings, {counts['size'] / 2**30:.1f} GiB")


def where_the_bytes_go(store) -> None:
    """Each table's size (heap, its indexes) and bytes per record, largest first."""
    records = store.query("select sum(record_count) as n from boxes")[0]["n"] or 1
    rows = store.query(
        "select c.relname as name, pg_total_relation_size(c.oid) as total,"
        " pg_relation_size(c.oid) as heap, pg_indexes_size(c.oid) as indexes"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relispartition is false"
        " order by 1")
    for row in rows:  # a partitioned table's size is its partitions'
        if row["total"] == 0:
            row.update(store.query(
                "select coalesce(sum(pg_total_relation_size(i.relid)), 0) as total,"
                " coalesce(sum(pg_relation_size(i.relid)), 0) as heap,"
                " coalesce(sum(pg_indexes_size(i.relid)), 0) as indexes"
                " from pg_partition_tree(?) i where i.isleaf", (row["name"],))[0])
    print(f"\n{'table':<24}{'total GiB':>10}{'heap':>8}{'indexes':>9}{'B/record':>10}")
    for row in sorted(rows, key=lambda row: -row["total"])[:12]:
        print(f"{row['name']:<24}{row['total'] / 2**30:>10.2f}{row['heap'] / 2**30:>8.2f}"
              f"{row['indexes'] / 2**30:>9.2f}{row['total'] / records:>10.0f}")
    for row in store.query(
            "select indexrelid::regclass::text as name, pg_relation_size(indexrelid) as size"
            " from pg_index i join pg_class c on c.oid = i.indrelid"
            " where c.relname in ('records', 'hub_cases', 'hub_case_events', 'hub_case_depts')"
            " order by 2 desc limit 14"):
        print(f"  index {row['name']:<38}{row['size'] / 2**30:>8.2f} GiB")


def timed(client, url: str, runs: int) -> tuple[float, float, int]:
    response = client.get(url)  # warm-up: templates compiled, pages in PostgreSQL's cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
    return statistics.median(times), p90, response.status_code


def time_pages(dashboard, runs: int) -> float:
    clients = signed_in_clients(dashboard)
    worst = 0.0
    print(f"\n{'role':<11}{'page':<31}{'url':<42}{'median ms':>10}{'p90 ms':>8}{'status':>7}")
    for role, names in ROLE_PAGES.items():
        for name in names:
            median, p90, status = timed(clients[role], PAGES[name], runs)
            worst = max(worst, median)
            flag = "  > goal" if median > GOAL_MS else ""
            print(f"{role:<11}{name:<31}{PAGES[name][:41]:<42}{median:>10.1f}{p90:>8.1f}"
                  f"{status:>7}{flag}", flush=True)
    return worst


def explain_joint_list(dashboard) -> None:
    """PostgreSQL's plans for the joint department's deep page (its count, then its ids):
    a walk down hub_case_depts' key, no look at the shares."""
    from hub.services import Scope
    from hub.services.cases import CaseFilter, case_page

    data = dashboard.data
    issued: list[tuple[str, list]] = []
    real = data.query
    data.query = lambda sql, params=(): issued.append((sql, list(params))) or real(sql, params)
    try:
        case_page(data, Scope.city(), CaseFilter(dept="JTJ", state="all"), page=500)
    finally:
        del data.query
    for sql, params in issued:
        if "hub_case_depts" in sql:
            plan = data.query(f"explain (analyze, buffers, costs off) {sql}", params)
            print("\n" + "\n".join(row["QUERY PLAN"] for row in plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", help="An empty PostgreSQL database (or the one a previous "
                        "run with --keep filled); default: a throwaway cluster.")
    parser.add_argument("--cluster-dir", type=Path, help="Where the throwaway cluster lives "
                        "(default: a temporary folder; it needs the disk space).")
    parser.add_argument("--seed-per-district", type=int, default=40_000)
    parser.add_argument("--scales", default="5000000,50000000",
                        help="Record counts to time the pages at, comma-separated, ascending.")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the hub folder here.")
    args = parser.parse_args()
    cluster = None
    if not args.pg_url:
        from tests.pgcluster import Cluster

        cluster = Cluster.create(args.cluster_dir)
        with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n".join(SERVER_SETTINGS) + "\n")
        cluster.restart()
        import psycopg

        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("create database hub")
        args.pg_url = cluster.url.rsplit("/", 1)[0] + "/hub"
    try:
        run(args)
    finally:
        if cluster is not None:
            cluster.destroy()


def run(args) -> None:
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-bigdata-")) / "hub"
    dashboard = open_hub(folder, args.pg_url)
    store = dashboard.data.store
    if not store.query("select 1 from boxes limit 1"):
        print(f"seed: 6 units x {args.seed_per_district:,} records through apply_batch")
        fill(dashboard, args.seed_per_district)
    print(f"at {AT.isoformat()}, load average {os.getloadavg()[0]:.1f}")
    for scale in (int(text) for text in args.scales.split(",")):
        grow(args.pg_url, scale)
        print(f"\nhub: {summary(store)}; load average {os.getloadavg()[0]:.1f}")
        worst = time_pages(dashboard, args.runs)
        explain_joint_list(dashboard)
        where_the_bytes_go(store)
        print(f"slowest median: {worst:.0f} ms (goal: every page under {GOAL_MS} ms)")


if __name__ == "__main__":
    main()
