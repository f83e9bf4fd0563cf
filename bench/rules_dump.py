"""Dump what the rule pass decides over six generated weeks, to compare two versions of the code.

    cd /path/to/other/checkout && PYTHONHASHSEED=0 PYTHONPATH=. python -m bench.rules_dump a.json
    cd /path/to/this/checkout && PYTHONHASHSEED=0 PYTHONPATH=. python -m bench.rules_dump b.json
    cmp a.json b.json

The story of tests/unit/test_rules_fastpath.py (300 cases, seed 7) is ingested day by day and
checked at 09:00 and 18:00, with the kept verdicts dropped every fourth day (every open case
judged again). Written: alerts, audit entries, notices, notifications and the outbox records
(without their envelopes' wall-clock stamp). ``--spread``: the judging worker takes ranges of 16
cases whenever it can. A 撤销 note names the wall-clock minute an event arrived, so two runs
in different minutes differ there and only there.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

from edge.ingest import ingest_texts
from tests.unit.test_rules import at, make_box
from tests.unit.test_rules_fastpath import FIRST, LAST, story

TABLES = {"alerts": "select * from alerts order by id",
          "alert_events": "select * from alert_events order by id",
          "notices": "select * from notices order by number",
          "notifications": "select * from notifications order by id",
          "records": "select seq, kind, body from outbox order by seq"}


def unstamped(text: str):
    try:
        body = json.loads(text)
    except ValueError:  # a row that refers to its body (edge/outboxrefs.py)
        return text
    return {k: v for k, v in body.items() if k != "at"} if isinstance(body, dict) else body


def main() -> None:
    box = make_box(Path(tempfile.mkdtemp()))
    spread = getattr(box.engine, "spread", None)
    if spread is not None and "--spread" in sys.argv:
        spread.spread_min, spread.range_size, spread.workers = 0, 16, 1
        spread.free_core = lambda: True
    events = story(7, cases=300)
    used = 0
    day = FIRST
    while day <= LAST:
        texts = [(n, json.dumps(e, ensure_ascii=False)) for n, e in enumerate(events.get(day, []))]
        if texts:
            assert not ingest_texts(box.store, texts, source="t").rejected
        if day.day % 4 == 0:
            box.store.write(lambda tx: tx.conn.execute("delete from case_verdicts"))
        for hour in ("09:00", "18:00"):
            box.engine.check(at(day.isoformat(), hour))
            used += getattr(spread, "last_spread", 0)
        day += dt.timedelta(days=1)
    out = {name: [list(row.values()) for row in box.store.query(sql)]
           for name, sql in TABLES.items()}
    out["records"] = [[seq, kind, unstamped(body)] for seq, kind, body in out["records"]]
    with open(sys.argv[1], "w", encoding="utf-8") as file:
        json.dump(out, file, ensure_ascii=False, default=str)
    print(sys.argv[1], {k: len(v) for k, v in out.items()}, "ranges judged by the worker", used)
    box.store.close()


if __name__ == "__main__":
    main()
