"""Benchmark: the hall manager's pages with 100,000 cases in the store.

Run from the repository root: ``python -m bench.bench_pages [--cases N] [--runs N]``.
It fills a fresh box (through the real ingest path, so the outbox fills too), then times the
window board ``/``, its live JSON ``/board.json``, the case list ``/cases`` (first page,
a filtered page, a deep page) and the charts ``/charts`` (30 and 90 days), through the Flask
test client and through waitress over HTTP.
"first" is the first request for that view of the snapshot (its filter is computed then and
kept). Prints figures and the goal only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import random
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from hallwatch.sim import GIVEN, SURNAMES, catalogue_for
from standard.records import LOCAL_TZ

DISTRICT = "440605"
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
GOAL_MS = 300
PAGES = ("/", "/board.json", "/cases", "/cases?light=red&page=3", "/cases?page=500",
         "/charts", "/charts?days=90")


def case_events(rng: random.Random, number: int, items: list[dict], at: dt.datetime) -> list[dict]:
    """A case accepted in the last ~60 calendar days, at a random stage, sometimes finished."""
    item = rng.choice(items)
    accepted = at - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 6))
    accepted = accepted.replace(hour=9, minute=rng.randint(0, 59))
    if accepted.weekday() >= 5:
        accepted -= dt.timedelta(days=accepted.weekday() - 4)
    staff = {"id": f"S{rng.randrange(40):03d}",
             "name": rng.choice(SURNAMES) + rng.choice(GIVEN)}
    window = rng.randint(1, 12)
    base = {"case_no": f"{DISTRICT}B{number:08d}", "item_code": item["item_code"],
            "dept_code": item["dept_code"], "district_code": DISTRICT, "actor": staff}
    events = []

    def add(kind: str, moment: dt.datetime, **extra) -> None:
        events.append({**base, "event_id": f"{base['case_no']}-{len(events)}",
                       "event_type": kind, "occurred_at": moment.isoformat(), **extra})

    add("申请", accepted, window_no=window, case_type=item["case_type"])
    add("受理", accepted + dt.timedelta(minutes=5), window_no=window)
    moment = accepted + dt.timedelta(minutes=5)
    for stage in ("承办", "审核", "批准", "办结")[:rng.randint(0, 4)]:
        moment += dt.timedelta(days=rng.randint(1, 6))
        if moment >= at:
            break
        if rng.random() < 0.05:
            add("补正开始", moment, reason="申请材料不齐全")
            moment += dt.timedelta(days=2)
            add("补正结束", min(moment, at - dt.timedelta(minutes=1)))
        if rng.random() < 0.05:
            add("收费", moment, fee_amount=rng.choice((item["fee_yuan"], "50.00")))
        add(stage, moment)
    return events


def fill_store(store, cases: int, at: dt.datetime = AT, seed: int = 7) -> int:
    """Ingest ``cases`` simulated cases into an open store; returns the number of events."""
    from edge.ingest import ingest_texts

    rng = random.Random(seed)
    items = catalogue_for(DISTRICT)["items"]
    records = (json.dumps(event, ensure_ascii=False)
               for n in range(cases) for event in case_events(rng, n, items, at))
    result = ingest_texts(store, enumerate(records), source="bench")
    if result.rejected:
        raise RuntimeError(f"bench data rejected: {result.rejected[0].reason}")
    return result.accepted


def write_box_folder(folder: Path) -> Path:
    """box.toml, catalogue and token for a bench box; returns the config path."""
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "platform.token").write_text("bench-platform-token-0123456789")
    (folder / "catalogue.json").write_text(json.dumps(catalogue_for(DISTRICT), ensure_ascii=False),
                                           encoding="utf-8")
    (folder / "box.toml").write_text(
        f'version = 1\nbox_id = "{DISTRICT}-01"\ndistrict_code = "{DISTRICT}"\n'
        'district_name = "南海区"\ncatalogue = "catalogue.json"\n'
        '[web]\nport = 0\n', encoding="utf-8")
    return folder / "box.toml"


def median_ms(fetch, runs: int) -> tuple[float, float]:
    """(first call, median of the next ``runs`` calls), in milliseconds."""
    timings = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        fetch()
        timings.append((time.perf_counter() - started) * 1000)
    return timings[0], statistics.median(timings[1:])


def client_login(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": "bench", "password": "bench-password-123",
                                         "csrf_token": token})
    assert answer.status_code == 302, answer.status_code


def http_opener(url: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{url}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": "bench", "password": "bench-password-123",
                                   "csrf_token": token}).encode()
    answer = opener.open(f"{url}/login", data=data)
    answer.read()
    if answer.url.rstrip("/") != url:
        raise RuntimeError(f"sign-in over HTTP failed: landed on {answer.url}")
    return opener


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    from waitress import create_server

    from edge.app import build_box
    from edge.config import load_box_config
    from web.box import create_app

    with tempfile.TemporaryDirectory() as tmp:
        config = load_box_config(write_box_folder(Path(tmp)))
        box = build_box(config, clock=lambda: AT)
        box.store.open()  # not box.start(): the bench times the cold snapshot itself
        started = time.perf_counter()
        events = fill_store(box.store, args.cases)
        print(f"filled {args.cases} cases ({events} events) in "
              f"{time.perf_counter() - started:.1f} s")
        app = create_app(box)
        client = app.test_client()
        app.extensions["users"].add("bench", "基准测试", "manager", password="bench-password-123")
        client_login(client)
        started = time.perf_counter()
        box.hall.snapshot()
        print(f"cold snapshot (all cases evaluated once a day): "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        print(f"{'page':<28}{'first':>9}{'test client':>14}{'waitress':>12}"
              f"   goal < {GOAL_MS} ms (medians of {args.runs})")
        server = create_server(app, host="127.0.0.1", port=0, threads=4)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.effective_port}"
        opener = http_opener(url)
        for path in PAGES:
            first, direct = median_ms(lambda: _ok(client.get(path).status_code), args.runs)
            _, served = median_ms(lambda: opener.open(url + path).read(), args.runs)
            print(f"{path:<28}{first:>6.1f} ms{direct:>11.1f} ms{served:>9.1f} ms")
        for path in ("/cases.csv", "/cases.xlsx"):
            started = time.perf_counter()
            size = len(client.get(path).get_data())
            print(f"{path:<28}{(time.perf_counter() - started) * 1000:>6.0f} ms  (one export of "
                  f"every open case, {size / 1e6:.1f} MB)")
        for number, path in enumerate(("/cases", "/charts"), start=1):
            one = fill_one_more(box, f"bench-extra-{number}")
            after, _ = median_ms(lambda: _ok(client.get(path).status_code), 1)
            print(f"{path} right after a new event (incremental refresh of {one} case): "
                  f"{after:.1f} ms")
        box.hall.refresh_seconds = 2.0
        next_day = AT + dt.timedelta(days=1)
        box.clock = box.hall.clock = lambda: next_day
        client_login(client)  # a day later the session has expired
        after, _ = median_ms(lambda: _ok(client.get("/cases").status_code), 1)
        print(f"/cases on a new day without the background refresher (full rebuild): "
              f"{after:.0f} ms")
        server.close()
        box.store.close()


def fill_one_more(box, event_id: str = "bench-extra-1") -> int:
    from edge.ingest import ingest_texts

    event = {"event_id": event_id, "case_no": f"{DISTRICT}B00000001",
             "item_code": f"{DISTRICT}-SCJ-001", "dept_code": f"{DISTRICT}SCJ",
             "district_code": DISTRICT, "event_type": "收费",
             "occurred_at": AT.isoformat(), "actor": {"id": "S001", "name": "李敏"},
             "fee_amount": "99.00"}
    ingest_texts(box.store, [(0, json.dumps(event, ensure_ascii=False))], source="bench")
    box.hall.refresh_seconds = 0
    return 1


def _ok(status: int) -> None:
    if status != 200:
        raise RuntimeError(f"page answered {status}")


if __name__ == "__main__":
    main()
