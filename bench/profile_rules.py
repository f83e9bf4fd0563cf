"""cProfile of bench_rules' passes, one at a time: the engine's thread and the writer's ``_apply``.

    python -m bench.profile_rules [--top 20] [--marked] > bench/notes/rules-profile-after.txt

The same 100,000 open cases as ``python -m bench.bench_rules``; for each pass (first, nothing
changed, after a restart, next day, one case) the functions by cumulative and by own time.
``--marked``: the cases are marked to be judged first, as ingest leaves them (the backlog path).
Times under the profiler are about twice the real ones: read the shares, not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import tempfile
import time
from pathlib import Path

from bench import bench_rules as bench
from edge.cases import CaseBoard
from edge.store import Store
from edge.supervision import rules as rules_module
from edge.supervision.config import ContactSection, NotifySection, RulesSection
from edge.supervision.wiring import build_supervision
from standard.calendar import WorkCalendar
from standard.deadlines import LightSettings


def show(title: str, profile: cProfile.Profile, top: int) -> None:
    if not profile.getstats():
        print(f"===== {title}: nothing")
        return
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(top)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next(n for n, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
        print(f"===== {title}, by {order}")
        print("\n".join(lines[start:start + top + 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--marked", action="store_true")
    args = parser.parse_args()
    top = args.top
    writer = {"profile": cProfile.Profile()}
    apply = rules_module.RuleEngine._apply

    def profiled_apply(self, *args):  # runs on the store's writer thread
        writer["profile"].enable()
        try:
            return apply(self, *args)
        finally:
            writer["profile"].disable()

    rules_module.RuleEngine._apply = profiled_apply
    calendar = WorkCalendar()
    items = bench.load_items()
    rows = bench.make_rows(random.Random(20261201), items, bench.accepted_days(items, calendar))
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "box.db", box_id=f"{bench.DISTRICT}-bench")
        board = CaseBoard(store, {i.item_code: i for i in items}, calendar, LightSettings())
        contacts = [ContactSection(dept_code=code, name="联系人", phone="13800138000")
                    for code in {item.dept_code for item in items}]

        def engine():
            return build_supervision(store, board, lambda: bench.AT, rules=RulesSection(),
                                     contacts=contacts, notify=NotifySection(), box_id="bench",
                                     data_dir=Path(folder)).rules

        kept = engine()
        store.open()
        bench.write_cases(store, rows)
        if args.marked:
            store.write(lambda tx: tx.conn.execute(
                "insert into cases_to_judge (case_no) select case_no from cases order by rowid"))
        later = bench.AT + dt.timedelta(days=1)
        passes = [("first", kept, bench.AT, None), ("nothing changed", kept, bench.AT, None),
                  ("after a restart", None, bench.AT, None), ("next day", kept, later, None),
                  ("one case", kept, later, {rows[0][0]})]
        for title, rules, at, case_nos in passes:
            rules = rules or engine()
            writer["profile"] = cProfile.Profile()
            profile = cProfile.Profile()
            started = time.perf_counter()
            profile.enable()
            rules.check(at, case_nos=case_nos)
            profile.disable()
            print(f"##### {title}: {time.perf_counter() - started:.3f} s under the profiler")
            show(f"{title}: engine thread", profile, top)
            show(f"{title}: writer thread (_apply)", writer["profile"], top)
        store.close()


if __name__ == "__main__":
    main()
