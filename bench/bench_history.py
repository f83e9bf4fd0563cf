"""Benchmark: ``edge check`` over 500,000 historical cases loaded by file (all finished, all
waiting to be judged), as after ``edge ingest`` of a hall's history.

Run from the repository root: ``python -m bench.bench_history [CASES]``. A real store in a
temporary folder; the cases are written straight into ``cases`` and marked in ``cases_to_judge``
as ingest marks them (ingest has its own benchmark). The mix: 8% finished late (超期办结), 2%
finished without 受理 (程序异常), 1% refused without a reason (无理由拒绝), 2% with a wrong fee
(违规收费), 5% joint cases (联办件) with a late participating department in a fifth of them.

Figures: the check's wall time and rate, the peak memory of the process, the progress calls a
terminal would see, and the same cases judged in memory without the store (the baseline: what
reading, writing alerts and the outbox add). Prints figures only; nothing here asserts.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from edge.cases import CaseBoard
from edge.store import Store
from edge.storetx import iso
from edge.supervision.config import RulesSection
from edge.supervision.verdicts import CASE_RULES, CaseView, RuleSettings, case_findings
from edge.supervision.wiring import build_supervision
from hallwatch.sim import catalogue_for
from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, LightSettings
from standard.records import LOCAL_TZ, CatalogueItem

CASES = 500_000
DISTRICT = "440605"
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
FIRST_DAY = dt.date(2025, 1, 2)


def load_items() -> dict[str, CatalogueItem]:
    items = [CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))
             for raw in catalogue_for(DISTRICT)["items"]]
    return {item.item_code: item for item in items}


def history(rng: random.Random, items: dict[str, CatalogueItem],
            calendar: WorkCalendar) -> Iterator[CaseFacts]:
    """Finished cases over two years, most on time, some with what a supervisor must see."""
    plain = [i for i in items.values() if i.case_type == "承诺件"]
    joint = [i for i in items.values() if i.joint_depts]
    workdays = [FIRST_DAY + dt.timedelta(days=n) for n in range(680)]
    workdays = [day for day in workdays if calendar.is_workday(day)]
    for number in range(CASES):
        roll = rng.random()
        item = rng.choice(joint if roll > 0.95 else plain)
        accepted = rng.choice(workdays)
        late = roll < 0.08
        used = item.promised_days + (rng.randint(1, 5) if late else -rng.randint(0, 2))
        finished = calendar.add_workdays(accepted, max(used, 0))
        facts = CaseFacts(f"{DISTRICT}{number:09d}", item.item_code, item.dept_code, DISTRICT,
                          item.case_type, "办结", 6, event_count=6,
                          window_no=rng.randint(1, 20), staff=f"S{rng.randint(1, 200):03d}")
        stages = ("申请", "受理", "承办", "审核", "批准", "办结")
        if 0.08 <= roll < 0.10:      # 申请 then 办结, no 受理
            facts.stage_started = {"申请": accepted.isoformat(), "办结": finished.isoformat()}
            facts.anomalies = ["程序异常：未受理即办结"]
        else:
            facts.accepted_on = accepted
            facts.stage_started = {s: accepted.isoformat() for s in stages[:-1]}
            facts.stage_started["办结"] = finished.isoformat()
        facts.terminal, facts.finished_on = "办结", finished
        if 0.10 <= roll < 0.11:
            facts.terminal = facts.stage = "不予受理"
            facts.anomalies = ["无理由拒绝：不予受理未说明理由"]
        if 0.11 <= roll < 0.13:
            facts.fees = ["50.00"]
        if item.joint_depts:
            for share in item.joint_depts:
                back = calendar.add_workdays(accepted, share.days + (3 if roll > 0.99 else -1))
                facts.shares[share.dept_code] = {"events": 2, "sent_on": accepted.isoformat(),
                                                 "back_on": back.isoformat()}
        yield facts


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else CASES
    globals()["CASES"] = cases
    rng = random.Random(20261201)
    calendar = WorkCalendar()
    items = load_items()
    now = iso(AT)
    rows, made_s = timed(lambda: [
        (f.case_no, f.item_code, f.dept_code, DISTRICT, f.case_type, f.stage, 0, f.to_json(), now)
        for f in history(rng, items, calendar)])
    texts = [row[7] for row in rows]
    print(f"{cases:,} finished cases over {FIRST_DAY.year}-2026 made in {made_s:.1f} s; "
          f"peak memory {peak_mib():.0f} MiB")

    settings, rules = LightSettings(), RuleSettings()
    day = AT.astimezone(LOCAL_TZ).date()

    def baseline() -> Counter:
        found: Counter = Counter()
        board = CaseBoard(None, items, calendar, settings)  # type: ignore[arg-type]
        for text in texts:
            one = CaseFacts.from_json(text)
            view = CaseView(one, board.status(one, day), items.get(one.item_code))
            found.update(f.rule for f in case_findings(view, CASE_RULES.values(), rules))
        return found

    judged, judge_s = timed(baseline)
    print(f"baseline, judged in memory (parse, deadlines, rules; no store): {judge_s:.1f} s, "
          f"{cases / judge_s:,.0f} cases/s; findings: "
          + ", ".join(f"{rule} {n:,}" for rule, n in judged.most_common()))

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "box.db", box_id=f"{DISTRICT}-bench")
        board = CaseBoard(store, items, calendar, settings)
        parts = build_supervision(store, board, lambda: AT, rules=RulesSection(), contacts=[],
                                  notify=None, box_id="bench", data_dir=Path(folder))
        store.open()

        def load(tx) -> None:
            tx.conn.executemany(
                "insert into cases (case_no, item_code, dept_code, district_code, case_type,"
                " stage, is_open, facts, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            tx.conn.execute("insert into cases_to_judge (case_no) select case_no from cases")

        _, load_s = timed(lambda: store.write(load, timeout=600))
        print(f"stored and marked in {load_s:.1f} s (as edge ingest leaves them)")
        calls = []
        result, check_s = timed(lambda: parts.rules.check(
            AT, progress=lambda done, total: calls.append((done, total))))
        # The pass keeps only its first changes in memory (PassResult.KEPT): count the store.
        opened = Counter({row["rule"]: row["n"] for row in store.query(
            "select rule, count(*) as n from alerts where case_no is not null group by rule")})
        outbox = store.query("select count(*) as n from outbox")[0]["n"]
        print(f"edge check, first: {check_s:.1f} s, {result.checked / check_s:,.0f} cases/s "
              f"({check_s / judge_s:.1f}x the baseline); checked {result.checked:,}, opened "
              + ", ".join(f"{rule} {n:,}" for rule, n in opened.most_common())
              + f"; outbox records {outbox:,}; progress shown {len(calls)} times "
              f"(last {calls[-1][0]:,} / {calls[-1][1]:,}); peak memory {peak_mib():.0f} MiB")
        print("the same findings as the baseline: "
              + ("yes" if opened == judged else f"NO (baseline - store: {judged - opened}, "
                 f"store - baseline: {opened - judged})"))
        again, again_s = timed(lambda: parts.rules.check(AT))
        print(f"edge check, nothing waiting: {again_s:.2f} s, checked {again.checked}, "
              f"created {again.created}")
        store.close()


if __name__ == "__main__":
    main()
