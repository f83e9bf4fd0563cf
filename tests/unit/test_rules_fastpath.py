"""The fast rule pass gives exactly the alerts and cards of judging every case in full.

The pass over open cases judges only the cases without a verdict valid today (new, changed, or
whose findings can change today: edge/supervision/remembered.py) and takes the rest from their
kept verdicts. Here two boxes get the same generated cases and events, day by day over six weeks
(National Day and its 调休 Saturdays included): one is checked the way a box runs (one engine,
restarted now and then), the other judges every case in full each time (its kept verdicts
deleted first). Their alerts, cards and notices must be the same every day, so a department
disputing a card finds the fast path said what a full judgement says.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from edge.ingest import ingest_texts
from edge.supervision.rules import RuleEngine
from tests.unit.test_rules import CATALOGUE, DISTRICT, alert_states, at, make_box

ITEMS = [code for code, item in CATALOGUE.items()]
FIRST, LAST = dt.date(2026, 9, 21), dt.date(2026, 11, 13)


def story(seed: int, cases: int) -> dict[dt.date, list[dict]]:
    """Events by the day they are sent: cases accepted over three weeks, moving on, pausing,
    extended, fees, finished (some late, some refused without a reason, some skipping a stage);
    a quarter of the cases sent late after 受理 (a backfill), so some verdicts are disproven;
    of the others, some have one stage sent days after the next one (out of arrival order)."""
    rng = random.Random(seed)
    late = random.Random(seed + 1)  # which cases the platform backfills late (own stream)
    swap = random.Random(seed + 2)  # which cases have a stage sent after the next one
    days: dict[dt.date, list[dict]] = {}
    serial = 0
    for number in range(cases):
        code = rng.choice(ITEMS)
        case_no = f"G{number:05d}"
        day = FIRST + dt.timedelta(days=rng.randrange(21))
        plan = [("申请", {}), ("受理", {})]
        for stage in ("承办", "审核", "批准"):
            if rng.random() < 0.15:
                continue  # a skipped stage: 程序异常
            if rng.random() < 0.2:
                plan.append(("补正开始", {}))
                plan.append(("补正结束", {}))
            plan.append((stage, {}))
        if rng.random() < 0.2:
            plan.insert(2, ("延期", {"extension_days": rng.randint(1, 5)}))
        if rng.random() < 0.2:
            fee = CATALOGUE[code].fee_yuan if rng.random() < 0.5 else "99.00"
            plan.insert(2, ("收费", {"fee_amount": str(fee)}))
        ending = rng.random()
        if ending < 0.4:
            plan.append(("办结", {}))
        elif ending < 0.45:
            plan.append(("不予许可", {}))  # without a reason
        stop = rng.randrange(2, len(plan) + 1)  # where the case stands at the end
        # A backfill: after 受理 the platform goes quiet and sends the rest days later, dated as
        # it happened (an on-time 办结 arriving after the box found the case overdue).
        backfill = dt.timedelta(days=late.randint(4, 12)) if late.random() < 0.25 else None
        # Out of order: a stage held back and sent days after the event that followed it, dated
        # as it happened (程序异常 found from the arrival order, then withdrawn when in order).
        held = swap.randrange(2, stop - 1) if not backfill and stop > 3 and \
            swap.random() < 0.2 else None
        if held is not None and plan[held][0] not in ("承办", "审核", "批准"):
            held = None
        hold = dt.timedelta(days=swap.randint(2, 6))
        sending: list[tuple[dt.date, dict]] = []
        for position, (kind, extra) in enumerate(plan[:stop]):
            if position > 1:
                day += dt.timedelta(days=rng.choice((0, 1, 1, 2, 3, 5)))
            serial += 1
            sent = day + backfill if backfill and position > 1 else day
            sending.append((sent, {
                "event_id": f"GE{serial:06d}", "case_no": case_no, "item_code": code,
                "dept_code": CATALOGUE[code].dept_code, "district_code": DISTRICT,
                "event_type": kind, "occurred_at": f"{day.isoformat()}T10:00:00+08:00",
                "actor": {"id": "S001", "name": "李敏"}, **extra}))
        if held is not None:
            sending[held] = (sending[held + 1][0] + hold, sending[held][1])
        for sent, event in sending:
            days.setdefault(sent, []).append(event)
    return days


def notices(box) -> list[tuple]:
    return [tuple(row.values()) for row in box.store.query(
        "select number, kind, case_no, dept_code, due_on from notices order by number")]


@pytest.mark.parametrize("seed", [1])
def test_the_fast_pass_gives_the_alerts_and_cards_of_a_full_judgement(tmp_path, seed):
    fast, full = make_box(tmp_path / "fast"), make_box(tmp_path / "full")
    events = story(seed, cases=200)
    rules = set()
    day = FIRST
    while day <= LAST:
        for box in (fast, full):
            texts = [(n, json.dumps(e, ensure_ascii=False))
                     for n, e in enumerate(events.get(day, []))]
            if texts:
                result = ingest_texts(box.store, texts, source="t")
                assert not result.rejected, result.as_dict()
        if day.day % 9 == 0:  # a restart: a new engine, with only what is on disk
            old = fast.engine
            fast.engine = RuleEngine(fast.store, old.board, old.rules, settings=old.settings,
                                     focus=old.focus, cards=old.cards)
        for hour in ("09:00", "18:00"):
            fast.engine.check(at(day.isoformat(), hour))
            full.store.write(lambda tx: tx.conn.execute("delete from case_verdicts"))
            old = full.engine
            RuleEngine(full.store, old.board, old.rules, settings=old.settings,
                       focus=old.focus, cards=old.cards).check(at(day.isoformat(), hour))
            assert alert_states(fast) == alert_states(full), (day, hour)
            assert notices(fast) == notices(full), (day, hour)
        rules.update(rule for _subject, rule, *_rest in alert_states(fast))
        day += dt.timedelta(days=1)
    # The story reaches the rules that move with the days, and those that do not.
    assert rules >= {"临近时限", "超期", "超法定时限", "程序异常", "违规收费", "超期办结"}, rules
    # Backfilled on-time finishes withdrew verdicts (and voided cards) on both boxes alike.
    withdrawn = {rule for _subject, rule, state, *_rest in alert_states(fast)
                 if state == "withdrawn"}
    assert withdrawn >= {"超期", "程序异常"}, withdrawn
    assert any(card for _s, _r, state, _d, card, *_rest in alert_states(fast)
               if state == "withdrawn"), "no voided card in the story"
    assert notices(fast)
    kept = fast.store.query("select count(*) as n from case_verdicts")[0]["n"]
    assert kept == fast.store.query("select count(*) as n from cases where is_open = 1")[0]["n"]
    fast.store.close()
    full.store.close()


def test_a_kept_verdict_goes_when_its_case_changes_however_it_changes(tmp_path):
    box = make_box(tmp_path)
    box.accept("C1")
    box.engine.check(at("2026-09-30"))
    assert box.count("case_verdicts") == 1
    box.store.write(lambda tx: tx.conn.execute(  # behind the feeds' backs: no mark
        "update cases set facts = json_set(facts, '$.window_no', 9) where case_no = 'C1'"))
    assert box.count("case_verdicts") == 0
    box.engine.check(at("2026-09-30", "10:00"))
    assert box.count("case_verdicts") == 1
    box.store.write(lambda tx: tx.conn.execute("delete from cases where case_no = 'C1'"))
    assert box.count("case_verdicts") == 0
    box.store.close()


def test_a_case_changed_while_a_pass_judged_it_keeps_no_verdict_of_its_old_facts(tmp_path):
    box = make_box(tmp_path)
    box.accept("C1")
    store = box.store

    class LateEvent:  # the platform's event lands after the pass read C1, before it writes
        def __getattr__(self, name):
            return getattr(store, name)

        def write(self, job, **options):
            box.engine.store = store  # once
            box.event("C1", "承办", "2026-09-30")
            return store.write(job, **options)

    box.engine.store = LateEvent()
    chunks = iter([False])                          # one chunk, then give way
    box.engine.drain(at("2026-09-30"), give_way=lambda: next(chunks, True))
    assert box.count("case_verdicts") == 0          # C1 is marked: judged again next time
    assert box.count("cases_to_judge") == 1
    box.engine.check(at("2026-09-30", "10:00"))
    assert box.count("case_verdicts") == 1 and box.count("cases_to_judge") == 0
    box.store.close()
