"""Benchmark: the hub's dashboard and portal pages with five districts' records.

Run from the repository root::

    python -m bench.bench_hub_pages [--records-per-district 1000000] [--runs 7] [--keep DIR]
        [--pg-url postgresql://...]

It feeds five simulated boxes' records (hallwatch/hubsim.py: case events, alerts, notices,
ratings, hash-chained like a box's outbox) through ``HubStore.apply_batch`` with every
projection installed, exactly the receiver's path, and prints the apply rate. Then it signs in
as a city, a district and a department user and times every dashboard page and the portal
through the Flask test client (median and worst of ``--runs`` after one warm-up request), and
the month's score computation. Prints figures and the goal; nothing here asserts.

With ``--keep DIR`` the filled hub folder is kept and reused by the next run (no refill).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import tomli_w

from hallwatch.hubsim import SimBox, city_catalogue, feed
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ

AT = dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
GOAL_MS = 500
RECORDS_PER_CASE = 6.86  # measured from hubsim: events, ratings, alerts and notices per case
# role: (user name, hub role, scope); the city user is an administrator (it sees /users).
USERS = {"city": ("bench-city", "city", None), "district": ("bench-nh", "district", "440605"),
         "department": ("bench-scj", "department", "SCJ"),
         "joint dept": ("bench-jtj", "department", "JTJ")}  # takes part in joint cases


def open_hub(folder: Path, database: str | None = None):
    from hub.config import load_hub_config
    from hub.store import HubStore
    from hub.wiring import wire_dashboard

    if not (folder / "hub.toml").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "catalogue.json").write_text(json.dumps(city_catalogue(DISTRICTS),
                                                          ensure_ascii=False), encoding="utf-8")
        settings = {"version": 1, "catalogue": "catalogue.json",
                    "web": {"port": 0, "serve_portal": True}}
        if database:
            settings["database"] = {"url": database}
        (folder / "hub.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
    config = load_hub_config(folder / "hub.toml")
    store = HubStore(config.store_target)
    dashboard = wire_dashboard(config, store, clock=lambda: AT, with_web=False)
    store.open()
    return dashboard


def fill(dashboard, per_district: int) -> None:
    store = dashboard.data.store
    start = AT.date() - dt.timedelta(days=365)
    cases_per_day = max(1, round(per_district / RECORDS_PER_CASE / 245))
    total, began = 0, time.perf_counter()
    for code, name in DISTRICTS.items():
        box = SimBox(f"{code}-01", code)
        t0 = time.perf_counter()
        count = feed(store, box, box.history(start, 366, cases_per_day, today=AT.date()),
                     batch=2000)
        store.touch_box(box.box_id, code, backlog=0)
        seconds = time.perf_counter() - t0
        total += count
        print(f"  {name}: {count:,} records, {box.cases:,} cases in {seconds:.0f} s "
              f"({count / seconds:,.0f} records/s)", flush=True)
    seconds = time.perf_counter() - began
    print(f"  applied {total:,} records with projections in {seconds:.0f} s "
          f"({total / seconds:,.0f} records/s, {1e6 * seconds / total:.0f} µs/record)")
    t0 = time.perf_counter()
    with store.transaction() as conn:
        conn.execute("analyze")
    print(f"  analyze: {time.perf_counter() - t0:.1f} s")


def sign_in(app, username: str, password: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code == 302
    return client


def signed_in_clients(dashboard) -> dict:
    """A test client of the dashboard app per role, signed in as the bench's user (made on
    first use), and ``public`` (not signed in)."""
    from web.hub import create_app

    users = dashboard.users.setup()
    passwords = {}
    for role, (name, kind, scope) in USERS.items():
        if users.users.get(name) is None:
            passwords[role] = users.add(name, kind, scope, is_admin=kind == "city",
                                        password=f"bench-{name}-pass")  # not one-time
        else:
            # A reused folder: the one-time password changed, as at a first sign-in.
            passwords[role] = f"bench-{name}-pass2"
            users.users.change_password(name, users.reset(name), passwords[role])
    app = create_app(dashboard, {"TESTING": True}, announce=lambda line: None)
    app.extensions["portal_limits"]["pages"].limit = 10**9
    clients = {role: sign_in(app, USERS[role][0], passwords[role]) for role in USERS}
    return {**clients, "public": app.test_client()}


def timed(client, url: str, runs: int) -> tuple[float, float, int, int]:
    response = client.get(url)  # warm-up: the first request of a page compiles its template
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), max(times), response.status_code, len(response.data)


def pages(dashboard) -> dict[str, list[str]]:
    store = dashboard.data.store
    red = store.query("select case_no from hub_cases where district_code = '440605'"
                      " and dept_suffix = 'SCJ' and light = 'red' limit 1")
    case_no = red[0]["case_no"] if red else store.query(
        "select case_no from hub_cases where district_code = '440605' and dept_suffix = 'SCJ'"
        " limit 1")[0]["case_no"]
    common = ["/", "/live.json", "/districts/440605", "/departments/SCJ?month=2026-10",
              "/items/440605-SCJ-001", "/cases", "/cases?light=red", "/cases?state=all",
              "/cases?state=all&page=200", f"/cases/{case_no}", "/supervision", "/forwarded",
              "/scores?month=2026-10", "/complaints"]
    return {"city": common + ["/users"], "district": common, "department": common,
            "public": ["/portal/", "/portal/rates?month=2026-10", "/portal/scores",
                       "/portal/guide", f"/portal/cases?no={case_no}"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records-per-district", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the filled hub folder here.")
    parser.add_argument("--pg-url", help="Fill and time the hub on this (empty) PostgreSQL "
                        "database instead of SQLite.")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-hub-")) / "hub"
    reuse = (folder / "data" / "hub.db").exists()
    dashboard = open_hub(folder, args.pg_url)
    store = dashboard.data.store
    if reuse:
        print(f"reusing {folder}")
    else:
        print(f"filling {folder}: 5 districts x {args.records_per_district:,} records")
        fill(dashboard, args.records_per_district)
    counts = store.query("select (select count(*) from records) as records,"
                         " (select count(*) from hub_cases) as cases,"
                         " (select count(*) from hub_cases where is_open = 1) as open_cases")[0]
    size = (store.query("select pg_database_size(current_database()) as n")[0]["n"]
            if store.is_postgres else store.path.stat().st_size) / 2**30
    print(f"hub: {counts['records']:,} records, {counts['cases']:,} cases "
          f"({counts['open_cases']:,} open), {size:.1f} GiB")

    from hub.scoring import compute_month

    t0 = time.perf_counter()
    results = compute_month(dashboard.data, dashboard.scoring, "2026-10")
    print(f"score 2026-10: {len(results)} units in {time.perf_counter() - t0:.2f} s")
    if not dashboard.scorebook.runs("2026-10"):
        dashboard.scorebook.save("2026-10", results, dashboard.scoring, dashboard.scoring_text,
                                 user="bench")
        dashboard.scorebook.publish("2026-10", user="bench")

    from hub.projections.lights import refresh_lights

    t0 = time.perf_counter()
    refresh_lights(store, dashboard.context)
    print(f"light refresh of all open cases: {time.perf_counter() - t0:.1f} s")

    clients = signed_in_clients(dashboard)
    worst = 0.0
    print(f"\n{'role':<11}{'page':<34}{'median ms':>10}{'max ms':>9}{'status':>8}{'KB':>8}")
    for role, urls in pages(dashboard).items():
        client = clients[role]
        for url in urls:
            median, slowest, status, size = timed(client, url, args.runs)
            worst = max(worst, median)
            flag = "  > goal" if median > GOAL_MS else ""
            print(f"{role:<11}{url[:33]:<34}{median:>10.1f}{slowest:>9.1f}{status:>8}"
                  f"{size / 1024:>8.0f}{flag}")
    print(f"\nslowest median: {worst:.0f} ms (goal: every page under {GOAL_MS} ms)")


if __name__ == "__main__":
    main()
