"""``CaseStatus.changes_on``: the first later day on which a case's status can change by itself.

The rule engine skips a case until that day, so it must never be late: on every day before it
the status is the same but for the remaining count above the yellow window. Real 2026
calendar: a case accepted Monday 11-02 with 5 working days is due Monday 11-09.
"""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import date, timedelta

import pytest

from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, CaseStatus, LightSettings, evaluate_on
from standard.records import CatalogueItem

CODE = "440605-JY-001"
SETTINGS = LightSettings()


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar()


def make_item(**changes) -> CatalogueItem:
    raw = {"item_code": CODE, "name": "食品经营许可", "dept_code": "NHSCJ",
           "dept_name": "区市场监督管理局", "legal_days": 20, "promised_days": 5,
           "stage_days": {}, "fee_yuan": "0.00", "case_type": "承诺件",
           "legal_basis": "《中华人民共和国行政许可法》"}
    raw.update(changes)
    return CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))


def make_facts(accepted: date = date(2026, 11, 2), **changes) -> CaseFacts:
    facts = CaseFacts("NH2026000001", CODE, "NHSCJ", "440605", stage="受理", stage_rank=2,
                      stage_started={"受理": accepted.isoformat()}, accepted_on=accepted)
    return dataclasses.replace(facts, **changes)


def on(facts, item, calendar, day, settings=SETTINGS) -> CaseStatus:
    return evaluate_on(facts, item, calendar, day, settings)


def test_a_green_case_changes_when_it_turns_yellow(calendar):
    facts, item = make_facts(), make_item()
    status = on(facts, item, calendar, date(2026, 11, 3))
    assert (status.light, status.remaining_working_days) == ("green", 4)
    assert status.changes_on == date(2026, 11, 6)    # 1 working day left: yellow
    assert on(facts, item, calendar, date(2026, 11, 5)).light == "green"
    assert on(facts, item, calendar, date(2026, 11, 6)).light == "yellow"


def test_inside_the_window_it_changes_every_working_day(calendar):
    facts, item = make_facts(), make_item()
    assert on(facts, item, calendar, date(2026, 11, 6)).changes_on == date(2026, 11, 9)
    assert on(facts, item, calendar, date(2026, 11, 7)).changes_on == date(2026, 11, 9)
    # On the deadline day, the next calendar day is already late; then every working day.
    assert on(facts, item, calendar, date(2026, 11, 9)).changes_on == date(2026, 11, 10)
    assert on(facts, item, calendar, date(2026, 11, 10)).changes_on == date(2026, 11, 11)
    friday = make_facts(date(2026, 11, 6))               # due Friday 11-13: red on Saturday
    assert on(friday, item, calendar, date(2026, 11, 13)).changes_on == date(2026, 11, 14)
    assert on(friday, item, calendar, date(2026, 11, 14)).light == "red"


def test_a_stage_limit_brings_the_change_forward(calendar):
    item = make_item(promised_days=10, stage_days={"受理": 2})
    status = on(make_facts(), item, calendar, date(2026, 11, 3))
    assert status.changes_on == date(2026, 11, 4)        # 2 working days used: 环节临近时限
    assert on(make_facts(), item, calendar, date(2026, 11, 4)).light == "yellow"


def test_what_only_an_event_can_change(calendar):
    finished = make_facts(terminal="办结", finished_on=date(2026, 11, 5))
    assert on(finished, make_item(), calendar, date(2026, 11, 20)).changes_on is None
    no_item = on(make_facts(), None, calendar, date(2026, 11, 3))
    assert (no_item.light, no_item.changes_on) == ("unknown", None)


def test_a_running_pause_or_an_unknown_year_is_looked_at_again_soon(calendar):
    paused = make_facts(pauses=[["补正", "2026-11-03", None]])
    assert on(paused, make_item(), calendar, date(2026, 11, 4)).changes_on == date(2026, 11, 5)
    late = make_facts(date(2026, 12, 21), stage_started={"受理": "2026-12-21"})
    status = on(late, make_item(promised_days=10), calendar, date(2026, 12, 22))
    assert (status.light, status.changes_on) == ("unknown", date(2026, 12, 23))


def random_case(rng: random.Random, number: int) -> tuple[CaseFacts, CatalogueItem]:
    """An open case with random limits, stage limits, pauses and extensions."""
    promised = rng.randint(0, 12)
    item = make_item(promised_days=promised, legal_days=promised + rng.randint(0, 10),
                     case_type=rng.choice(("承诺件", "承诺件", "即办件")),
                     stage_days=rng.choice(({}, {"受理": 2, "承办": 3}, {"承办": 1})))
    accepted = date(2026, 9, 1) + timedelta(days=rng.randint(0, 90))
    stages = {"受理": accepted.isoformat()}
    if rng.random() < 0.5:
        stages["承办"] = (accepted + timedelta(days=rng.randint(0, 6))).isoformat()
    pauses = []
    if rng.random() < 0.4:
        start = accepted + timedelta(days=rng.randint(0, 10))
        end = start + timedelta(days=rng.randint(1, 8)) if rng.random() < 0.6 else None
        pauses.append([rng.choice(("补正", "听证")), start.isoformat(),
                       end.isoformat() if end else None])
    facts = make_facts(accepted, case_no=f"NH{number}", stage=list(stages)[-1],
                       stage_rank=len(stages) + 1, stage_started=stages, pauses=pauses,
                       extension_days=rng.choice((0, 0, 0, 3)))
    return facts, item


def same_but_for_the_count(first: CaseStatus, later: CaseStatus, window: int) -> bool:
    a, b = dataclasses.asdict(first), dataclasses.asdict(later)
    left, now = a.pop("remaining_working_days"), b.pop("remaining_working_days")
    a.pop("changes_on"), b.pop("changes_on")
    above = left is not None and now is not None and left > window and now > window
    return a == b and (left == now or above)


@pytest.mark.parametrize("settings", [SETTINGS, LightSettings(2, 1), LightSettings(0, 0)])
def test_nothing_changes_before_changes_on(calendar, settings):
    rng = random.Random(11)
    window = settings.yellow_within_working_days
    for number in range(150):
        facts, item = random_case(rng, number)
        start = date(2026, 9, 1) + timedelta(days=rng.randint(0, 100))
        first = on(facts, item, calendar, start, settings)
        end = first.changes_on or start + timedelta(days=30)
        assert end > start
        day = start + timedelta(days=1)
        while day < min(end, date(2026, 12, 31)):
            assert same_but_for_the_count(first, on(facts, item, calendar, day, settings),
                                          window), (facts, start, day)
            day += timedelta(days=1)
