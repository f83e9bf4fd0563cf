"""Benchmark: the hall manager's pages while the district platform pushes a backlog (issue 22).

    python -m bench.bench_backlog [--clients 12] [--records 1000] [--seconds 30] [--runs 3]

Each run starts a fresh real box (``hallwatch edge serve`` in its own process, as a hall runs
it), signs in as its first administrator, then:

1. idle: one reader times ``GET /login``, ``GET /board.json`` (the live board's update, signed
   in) and ``POST /api/v1/evaluations`` (one QR-code rating) with nothing else going on;
2. backlog: ``--clients`` platform clients (threads of a second process, so that their work
   does not slow the reader's own interpreter) post ``--records`` case events per request to
   ``/api/v1/platform/events`` as fast as the box takes them, for ``--seconds``, while the same
   reader keeps timing the three requests. A client that gets 503 waits the ``Retry-After``
   the box asked for, then sends the same body again (a well-behaved platform).

Prints per run and, with several runs, the medians over runs: the latencies (median, p90, max)
of each request kind idle and under the backlog, the platform's records/s, and the number of
503 answers, and how long after the last answer the rules had judged every posted case (the
records/s "judged" count that time too). Events are recent (the last two weeks), so the rules
run alongside as in a hall.
Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import multiprocessing
import re
import sqlite3
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench_ingest import history
from hallwatch.sim import Platform
from tests.boxes import RunningBox, start_box, write_box_folder

DISTRICT = "440605"
GOAL_P90_MS = 300
READER_GAP = 0.1  # seconds between the reader's requests (a person plus the board's polling)
KINDS = ("login", "board", "rating")


# -- the platform's side (runs in its own process) ----------------------------------------------
def backlog_template(records: int) -> str:
    """``records`` events of recent cases as NDJSON; ids are made unique per request later."""
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=14)
    return "\n".join(history(Platform(DISTRICT, seed=0, windows=12), start, records, 120))


def body_for(template: str, client: int, request: int) -> bytes:
    # event ids look like 440605-0-00000001 and case numbers like 4406050000000001.
    tag = f"C{client:02d}R{request:06d}"
    return (template.replace(f"{DISTRICT}-0-", f"{DISTRICT}-{tag}-")
            .replace(f"{DISTRICT}00", f"{DISTRICT}{tag}")).encode()


@dataclass
class PostTally:
    records: int = 0  # accepted or already there
    answered: int = 0  # requests answered 200
    refused: int = 0  # 503 with Retry-After
    other: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    request_ms: list[float] = field(default_factory=list)


def post_backlog(url: str, token: str, clients: int, records: int, seconds: float,
                 out: multiprocessing.Queue) -> None:
    """Post as fast as the box answers for ``seconds``; put the PostTally on ``out``."""
    template = backlog_template(records)
    tally = PostTally()
    lock = threading.Lock()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}

    def client(number: int) -> None:
        sent = 0
        body = body_for(template, number, sent)
        while not stop.is_set():
            request = urllib.request.Request(f"{url}/api/v1/platform/events", data=body,
                                             headers=headers, method="POST")
            started = time.perf_counter()
            wait = 0.0
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    answer = json.loads(response.read())
                    status = response.status
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, {}
                wait = float(exc.headers.get("Retry-After") or 1) if exc.code == 503 else 1.0
                exc.read()
            with lock:
                tally.request_ms.append((time.perf_counter() - started) * 1000)
                if status == 200:
                    tally.answered += 1
                    tally.records += answer["accepted"] + answer["duplicates"]
                elif status == 503:
                    tally.refused += 1
                else:
                    tally.other[status] = tally.other.get(status, 0) + 1
            if status == 200:
                sent += 1
                body = body_for(template, number, sent)
            elif wait:
                stop.wait(wait)  # then the same body again: a 503 stored nothing

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    tally.seconds = time.perf_counter() - started
    out.put(tally)


# -- the hall manager's side ---------------------------------------------------------------------
class Reader:
    """One person at the box: the sign-in page, the live board, a rating from a QR code."""

    def __init__(self, box: RunningBox, admin: str, password: str):
        self.box = box
        self.plain = urllib.request.build_opener()
        jar = http.cookiejar.CookieJar()
        self.signed = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.signed.open(f"{box.url}/login", timeout=60).read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": admin, "password": password,
                                       "csrf_token": csrf}).encode()
        answer = self.signed.open(f"{box.url}/login", data=form, timeout=60)
        answer.read()
        if answer.url.rstrip("/") != box.url:
            raise RuntimeError(f"sign-in failed: landed on {answer.url}")
        self.ratings = 0

    def rating(self) -> None:
        self.ratings += 1
        body = json.dumps({"evaluation_id": f"QR-{self.ratings:06d}", "channel": "二维码",
                           "case_no": f"{DISTRICT}Q{self.ratings:06d}", "level": 5,
                           "rated_at": dt.datetime.now(dt.timezone.utc).isoformat()},
                          ensure_ascii=False).encode()
        request = urllib.request.Request(
            f"{self.box.url}/api/v1/evaluations", data=body, method="POST",
            headers={"Authorization": f"Bearer {self.box.token}",
                     "Content-Type": "application/json"})
        self.plain.open(request, timeout=300).read()

    def once(self, kind: str) -> float:
        started = time.perf_counter()
        if kind == "login":
            self.plain.open(f"{self.box.url}/login", timeout=300).read()
        elif kind == "board":
            self.signed.open(f"{self.box.url}/board.json", timeout=300).read()
        else:
            self.rating()
        return (time.perf_counter() - started) * 1000

    def read(self, until: threading.Event, limit: int | None = None) -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
        pause = threading.Event()
        rounds = 0
        while not until.is_set() and (limit is None or rounds < limit):
            for kind in KINDS:
                timings[kind].append(self.once(kind))
                pause.wait(READER_GAP)
            rounds += 1
        return timings


# -- one run -------------------------------------------------------------------------------------
@dataclass
class RunResult:
    idle: dict[str, list[float]]
    busy: dict[str, list[float]]
    tally: PostTally
    rules_lag: float  # seconds after the last answer until every posted case was judged

    @property
    def judged_rate(self) -> float:
        """Records a second, counted until the rules had judged them too."""
        return self.tally.records / (self.tally.seconds + self.rules_lag)


def rules_lag(box: RunningBox, limit: float = 600) -> float:
    """Seconds until no case waits to be judged (edge/backlog.py's marks), read from the file."""
    started = time.perf_counter()
    pause = threading.Event()
    while time.perf_counter() - started < limit:
        with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True, timeout=30) as db:
            if not db.execute("select count(*) from cases_to_judge").fetchone()[0]:
                break
        pause.wait(0.2)
    return time.perf_counter() - started


def one_run(folder: Path, clients: int, records: int, seconds: float,
            web: dict | None = None, reading: bool = True) -> RunResult:
    write_box_folder(folder, district_name="南海区",
                     web={"host": "127.0.0.1", "port": 0, **(web or {})})
    box = start_box(folder)
    try:
        reader = Reader(box, *box.admin_password())
        idle = reader.read(threading.Event(), limit=20)
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        posting = spawn.Process(target=post_backlog,
                                args=(box.url, box.token, clients, records, seconds, out))
        posting.start()
        done = threading.Event()
        busy: dict[str, list[float]] = {}

        def read_while_posting() -> None:
            busy.update(reader.read(done) if reading else idle)

        thread = threading.Thread(target=read_while_posting)
        thread.start()
        tally = out.get(timeout=seconds + 600)
        lag = rules_lag(box)
        done.set()
        thread.join()
        posting.join()
        return RunResult(idle, busy, tally, lag)
    finally:
        box.stop()


def stats(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return statistics.median(ordered), p90, ordered[-1]


def show(label: str, timings: dict[str, list[float]]) -> str:
    parts = []
    for kind in KINDS:
        median, p90, most = stats(timings[kind])
        parts.append(f"{kind} {median:.0f}/{p90:.0f}/{most:.0f}")
    return f"  {label:<7} ms median/p90/max: " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--records", type=int, default=1000, help="case events per request")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, help="[web] threads of the box (its default "
                        "when not given)")
    parser.add_argument("--ingest-queue", type=int, help="[web] ingest_queue of the box")
    parser.add_argument("--platform-only", action="store_true",
                        help="no reader during the backlog: the platform's throughput alone")
    args = parser.parse_args()
    web = {key: value for key, value in (("threads", args.threads),
                                         ("ingest_queue", args.ingest_queue)) if value is not None}
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            result = one_run(Path(tmp), args.clients, args.records, args.seconds, web,
                             reading=not args.platform_only)
        results.append(result)
        tally = result.tally
        everything = [v for kind in KINDS for v in result.busy[kind]]
        median, p90, most = stats(everything)
        print(f"run {run + 1}: {args.clients} clients x {args.records} records, "
              f"{tally.seconds:.0f} s: {tally.records / tally.seconds:,.0f} records/s, "
              f"{tally.answered} requests answered 200, {tally.refused} answered 503"
              + (f", others {tally.other}" if tally.other else "")
              + f"; rules caught up {result.rules_lag:.1f} s later: "
              f"{result.judged_rate:,.0f} records/s judged")
        print(show("idle", result.idle))
        print(show("backlog", result.busy))
        print(f"  backlog, all three: median {median:.0f} ms, p90 {p90:.0f} ms, max {most:.0f} ms"
              f" (goal p90 < {GOAL_P90_MS} ms); platform request median "
              f"{statistics.median(tally.request_ms):.0f} ms")
    if len(results) > 1:
        def over_runs(pick) -> float:
            return statistics.median(pick(r) for r in results)

        print(f"median of {len(results)} runs:")
        for kind in KINDS:
            figures = [over_runs(lambda r, i=i, k=kind: stats(r.busy[k])[i]) for i in range(3)]
            idle = over_runs(lambda r, k=kind: stats(r.idle[k])[0])
            print(f"  {kind:<6} under backlog median {figures[0]:.0f} ms, p90 {figures[1]:.0f} ms,"
                  f" max {figures[2]:.0f} ms (idle median {idle:.0f} ms)")
        rate = over_runs(lambda r: r.tally.records / r.tally.seconds)
        judged = over_runs(lambda r: r.judged_rate)
        refused = over_runs(lambda r: r.tally.refused)
        print(f"  platform {rate:,.0f} records/s ({judged:,.0f} judged by the rules too), "
              f"{refused:.0f} answers 503 a run")


if __name__ == "__main__":
    main()
