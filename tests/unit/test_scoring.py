"""hub/scoring*.py: every indicator a rate over the unit's own work, bounded, explained in Chinese;
the formula file validated; a month's counts read from the hub's records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import Counter
from pathlib import Path

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.dubans import DubanDesk
from hub.scoring import (ScoringConfig, compute_month, load_scoring, rank, score_department,
                         score_lines, totals, weighted_unit)
from hub.scoring_config import DEFAULT_FILE, MEASURES, formula_rows, parse_scoring
from hub.scoring_inputs import Counts
from hub.services import Scope
from standard.configfile import ConfigError
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

CONFIG = ScoringConfig()
# 450 cases: 412 of 450 due finished on time; 300 finished, 6 late and 150 early; 3 yellow and
# 1 red card, 2 cases warned three times, 1 of 4 督办 late, ratings, 1 substantiated complaint.
MONTH = Counts(cases=450, due=450, on_time=412, finished=300, early=150, late=6, concluded=310,
               complete=304, yellow_cards=3, red_cards=1, warned_cases=2, dubans_due=4,
               dubans_late=1, ratings=Counter({5: 120, 4: 60, 3: 15, 2: 4, 1: 1}),
               invalid_ratings=2, complaints=1)


def by_key(lines):
    return {line.key: line for line in lines}


def scaled(counts: Counts, factor: int) -> Counts:
    values = {name: (Counter({k: v * factor for k, v in value.items()})
                     if isinstance(value, Counter) else value * factor)
              for name, value in vars(counts).items()}
    return Counts(**values)


def test_every_indicator_shows_its_inputs_rate_rule_and_points():
    lines = by_key(score_lines(CONFIG, MONTH))
    assert list(lines) == list(MEASURES)
    on_time = lines["on_time"]
    assert on_time.inputs == "按时办结 412 / 本月到期 450 件" and on_time.rate_text == "91.6%"
    assert on_time.rule == "达到100%时得30分，每低1个百分点扣1分；最低0分，最高30分"
    assert on_time.points == round(30 - (100 - 412 / 450 * 100), 2) == 21.56
    assert lines["overdue"].inputs == "超期办结 6 / 办结 300 件"
    assert lines["overdue"].rate_text == "每百件 2.00 件" and lines["overdue"].points == 8
    assert lines["yellow_cards"].inputs == "黄牌 3 张 / 经办 450 件"
    assert lines["yellow_cards"].points == round(5 - 300 / 450, 2)
    assert lines["red_cards"].inputs == "红牌 1 张 / 经办 450 件"
    assert lines["red_cards"].points == round(10 - 5 * 100 / 450, 2)
    assert lines["warnings"].inputs == "预警3次及以上的办件 2 / 经办 450 件"
    assert lines["warnings"].points == round(5 - 2 * 200 / 450, 2)
    assert lines["duban_late"].inputs == "逾期反馈 1 / 本月到期督办 4 件"
    assert lines["duban_late"].rate_text == "25.0%" and lines["duban_late"].points == 3.75
    # (120 + 60) x 100 + 15 x 80 = 19200 over 200 ratings: 96.0
    assert lines["satisfaction"].rate == 96.0 and lines["satisfaction"].points == 23
    assert lines["satisfaction"].inputs == ("非常满意 120 · 满意 60 · 基本满意 15 · 不满意 4 · "
                                            "非常不满意 1，有效评价 200 条（已剔除无效评价 2 条）")
    assert lines["complaints"].points == round(5 - 500 / 450, 2)
    assert lines["reporting"].inputs == "环节完整 304 / 办结 310 件"
    assert lines["reporting"].points == round(5 - 0.5 * (100 - 304 / 310 * 100), 2)
    assert lines["early"].bonus and lines["early"].points == 2.0  # (50 % - 30) x 0.1
    base, bonus, score = totals(CONFIG, list(lines.values()))
    assert base == round(sum(line.points for line in lines.values() if not line.bonus), 2)
    assert (bonus, score) == (2.0, round(base + 2, 2))


def test_a_unit_twice_the_size_with_the_same_record_scores_the_same():
    small = score_department(CONFIG, MONTH, district="440605", dept="440605SCJ", name="南海SCJ")
    for factor in (2, 7, 100):
        large = score_department(CONFIG, scaled(MONTH, factor), district="440606",
                                 dept="440606SCJ", name="顺德SCJ")
        assert large.score == small.score
        assert [line.points for line in large.lines] == [line.points for line in small.lines]
        assert [line.rate for line in large.lines] == [line.rate for line in small.lines]


def test_bounds_hold_under_extreme_inputs():
    rng = random.Random(16)
    generous = parse_scoring(DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "floor = 0.0\ncap = 30.0", "floor = -500.0\ncap = 90.0"))
    for config in (CONFIG, generous):
        for _ in range(2000):
            cases = rng.choice((1, 2, 10, 10_000))
            due = rng.randrange(0, cases * 3)
            finished = rng.randrange(0, cases * 3)
            counts = Counts(
                cases=cases, due=due, on_time=rng.randrange(0, due + 1), finished=finished,
                early=rng.randrange(0, finished + 1), late=rng.randrange(0, finished + 1),
                concluded=finished, complete=rng.randrange(0, finished + 1),
                yellow_cards=rng.randrange(0, 50 * cases), red_cards=rng.randrange(0, 50 * cases),
                warned_cases=rng.randrange(0, cases + 1), dubans_due=(d := rng.randrange(0, 9)),
                dubans_late=rng.randrange(0, d + 1),
                ratings=Counter({level: rng.randrange(0, 100) for level in range(1, 6)}),
                complaints=rng.randrange(0, 5 * cases))
            unit = score_department(config, counts, district="440605", dept="440605X", name="x")
            assert 0 <= unit.base <= 100 and 0 <= unit.bonus <= 5
            assert 0 <= unit.score <= 105
            for line in unit.lines:
                rule = config.indicator(line.key)
                assert rule.floor <= line.points <= rule.cap, line


def test_a_unit_without_cases_has_no_score_and_no_rank():
    empty = score_department(CONFIG, Counts(), district="440605", dept="440605WJJ", name="空")
    busy = score_department(CONFIG, MONTH, district="440605", dept="440605SCJ", name="忙")
    assert empty.score is None and empty.lines == [] and empty.cases == 0
    rank([empty, busy])
    assert (busy.rank, empty.rank) == (1, None)
    district = weighted_unit(CONFIG, "440605", "南海区", [(empty, Counts())])
    assert district.score is None and district.members[0]["score"] is None


def test_the_three_key_mapping_scores_basic_satisfaction_above_dissatisfaction():
    # A three-key evaluator sends 满意 / 基本满意 / 不满意 as levels 4 / 3 / 2.
    three_keys = Counts(cases=10, ratings=Counter({4: 5, 3: 5}))
    lines = by_key(score_lines(CONFIG, three_keys))
    assert lines["satisfaction"].rate == 90.0  # (5 x 100 + 5 x 80) / 10
    assert lines["satisfaction"].points == 20.0
    unhappy = by_key(score_lines(CONFIG, Counts(cases=10, ratings=Counter({4: 5, 2: 5}))))
    assert unhappy["satisfaction"].rate == 50.0 and unhappy["satisfaction"].points == 0
    custom = parse_scoring(DEFAULT_FILE.read_text(encoding="utf-8").replace(
        '"基本满意" = 80.0', '"基本满意" = 60.0'))
    assert by_key(score_lines(custom, three_keys))["satisfaction"].rate == 80.0
    none = by_key(score_lines(CONFIG, Counts(cases=10)))["satisfaction"]
    assert none.rate is None and none.points == 25 and "有效评价少于1条时得25分" in none.rule


def test_no_data_gives_the_configured_points_and_says_so():
    quiet = by_key(score_lines(CONFIG, Counts(cases=5)))
    assert quiet["on_time"].points == 30 and quiet["on_time"].rate_text == "无数据"
    assert quiet["on_time"].rule.endswith("本月无到期办件时得30分")
    assert quiet["duban_late"].rule.endswith("本月无到期督办时得5分")
    assert quiet["early"].points == 0
    custom = parse_scoring(DEFAULT_FILE.read_text(encoding="utf-8").replace(
        "anomalies_incomplete = true", "anomalies_incomplete = true\nno_data_points = 2.5"))
    assert by_key(score_lines(custom, Counts(cases=5)))["reporting"].points == 2.5


def test_a_district_is_its_departments_weighted_by_cases():
    small = score_department(CONFIG, Counts(cases=100, due=100, on_time=100), district="440605",
                             dept="440605A", name="A")
    big = score_department(CONFIG, Counts(cases=300, due=300, on_time=240), district="440605",
                           dept="440605B", name="B")
    assert (small.score, big.score) == (100, 80)
    district = weighted_unit(CONFIG, "440605", "南海区",
                             [(small, Counts(cases=100, due=100, on_time=100)),
                              (big, Counts(cases=300, due=300, on_time=240))])
    assert district.score == 85.0 and district.cases == 400
    on_time = by_key(district.lines)["on_time"]
    assert on_time.inputs == "按时办结 340 / 本月到期 400 件（各部门合计）"
    assert on_time.points == 15.0 and "加权平均" in on_time.rule
    assert [m["share"] for m in district.members] == [25.0, 75.0]


def test_the_shipped_formula_file_is_the_default_and_bad_files_name_the_key(tmp_path):
    config, text = load_scoring(None)
    assert config == ScoringConfig() and text == DEFAULT_FILE.read_text(encoding="utf-8")
    shipped = text

    def refused(replaced: str, by: str, message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            parse_scoring(shipped.replace(replaced, by), "scoring.toml")

    refused("[complaints]", "[complaints]\nwieght = 1", r"complaints\.wieght: unknown key")
    refused("weight = 30.0", "weight = 25.0", "weights add up to 95, not total.max = 100")
    refused("version = 2", "version = 1", "version 1 formula files")
    refused("floor = 0.0\ncap = 30.0", "floor = 40.0\ncap = 30.0", "on_time: .*floor 40 is above")
    refused('"基本满意" = 80.0', '"基本满意" = 180.0', "satisfaction.grade_points.基本满意")
    refused("min = 85.0", "min = 99.0", "highest band to the lowest")
    assert [ScoringConfig().grade(s) for s in (99, 90, 75, 12, None)] == [
        "优秀", "良好", "合格", "不合格", None]
    partial = parse_scoring("version = 2\n[on_time]\nweight = 30\ntarget = 95\nper_point = 2\n")
    assert partial.on_time.cap == 30 and partial.on_time.floor == 0


def test_the_formula_rows_are_chinese_sentences():
    rows = {row["key"]: row for row in formula_rows(CONFIG)}
    assert rows["complaints"]["rule"] == "每百件0件时得5分，每百件每多1件扣5分；最低0分，最高5分"
    assert rows["early"]["rule"] == "以30%为起点，每高1个百分点加0.1分；最低0分，最高5分"
    assert "3次及以上预警" in rows["warnings"]["definition"]
    assert sum(row["weight"] for row in rows.values() if not row["bonus"]) == 100


# -- a month from records ------------------------------------------------------------------
def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), LOCAL_TZ)


def _scenario(box: SimBox):
    """南海 SCJ in October 2026: 4 cases accepted Mon 10-12, promised 3 working days (due
    10-15): 2 early, 1 on time, 1 late (L1, 审核 not reported); 2 yellow and 1 red card; L1
    warned three times; ratings 5, 4, 3, 2 and an invalid 1."""
    item = box.items[0]  # 440605-SCJ-001, promised 3 working days
    for n, (kind, day) in enumerate((("限期办理通知书", "2026-10-12"),
                                     ("限期办理通知书", "2026-10-20"),
                                     ("整改建议书", "2026-10-26")), start=1):
        yield box.record("notice", {"number": f"南海电监〔2026〕{n}号", "kind": kind,
                                    "alert_id": n, "case_no": "L1", "dept_code": "440605SCJ",
                                    "issued_at": _at(day).isoformat(), "issued_on": day,
                                    "due_on": None, "content": {}}, _at(day))
    for n, (case_no, day) in enumerate((("L1", "2026-10-14"), ("L1", "2026-10-15"),
                                        ("L1", "2026-10-16"), ("E1", "2026-10-13")), start=10):
        stamp = _at(day).isoformat()
        yield box.record("alert", {"id": n, "subject": f"case:{case_no}", "rule": "临近时限",
                                   "level": "yellow", "state": "open", "detail": "临近",
                                   "opened_at": stamp, "updated_at": stamp, "case_no": case_no,
                                   "dept_code": "440605SCJ"}, _at(day))
    plans = [("E1", "2026-10-13", True), ("E2", "2026-10-14", True), ("T1", "2026-10-15", True),
             ("L1", "2026-10-20", False)]
    for case_no, finished, complete in plans:
        case = {"case_no": case_no, "item": item}
        stages = ["申请", "受理", "承办", "审核", "批准", "办结"]
        if not complete:
            stages.remove("审核")
        for stage in stages:
            day = "2026-10-12" if stage in ("申请", "受理") else finished
            yield box._event(case, stage, _at(day, 9 + stages.index(stage)))
    for rid, (level, invalid) in enumerate(((5, False), (4, False), (3, False), (2, False),
                                            (1, True)), 1):
        body = {"id": rid, "rating_uid": f"R{rid}", "channel": "评价器", "level": level,
                "case_no": "E1", "dept_code": "440605SCJ", "counted": not invalid,
                "rated_at": _at("2026-10-21").isoformat()}
        if invalid:
            body["invalid_reason"] = "恶意"
        yield box.record("rating", body, _at("2026-10-21"))


@pytest.fixture
def dashboard(tmp_path, hub_database):
    write_hub_folder(tmp_path, None if isinstance(hub_database, Path) else hub_database)
    clock = Clock(_at("2026-10-13"))
    board = open_dashboard(tmp_path, clock)
    box = SimBox("440605-01", "440605")
    feed(board.data.store, box, _scenario(box))
    board.data.store.touch_box(box.box_id, "440605", backlog=0)
    city = Scope.city()
    dubans = DubanDesk(board.data.store, board.data.calendar, clock, due_working_days=3)
    late = dubans.issue(board.data, city, "L1", user="市局", requirement="说明超期原因")
    early = dubans.issue(board.data, city, "E1", user="市局", requirement="核实")
    clock.at = _at("2026-10-14")
    dubans.act(early["id"], city, "answer", user="南海", note="已办结")
    clock.at = _at("2026-10-22")
    dubans.act(late["id"], city, "answer", user="南海", note="迟复")
    desk = board.complaints
    for finding in ("属实", "不属实"):
        desk.submit(kind="投诉", subject="超时", content="超时", district="440605", dept="SCJ")
        number = desk.list(city)[0]["id"]
        desk.act(number, city, "accept", user="市局")
        desk.act(number, city, "reply", user="市局", note="已核查", finding=finding)
    clock.at = _at("2026-11-03")
    return board


def test_a_month_from_records_counts_every_indicator(dashboard):
    results = compute_month(dashboard.data, dashboard.scoring, "2026-10")
    unit = next(u for u in results if u.dept_code == "440605SCJ")
    assert unit.name == "南海区市场监督管理局" and unit.dept_suffix == "SCJ"
    assert unit.cases == 4
    counts = unit.inputs
    assert (counts["due"], counts["on_time"]) == (4, 3)
    assert (counts["finished"], counts["early"], counts["late"]) == (4, 2, 1)
    assert (counts["concluded"], counts["complete"]) == (4, 3)
    assert (counts["yellow_cards"], counts["red_cards"], counts["warned_cases"]) == (2, 1, 1)
    assert (counts["dubans_due"], counts["dubans_late"]) == (2, 1)
    assert counts["ratings"] == {"2": 1, "3": 1, "4": 1, "5": 1} and counts["invalid_ratings"] == 1
    assert counts["complaints"] == 1
    lines = by_key(unit.lines)
    assert lines["satisfaction"].rate == 70.0  # (100 + 100 + 80 + 0) / 4
    assert lines["on_time"].inputs == "按时办结 3 / 本月到期 4 件"
    # The other departments had no cases at all: 无办件, unranked; Nanhai is SCJ alone.
    others = [u for u in results if u.kind == "dept" and u is not unit]
    assert others and all(u.score is None and u.rank is None for u in others)
    nanhai = next(u for u in results if u.kind == "district" and u.district_code == "440605")
    assert nanhai.score == unit.score and nanhai.cases == 4
    shunde = next(u for u in results if u.kind == "district" and u.district_code == "440606")
    assert shunde.score is None


def test_an_open_case_due_this_month_counts_only_once_its_deadline_passed(dashboard):
    box = SimBox.continuing(dashboard.data.store, "440605-01", "440605")
    case = {"case_no": "OPEN1", "item": box.items[0]}
    records = [box._event(case, stage, _at("2026-11-02", 9 + n))
               for n, stage in enumerate(("申请", "受理"))]
    feed(dashboard.data.store, box, records)  # due Thu 11-05

    def due_counts():
        unit = next(u for u in compute_month(dashboard.data, dashboard.scoring, "2026-11")
                    if u.dept_code == "440605SCJ")
        return unit.inputs["due"], unit.inputs["on_time"], unit.cases
    assert due_counts() == (0, 0, 1)  # 11-03: not due yet
    dashboard.data.clock.at = _at("2026-11-06")
    assert due_counts() == (1, 0, 1)  # overdue and open: not on time


def test_fields_of_counts_are_all_summed_for_a_district():
    pooled = Counts()
    pooled.add(MONTH)
    pooled.add(MONTH)
    assert dataclasses.asdict(pooled) == dataclasses.asdict(scaled(MONTH, 2))


def test_void_cards_and_withdrawn_warnings_are_not_counted(dashboard):
    """The box withdrew the alert of 南海电监〔2026〕1号 (later-arriving events showed L1 on time
    then) and one of L1's three warnings: the card is void and L1 is no longer warned 3 times."""
    box = SimBox.continuing(dashboard.data.store, "440605-01", "440605")
    later = _at("2026-10-28")
    base = {"subject": "case:L1", "detail": "d", "case_no": "L1", "dept_code": "440605SCJ",
            "state": "withdrawn", "updated_at": later.isoformat()}
    feed(dashboard.data.store, box, [
        box.record("alert", {**base, "id": 1, "rule": "超期", "level": "red", "card": "yellow",
                             "opened_at": _at("2026-10-12").isoformat()}, later),
        box.record("alert", {**base, "id": 10, "rule": "临近时限", "level": "yellow",
                             "opened_at": _at("2026-10-14").isoformat()}, later)])
    unit = next(u for u in compute_month(dashboard.data, dashboard.scoring, "2026-10")
                if u.dept_code == "440605SCJ")
    counts = unit.inputs
    assert (counts["yellow_cards"], counts["red_cards"], counts["warned_cases"]) == (1, 1, 0)
