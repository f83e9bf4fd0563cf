"""Benchmark: lights for 100,000 open cases, and one case at a time.

Run from the repository root: ``python -m bench.bench_lights``. Prints figures and goals
only; nothing here asserts (timed assertions do not belong in tests).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from collections import Counter

from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, LightSettings, evaluate, evaluate_many
from standard.records import LOCAL_TZ, CatalogueItem

CASES = 100_000
RUNS = 5
SINGLE_SAMPLES = 2_000
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
KINDS = ("听证", "检验", "专家评审")


def make_catalogue(rng: random.Random, count: int = 60) -> list[CatalogueItem]:
    items = []
    for number in range(count):
        case_type = "即办件" if number % 10 == 0 else "承诺件"
        legal = rng.choice((5, 10, 15, 20))
        promised = 0 if case_type == "即办件" else rng.randint(max(1, legal // 3), legal)
        raw = {
            "item_code": f"440605-B-{number:03d}", "name": f"事项{number}", "dept_code": "NHSCJ",
            "dept_name": "区市场监督管理局", "legal_days": legal, "promised_days": promised,
            "stage_days": {"受理": 2, "承办": max(2, promised - 2), "审核": 2} if number % 3 else {},
            "fee_yuan": rng.choice(("0.00", "0.00", "50.00", "120.00")),
            "case_type": case_type, "legal_basis": "《中华人民共和国行政许可法》",
        }
        items.append(CatalogueItem.model_validate_json(json.dumps(raw)))
    return items


def make_case(rng: random.Random, calendar: WorkCalendar, number: int, item: CatalogueItem) -> CaseFacts:
    """An open case accepted on a working day between September and late November 2026."""
    today = AT.date()
    back = rng.randint(0, item.promised_days + 3) if rng.random() < 0.3 else rng.randint(0, item.promised_days)
    accepted = today - dt.timedelta(days=int(back * 1.45) + rng.randint(0, 2))
    accepted = calendar.next_workday_on_or_after(accepted)
    if accepted > today:
        accepted = today
    facts = CaseFacts(
        case_no=f"NH2026{number:06d}", item_code=item.item_code, dept_code=item.dept_code,
        district_code="440605", stage="受理", stage_rank=2,
        stage_started={"申请": accepted.isoformat(), "受理": accepted.isoformat()},
        accepted_on=accepted, window_no=rng.randint(1, 40), staff=f"S{rng.randint(1, 200):03d}",
        event_count=2,
    )
    span = (today - accepted).days
    if span > 3 and rng.random() < 0.6:
        started = accepted + dt.timedelta(days=rng.randint(1, 3))
        facts.stage, facts.stage_rank = "承办", 3
        facts.stage_started["承办"] = started.isoformat()
        facts.event_count += 1
    roll = rng.random()
    if span > 4 and roll < 0.20:  # a closed 补正
        start = accepted + dt.timedelta(days=rng.randint(0, span // 2))
        end = start + dt.timedelta(days=rng.randint(1, 6))
        facts.pauses.append(["补正", start.isoformat(), min(end, today).isoformat()])
    elif span > 1 and roll < 0.25:  # an open 补正
        facts.pauses.append(["补正", (today - dt.timedelta(days=rng.randint(0, 3))).isoformat(), None])
    elif span > 4 and roll < 0.28:  # a 特别程序, closed
        start = accepted + dt.timedelta(days=1)
        facts.pauses.append([rng.choice(KINDS), start.isoformat(), (start + dt.timedelta(days=3)).isoformat()])
    if rng.random() < 0.10:
        facts.extension_days = rng.choice((3, 5, 10))
    if rng.random() < 0.15:
        facts.fees.append(item.fee_yuan if rng.random() < 0.9 else "80.00")
    return facts


def median_seconds(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(20261201)
    calendar = WorkCalendar()
    settings = LightSettings()
    catalogue = make_catalogue(rng)
    rows = []
    for number in range(CASES):
        item = rng.choice(catalogue)
        rows.append((make_case(rng, calendar, number, item), item))

    statuses = evaluate_many(rows, calendar, AT, settings)
    lights = Counter(status.light for status in statuses)
    print(f"{CASES} open cases at {AT.isoformat()}: " + ", ".join(f"{k} {v}" for k, v in sorted(lights.items())))

    whole = median_seconds(lambda: evaluate_many(rows, calendar, AT, settings), RUNS)
    print(f"evaluate_many, {CASES} cases: {whole:.3f} s median of {RUNS} "
          f"({whole / CASES * 1e6:.1f} µs a case)   goal < 2 s")

    samples = []
    for facts, item in rng.sample(rows, SINGLE_SAMPLES):
        started = time.perf_counter()
        evaluate(facts, item, calendar, AT, settings)
        samples.append(time.perf_counter() - started)
    print(f"evaluate, one case: {statistics.median(samples) * 1e6:.1f} µs median, "
          f"{max(samples) * 1e6:.1f} µs max of {SINGLE_SAMPLES}   goal < 1000 µs")

    texts = [facts.to_json() for facts, _item in rows]
    read = median_seconds(lambda: [CaseFacts.from_json(text) for text in texts], RUNS)
    mean_size = sum(len(text.encode()) for text in texts) / len(texts)
    print(f"CaseFacts.from_json, {CASES} rows: {read:.3f} s median of {RUNS} "
          f"(mean {mean_size:.0f} bytes a row)")


if __name__ == "__main__":
    main()
