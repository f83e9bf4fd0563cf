"""Benchmark: supervision rules over 100,000 open cases, 5% of them in warning (yellow).

Run from the repository root: ``python -m bench.bench_rules [--marked]``. A real store in a
temporary folder; cases are written straight into the ``cases`` table (ingest has its own
benchmark). ``--marked``: the cases are also marked to be judged, as ingest leaves them, so the
first pass takes them from the backlog a chunk (``rules.CHUNK``) at a time. Each pass prints its
wall time and the process's CPU time (all threads and, once used, the judging worker's).
Prints figures and the goal only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import random
import resource
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from edge.cases import CaseBoard
from edge.store import Store
from edge.storetx import iso
from edge.supervision.config import ContactSection, NotifySection, RulesSection
from edge.supervision.wiring import build_supervision
from hallwatch.sim import catalogue_for
from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, LightSettings, evaluate
from standard.records import LOCAL_TZ, CatalogueItem

CASES = 100_000
WARNING_SHARE = 0.05
DISTRICT = "440605"
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)


def load_items() -> list[CatalogueItem]:
    items = [CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))
             for raw in catalogue_for(DISTRICT)["items"]]
    return [item for item in items if item.case_type == "承诺件"]


def accepted_days(items: list[CatalogueItem], calendar: WorkCalendar) -> dict[str, dict[str, list]]:
    """For each item, the recent 受理 days that leave 0-1 working days ("warn") or 2+ ("green")."""
    settings = LightSettings()
    table: dict[str, dict[str, list]] = {}
    for item in items:
        buckets: dict[str, list] = {"warn": [], "green": []}
        for back in range(0, 60):
            day = AT.date() - dt.timedelta(days=back)
            if not calendar.is_workday(day):
                continue
            facts = CaseFacts("X", item.item_code, item.dept_code, DISTRICT, accepted_on=day,
                              stage="受理", stage_rank=2, stage_started={"受理": day.isoformat()})
            left = evaluate(facts, item, calendar, AT, settings).remaining_working_days
            if left is not None and 0 <= left <= 1:
                buckets["warn"].append(day)
            elif left is not None and left >= 2:
                buckets["green"].append(day)
        table[item.item_code] = buckets
    return table


def make_rows(rng: random.Random, items: list[CatalogueItem], days: dict) -> list[tuple]:
    rows = []
    now = iso(AT)
    for number in range(CASES):
        item = rng.choice(items)
        bucket = "warn" if rng.random() < WARNING_SHARE else "green"
        day = rng.choice(days[item.item_code][bucket])
        facts = CaseFacts(
            f"{DISTRICT}{number:09d}", item.item_code, item.dept_code, DISTRICT, "承诺件", "受理", 2,
            {"申请": day.isoformat(), "受理": day.isoformat()}, day, window_no=rng.randint(1, 20),
            staff=f"S{rng.randint(1, 200):03d}", event_count=2)
        rows.append((facts.case_no, facts.item_code, facts.dept_code, DISTRICT, "承诺件", "受理", 1,
                     facts.to_json(), now))
    return rows


def events_for(rows: list[tuple]) -> list[tuple]:
    events = []
    for row in rows:
        accepted = json.loads(row[7])["accepted_on"]
        for kind in ("申请", "受理"):
            events.append((f"{row[0]}-{kind}", row[0], kind, f"{accepted}T09:00:00+08:00",
                           iso(AT)))
    return events


def write_cases(store: Store, rows: list[tuple]) -> None:
    """The cases, and their 申请 and 受理 events for the 重点监察 monthly counts (no bodies)."""
    store.write(lambda tx: tx.conn.executemany(
        "insert into cases (case_no, item_code, dept_code, district_code, case_type, stage,"
        " is_open, facts, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows))
    store.write(lambda tx: tx.conn.executemany(
        "insert into case_events (event_id, case_no, event_type, occurred_at, received_at,"
        " body) values (?, ?, ?, ?, ?, '{}')", events_for(rows)))


CPU: dict[str, float] = {}  # pass -> CPU seconds of this process and its finished children


def cpu_now() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(action, name: str = ""):
    started, cpu = time.perf_counter(), cpu_now()
    result = action()
    CPU[name] = cpu_now() - cpu
    return result, time.perf_counter() - started


class WorkerMemory:
    """Samples the judging worker's peak resident memory (VmHWM) while a pass runs."""

    def __init__(self):
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for child in multiprocessing.active_children():
                try:
                    with open(f"/proc/{child.pid}/status", encoding="ascii") as status:
                        for line in status:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def set_spread(engine, how: str) -> None:
    spread = getattr(engine, "spread", None)
    if spread is not None and how == "on":
        spread.free_core = lambda: True
    elif spread is not None and how == "off":
        spread.workers = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--marked", action="store_true",
                        help="mark every case to be judged, as ingest does")
    parser.add_argument("--spread", choices=("auto", "on", "off"), default="auto",
                        help="judge over two processes: when a core is idle (auto), always, never")
    parser.add_argument("--chunk", type=int, default=None,
                        help="cases judged per read and write of the backlog (rules.CHUNK)")
    args = parser.parse_args()
    marked = args.marked
    rng = random.Random(20261201)
    calendar = WorkCalendar()
    items = load_items()
    rows = make_rows(rng, items, accepted_days(items, calendar))
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "box.db", box_id=f"{DISTRICT}-bench")
        catalogue = {item.item_code: item for item in items}
        board = CaseBoard(store, catalogue, calendar, LightSettings())
        contacts = [ContactSection(dept_code=code, name="联系人", phone="13800138000")
                    for code in {item.dept_code for item in items}]
        parts = build_supervision(store, board, lambda: AT, rules=RulesSection(), contacts=contacts,
                                  notify=NotifySection(), box_id="bench", data_dir=Path(folder))
        store.open()
        set_spread(parts.rules, args.spread)
        parts.rules.chunk = args.chunk or parts.rules.chunk
        write_cases(store, rows)
        if marked:
            store.write(lambda tx: tx.conn.execute(
                "insert into cases_to_judge (case_no) select case_no from cases order by rowid"))

        def read_rows() -> int:  # the same-run baseline: just reading the open cases' facts
            with store.read() as db:
                return len(db.conn.execute("select case_no, facts from cases where is_open = 1"
                                           ).fetchall())

        _, read_s = timed(read_rows)
        sampler = WorkerMemory()
        first, first_s = timed(lambda: parts.rules.check(AT), "first")
        worker_mb = sampler.stop()
        rules = Counter(finding.rule for finding in first.opened)
        print(f"{CASES} open cases ({2 * CASES} events), {WARNING_SHARE:.0%} in warning, "
              f"at {AT.isoformat()}"
              f"{f', marked to be judged, {parts.rules.chunk} a chunk' if marked else ''}")
        print(f"baseline, reading the {CASES} open cases' facts: {read_s:.2f} s")
        spread = getattr(parts.rules, "spread", None)  # (not in the code before issue 17's)
        print(f"full pass, first: {first_s:.2f} s (CPU {CPU['first']:.2f} s)   goal < 2 s   "
              + (f"worker judged {spread.last_spread} of {-(-CASES // spread.range_size)} "
                 "ranges, " if spread else "")
              + f"opened {first.counts['opened']} "
              f"({', '.join(f'{k} {v}' for k, v in rules.items())} "
              f"in the first {len(first.opened)}), "
              f"cards {first.counts['notices']}, "
              f"notifications queued {first.notifications}")
        second, second_s = timed(lambda: parts.rules.check(AT), "second")
        print(f"full pass, nothing changed: {second_s:.2f} s   created {second.created}, "
              f"cleared {len(second.cleared)}")
        cold = build_supervision(store, board, lambda: AT, rules=RulesSection(), contacts=contacts,
                                 notify=NotifySection(), box_id="bench", data_dir=Path(folder))
        set_spread(cold.rules, args.spread)
        cold_result, cold_s = timed(lambda: cold.rules.check(AT), "restart")
        print(f"full pass, nothing changed, fresh engine (after a restart): {cold_s:.2f} s "
              f"(CPU {CPU['restart']:.2f} s)   "
              "goal < 2 s   "
              f"created {cold_result.created}")
        later = AT + dt.timedelta(days=1)
        third, third_s = timed(lambda: parts.rules.check(later), "next day")
        print(f"full pass, next day ({later.date()}): {third_s:.2f} s "
              f"(CPU {CPU['next day']:.2f} s)   goal < 2 s   "
              f"opened {third.counts['opened']}, cards {third.counts['notices']}, "
              f"cleared {third.counts['cleared']}")
        print(f"ratios to reading the facts: first {first_s / read_s:.1f}, restart "
              f"{cold_s / read_s:.1f}, next day {third_s / read_s:.1f}")
        one = {rows[0][0]}
        _, single_s = timed(lambda: parts.rules.check(later, case_nos=one))
        print(f"one touched case (after ingest): {single_s * 1000:.1f} ms")
        outbox = store.query("select count(*) as n from outbox")[0]["n"]
        print(f"outbox records made: {outbox}")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory: this process {own:.0f} MB (the benchmark's data included), "
              + (f"judging worker in the first pass {worker_mb:.0f} MB" if worker_mb
                 else "no judging worker in the first pass"))
        store.close()


if __name__ == "__main__":
    main()
