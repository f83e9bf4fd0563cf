"""Deadlines and lights, against the real 2026 calendar.

Every expected date is worked out by hand. The November 2026 working days after Monday
2026-11-02, numbered: 11-03 (1), 04 (2), 05 (3), 06 (4), 09 (5), 10 (6), 11 (7), 12 (8),
13 (9), 16 (10), 17 (11), 18 (12), 19 (13), 20 (14), 23 (15), 24 (16), 25 (17), 26 (18),
27 (19), 30 (20); then 12-01 (21) … 12-14 (30). 2026 National Day: 10-01..10-07 off, Saturday
10-10 is a 调休 workday. The package has no 2027 data.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import date

import pytest

from standard.calendar import WorkCalendar, load_overrides
from standard.deadlines import CaseFacts, LightSettings, apply_event, evaluate, evaluate_many
from standard.records import LOCAL_TZ, CaseEvent, CatalogueItem

SETTINGS = LightSettings()
CODE = "440605-JY-001"


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar()


def make_item(**changes) -> CatalogueItem:
    raw = {
        "item_code": CODE, "name": "食品经营许可", "dept_code": "NHSCJ",
        "dept_name": "区市场监督管理局", "legal_days": 20, "promised_days": 5,
        "stage_days": {}, "fee_yuan": "0.00", "case_type": "承诺件",
        "legal_basis": "《中华人民共和国行政许可法》第四十二条",
    }
    raw.update(changes)
    return CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))


def make_facts(accepted: date | None = date(2026, 11, 2), **changes) -> CaseFacts:
    facts = CaseFacts(case_no="NH2026000001", item_code=CODE, dept_code="NHSCJ",
                      district_code="440605", accepted_on=accepted)
    if accepted is not None:
        facts.stage, facts.stage_rank = "受理", 2
        facts.stage_started = {"受理": accepted.isoformat()}
    for name, value in changes.items():
        setattr(facts, name, value)
    return facts


def at(day: date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, 0, tzinfo=LOCAL_TZ)


_serial = 0


def event(event_type: str, day: date, **fields) -> CaseEvent:
    global _serial
    _serial += 1
    raw = {
        "event_id": f"E{_serial}", "case_no": "NH2026000001", "item_code": CODE,
        "dept_code": "NHSCJ", "district_code": "440605", "event_type": event_type,
        "occurred_at": f"{day.isoformat()}T10:00:00+08:00", "actor": {"id": "S017", "name": "李敏"},
    }
    raw.update(fields)
    return CaseEvent.model_validate_json(json.dumps(raw, ensure_ascii=False))


def fold(*events: CaseEvent) -> CaseFacts:
    facts = None
    for one in events:
        facts = apply_event(facts, one)
    return facts


def judge(facts, item, calendar, day, hour=10, settings=SETTINGS):
    return evaluate(facts, item, calendar, at(day, hour), settings)


# -- plain limits ----------------------------------------------------------------------


def test_plain_five_days(calendar):
    status = judge(make_facts(), make_item(), calendar, date(2026, 11, 3))
    assert status.deadline == date(2026, 11, 9)
    assert status.legal_deadline == date(2026, 11, 30)
    assert status.remaining_working_days == 4  # 11-04, 05, 06, 09
    assert (status.light, status.reasons, status.error, status.outcome) == ("green", [], None, None)
    assert status.stage == "受理"


def test_accepted_on_friday(calendar):
    status = judge(make_facts(date(2026, 11, 6)), make_item(), calendar, date(2026, 11, 6))
    assert status.deadline == date(2026, 11, 13)
    assert status.remaining_working_days == 5


def test_accepted_on_a_holiday_counts_the_adjusted_saturday(calendar):
    # 受理 on Saturday 10-03 (National Day): 10-08, 09, 10 (调休), 12, 13.
    status = judge(make_facts(date(2026, 10, 3)), make_item(), calendar, date(2026, 10, 8))
    assert status.deadline == date(2026, 10, 13)
    assert status.remaining_working_days == 4  # 10-09, 10-10, 10-12, 10-13


def test_immediate_case_on_a_working_day(calendar):
    facts = make_facts(date(2026, 11, 3), case_type="即办件")
    same_day = judge(facts, make_item(), calendar, date(2026, 11, 3), hour=15)
    assert same_day.deadline == date(2026, 11, 3)
    assert same_day.remaining_working_days == 0
    assert (same_day.light, same_day.reasons) == ("yellow", ["临近承诺时限：剩余0个工作日"])
    next_day = judge(facts, make_item(), calendar, date(2026, 11, 4))
    assert next_day.light == "red"
    assert next_day.reasons[0] == "已超过承诺时限1个工作日"


def test_immediate_case_on_a_sunday_is_due_monday(calendar):
    item = make_item(case_type="即办件", promised_days=0, legal_days=0)
    status = judge(make_facts(date(2026, 11, 8)), item, calendar, date(2026, 11, 8))
    assert status.deadline == date(2026, 11, 9)
    assert status.legal_deadline == date(2026, 11, 9)
    assert status.remaining_working_days == 1


# -- pauses and extensions ---------------------------------------------------------------


def test_closed_correction_pause(calendar):
    # 补正 from Wed 11-04 to Mon 11-09 removes 11-05, 11-06, 11-09: counting 11-03 (1),
    # 11-04 (2), then 11-10 (3), 11 (4), 12 (5).
    facts = make_facts(pauses=[["补正", "2026-11-04", "2026-11-09"]])
    status = judge(facts, make_item(), calendar, date(2026, 11, 10))
    assert status.deadline == date(2026, 11, 12)
    assert status.remaining_working_days == 2
    assert status.light == "green"


def test_open_correction_pause_never_goes_red_for_time(calendar):
    facts = make_facts(pauses=[["补正", "2026-11-04", None]])
    # At Mon 11-16 the pause has removed 11-05 … 11-16 (8 days): 5 + 8 = 13 → 11-19.
    first = judge(facts, make_item(), calendar, date(2026, 11, 16))
    assert first.deadline == date(2026, 11, 19)
    assert first.remaining_working_days == 3
    assert first.light == "green"
    # At Fri 11-20 four more days are removed: 17 → 11-25; remaining is frozen at 3.
    later = judge(facts, make_item(), calendar, date(2026, 11, 20))
    assert later.deadline == date(2026, 11, 25)
    assert later.remaining_working_days == 3
    # An anomaly still makes a paused case red.
    facts.anomalies = ["程序异常：补正结束没有对应的开始"]
    assert judge(facts, make_item(), calendar, date(2026, 11, 20)).light == "red"


def test_special_procedure_pause(calendar):
    # 听证 from Tue 11-03 to Fri 11-13 removes 11-04 … 11-13 (8 days): 5 + 8 = 13 → 11-19.
    facts = make_facts(pauses=[["听证", "2026-11-03", "2026-11-13"]])
    assert judge(facts, make_item(), calendar, date(2026, 11, 16)).deadline == date(2026, 11, 19)


def test_overlapping_pauses_are_not_double_counted(calendar):
    # 听证 (11-03, 11-13] and 补正 (11-10, 11-17] together remove 11-04 … 11-17 (10 days):
    # counting 11-03 (1), then 11-18 (2), 19 (3), 20 (4), 23 (5).
    facts = make_facts(pauses=[["听证", "2026-11-03", "2026-11-13"], ["补正", "2026-11-10", "2026-11-17"]])
    assert judge(facts, make_item(), calendar, date(2026, 11, 18)).deadline == date(2026, 11, 23)


def test_pause_before_acceptance_does_not_move_the_deadline(calendar):
    facts = make_facts(pauses=[["补正", "2026-10-26", "2026-11-02"]])
    assert judge(facts, make_item(), calendar, date(2026, 11, 3)).deadline == date(2026, 11, 9)


def test_extension(calendar):
    # 5 + 10 = 15 → 11-23; legal 20 + 10 = 30 → 12-14.
    status = judge(make_facts(extension_days=10), make_item(), calendar, date(2026, 11, 10))
    assert status.deadline == date(2026, 11, 23)
    assert status.legal_deadline == date(2026, 12, 14)


# -- lights at the edges -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "remaining", "light", "reasons"),
    [
        (date(2026, 11, 5), 2, "green", []),
        (date(2026, 11, 6), 1, "yellow", ["临近承诺时限：剩余1个工作日"]),
        (date(2026, 11, 7), 1, "yellow", ["临近承诺时限：剩余1个工作日"]),  # Saturday
        (date(2026, 11, 9), 0, "yellow", ["临近承诺时限：剩余0个工作日"]),
        (date(2026, 11, 10), -1, "red", ["已超过承诺时限1个工作日"]),
        (date(2026, 11, 12), -3, "red", ["已超过承诺时限3个工作日"]),
    ],
)
def test_light_around_the_deadline(calendar, today, remaining, light, reasons):
    status = judge(make_facts(), make_item(), calendar, today)
    assert status.deadline == date(2026, 11, 9)
    assert (status.remaining_working_days, status.light, status.reasons) == (remaining, light, reasons)


def test_weekend_after_deadline_is_red(calendar):
    # Deadline Fri 11-13; on Sat 11-14 no working day has passed yet, but the deadline has.
    status = judge(make_facts(date(2026, 11, 6)), make_item(), calendar, date(2026, 11, 14))
    assert status.remaining_working_days == 0
    assert (status.light, status.reasons) == ("red", ["已超过承诺时限（2026-11-13截止）"])


def test_moment_is_read_in_local_time(calendar):
    # 2026-11-09T16:30Z is 11-10 00:30 in the hall: one working day overdue.
    moment = dt.datetime(2026, 11, 9, 16, 30, tzinfo=dt.timezone.utc)
    status = evaluate(make_facts(), make_item(), calendar, moment, SETTINGS)
    assert status.remaining_working_days == -1
    with pytest.raises(ValueError):
        evaluate(make_facts(), make_item(), calendar, dt.datetime(2026, 11, 9, 10), SETTINGS)


def test_yellow_threshold_is_configurable(calendar):
    settings = LightSettings(yellow_within_working_days=2)
    assert judge(make_facts(), make_item(), calendar, date(2026, 11, 5), settings=settings).light == "yellow"


def test_legal_limit_passed(calendar):
    # Promised 3 → 11-05, legal 5 → 11-09; at 11-10, 3 working days late (11-06, 09, 10).
    status = judge(make_facts(), make_item(promised_days=3, legal_days=5), calendar, date(2026, 11, 10))
    assert (status.deadline, status.legal_deadline) == (date(2026, 11, 5), date(2026, 11, 9))
    assert status.remaining_working_days == -3
    assert status.reasons == ["已超过承诺时限3个工作日", "已超过法定时限"]


# -- stage limits ------------------------------------------------------------------------


def stage_facts(**changes) -> CaseFacts:
    facts = make_facts(stage="承办", stage_rank=3,
                       stage_started={"受理": "2026-11-02", "承办": "2026-11-03"})
    for name, value in changes.items():
        setattr(facts, name, value)
    return facts


STAGE_ITEM = {"stage_days": {"受理": 1, "承办": 3}}


def test_stage_over_its_limit(calendar):
    facts = stage_facts(stage_started={"受理": "2026-11-02", "承办": "2026-11-04"})
    status = judge(facts, make_item(**STAGE_ITEM), calendar, date(2026, 11, 5))
    assert (status.light, status.reasons) == ("red", ["环节超时：受理已用2个工作日，时限1个工作日"])


def test_current_stage_near_and_over_its_limit(calendar):
    item = make_item(**STAGE_ITEM)
    assert judge(stage_facts(), item, calendar, date(2026, 11, 5)).light == "green"  # used 2 of 3
    near = judge(stage_facts(), item, calendar, date(2026, 11, 6))  # used 3 of 3
    assert near.light == "yellow"
    assert near.reasons == ["临近承诺时限：剩余1个工作日", "环节临近时限：承办已用3个工作日，时限3个工作日"]
    over = judge(stage_facts(), item, calendar, date(2026, 11, 9))  # used 4; promised deadline day
    assert over.light == "red"
    assert over.reasons == ["环节超时：承办已用4个工作日，时限3个工作日", "临近承诺时限：剩余0个工作日"]


def test_stage_clock_stops_during_a_pause(calendar):
    # 承办 from 11-03; 补正 (11-04, 11-06] removes 11-05, 11-06: at 11-09 it has used 11-04, 11-09.
    facts = stage_facts(pauses=[["补正", "2026-11-04", "2026-11-06"]])
    status = judge(facts, make_item(**STAGE_ITEM), calendar, date(2026, 11, 9))
    assert status.reasons == []
    assert status.deadline == date(2026, 11, 11)


# -- fees --------------------------------------------------------------------------------


def test_fee_mismatch(calendar):
    status = judge(make_facts(fees=["80.00"]), make_item(fee_yuan="50.00"), calendar, date(2026, 11, 3))
    assert (status.light, status.reasons) == ("red", ["违规收费：收取80.00元，标准50.00元"])
    assert judge(make_facts(fees=["50"]), make_item(fee_yuan="50.00"), calendar, date(2026, 11, 3)).light == "green"


def test_fee_on_a_free_item(calendar):
    status = judge(make_facts(fees=["10"]), make_item(), calendar, date(2026, 11, 3))
    assert status.reasons == ["违规收费：收取10.00元，标准0.00元"]


# -- anomalies from folding events -------------------------------------------------------


def test_fold_a_clean_case(calendar):
    facts = fold(
        event("申请", date(2026, 11, 2), case_type="承诺件", window_no=3),
        event("受理", date(2026, 11, 2)),
        event("补正开始", date(2026, 11, 4)),
        event("补正结束", date(2026, 11, 9)),
        event("特别程序开始", date(2026, 11, 10), procedure_kind="检验"),
        event("延期", date(2026, 11, 10), extension_days=5),
        event("收费", date(2026, 11, 10), fee_amount="0.00"),
    )
    assert facts.accepted_on == date(2026, 11, 2)
    assert (facts.stage, facts.stage_rank, facts.case_type, facts.window_no) == ("受理", 2, "承诺件", 3)
    assert facts.pauses == [["补正", "2026-11-04", "2026-11-09"], ["检验", "2026-11-10", None]]
    assert (facts.extension_days, facts.fees, facts.anomalies, facts.event_count) == (5, ["0.00"], [], 7)
    assert CaseFacts.from_json(facts.to_json()) == facts
    # Open 检验 since 11-10; at 11-12: 5 + 3 (补正) + 2 (11-11, 12) + 5 (延期) = 15 → 11-23.
    status = judge(facts, make_item(), calendar, date(2026, 11, 12))
    assert (status.deadline, status.light) == (date(2026, 11, 23), "green")


def test_local_date_of_an_event_is_the_hall_date():
    facts = fold(event("受理", date(2026, 11, 2), occurred_at="2026-11-02T17:30:00+00:00"))
    assert facts.accepted_on == date(2026, 11, 3)


def test_fold_does_not_change_its_input():
    first = fold(event("受理", date(2026, 11, 2)))
    second = apply_event(first, event("承办", date(2026, 11, 3)))
    assert (first.stage, second.stage) == ("受理", "承办")
    assert first.event_count == 1
    with pytest.raises(ValueError, match="NH2026000002"):
        apply_event(first, event("承办", date(2026, 11, 3), case_no="NH2026000002"))


@pytest.mark.parametrize(
    ("events", "anomaly"),
    [
        ([("受理", {}), ("承办", {}), ("受理", {})], "程序异常：受理在承办之后上报"),
        ([("受理", {}), ("受理", {})], "程序异常：受理在受理之后上报"),
        ([("申请", {}), ("办结", {})], "程序异常：未受理即办结"),
        ([("申请", {}), ("审核", {})], "程序异常：未受理即审核"),
        ([("申请", {}), ("不予受理", {})], "无理由拒绝：不予受理未说明理由"),
        ([("受理", {}), ("不予许可", {})], "无理由拒绝：不予许可未说明理由"),
        ([("受理", {}), ("补正结束", {})], "程序异常：补正结束没有对应的开始"),
        ([("受理", {}), ("特别程序开始", {"procedure_kind": "检验"}),
          ("特别程序结束", {"procedure_kind": "听证"})], "程序异常：特别程序结束没有对应的开始"),
        ([("受理", {}), ("办结", {}), ("收费", {"fee_amount": "0.00"})], "程序异常：办结后仍有收费"),
    ],
)
def test_anomalies(calendar, events, anomaly):
    facts = fold(*(event(kind, date(2026, 11, 3), **fields) for kind, fields in events))
    assert facts.anomalies == [anomaly]
    status = judge(facts, make_item(), calendar, date(2026, 11, 4))
    assert status.light == "red"
    assert anomaly in status.reasons


def test_refusal_with_a_reason_is_not_an_anomaly():
    facts = fold(event("申请", date(2026, 11, 2)), event("不予受理", date(2026, 11, 2), reason="材料不属于本部门"))
    assert (facts.anomalies, facts.terminal, facts.finished_on) == ([], "不予受理", date(2026, 11, 2))


# -- finished cases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finished", "outcome", "remaining", "light"),
    [
        (date(2026, 11, 6), "early", 1, "green"),
        (date(2026, 11, 9), "on_time", 0, "green"),
        (date(2026, 11, 11), "late", -2, "red"),
    ],
)
def test_finished_cases(calendar, finished, outcome, remaining, light):
    facts = fold(event("受理", date(2026, 11, 2)), event("办结", finished))
    status = judge(facts, make_item(), calendar, date(2026, 12, 1))
    assert status.deadline == date(2026, 11, 9)
    assert (status.outcome, status.remaining_working_days, status.light) == (outcome, remaining, light)
    assert status.stage == "办结"


# -- missing data ------------------------------------------------------------------------


def test_not_yet_accepted(calendar):
    facts = fold(event("申请", date(2026, 11, 2), case_type="承诺件"))
    status = judge(facts, make_item(), calendar, date(2026, 11, 20))
    assert (status.deadline, status.remaining_working_days, status.light) == (None, None, "green")


def test_unknown_item(calendar):
    status = judge(make_facts(), None, calendar, date(2026, 11, 3))
    assert (status.light, status.reasons) == ("unknown", ["事项目录中没有该事项：440605-JY-001"])
    assert status.deadline is None
    # A definite anomaly outranks the unknown limit.
    flagged = judge(make_facts(anomalies=["程序异常：受理在受理之后上报"]), None, calendar, date(2026, 11, 3))
    assert flagged.light == "red"
    assert flagged.reasons == ["程序异常：受理在受理之后上报", "事项目录中没有该事项：440605-JY-001"]


def test_fallback_limits_without_item(calendar):
    joint = judge(make_facts(date(2026, 9, 1), case_type="联办件"), None, calendar, date(2026, 11, 3))
    assert joint.deadline == date(2026, 11, 9)  # 45 working days, through 中秋 and 国庆
    forwarded = judge(make_facts(case_type="上报件"), None, calendar, date(2026, 11, 3))
    assert forwarded.deadline == date(2026, 11, 30)  # 20 working days
    answer = judge(make_facts(case_type="答复件"), None, calendar, date(2026, 12, 30))
    assert (answer.deadline, answer.light) == (None, "unknown")  # fails closed, no limit needed
    # The fallback gives a deadline, but the case still says its item is unknown.
    assert joint.light == "unknown" and joint.reasons == ["事项目录中没有该事项：440605-JY-001"]


def test_case_without_limit_type(calendar):
    status = judge(make_facts(case_type="补办件"), make_item(), calendar, date(2026, 12, 30))
    assert (status.deadline, status.remaining_working_days, status.light) == (None, None, "green")


def test_unknown_year_does_not_raise(calendar):
    # 受理 Mon 12-21, 10 days: 12-22 … 12-31 are only 8, the rest falls in 2027.
    facts = make_facts(date(2026, 12, 21))
    status = judge(facts, make_item(promised_days=10), calendar, date(2026, 12, 22))
    assert status.light == "unknown"
    assert status.error == "calendar has no data for 2027"
    assert status.reasons == ["工作日历缺少2027年数据，无法计算时限"]
    assert status.deadline is None and status.remaining_working_days is None


def test_legal_limit_in_unknown_year_does_not_hide_a_known_promised_deadline(calendar):
    # 受理 Mon 12-14, promised 5 days → Mon 12-21; the legal 20 days reach into 2027.
    facts = make_facts(date(2026, 12, 14))
    status = judge(facts, make_item(promised_days=5, legal_days=20), calendar, date(2026, 12, 15))
    assert (status.deadline, status.remaining_working_days, status.light) == (
        date(2026, 12, 21), 4, "green")
    assert status.legal_deadline is None and status.error is None


def test_moment_in_unknown_year_does_not_raise(calendar):
    status = judge(make_facts(), make_item(), calendar, date(2027, 1, 5))
    assert (status.light, status.error) == ("unknown", "calendar has no data for 2027")


def test_unknown_year_known_with_override(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"version": 1, "years": {"2027": {"holidays": ["2027-01-01"]}}}))
    calendar = WorkCalendar(load_overrides(path))
    # 12-22 … 12-31 (8), 2027-01-01 is a holiday, 01-04 (9), 01-05 (10).
    status = judge(make_facts(date(2026, 12, 21)), make_item(promised_days=10), calendar, date(2026, 12, 22))
    assert status.deadline == date(2027, 1, 5)
    assert status.light == "green"


def test_evaluate_many_matches_evaluate(calendar):
    rows = [(make_facts(), make_item()), (make_facts(date(2026, 11, 6)), None),
            (make_facts(date(2026, 12, 21)), make_item(promised_days=10))]
    moment = at(date(2026, 11, 9))
    assert evaluate_many(rows, calendar, moment, SETTINGS) == [
        evaluate(facts, item, calendar, moment, SETTINGS) for facts, item in rows
    ]


def test_facts_json_round_trip():
    facts = make_facts(pauses=[["补正", "2026-11-04", None]], fees=["12.50"], terminal="办结",
                       finished_on=date(2026, 11, 9), anomalies=["程序异常：未受理即办结"])
    text = facts.to_json()
    assert json.loads(text)["version"] == 1
    assert CaseFacts.from_json(text) == facts
    with pytest.raises(ValueError):
        CaseFacts.from_json('{"version": 9}')
