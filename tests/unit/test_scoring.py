"""hub/scoring.py and hub/scorebook.py: the formula line by line, its config, versions, periods."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tomllib

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.scorebook import Scorebook, ScoresNotReady
from hub.scoring import (
    DEFAULT_FILE,
    ScoringConfig,
    compute_month,
    consecutive_runs,
    load_scoring,
    score_lines,
)
from hub.services import Scope
from standard.calendar import WorkCalendar
from standard.configfile import ConfigError
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

COUNTS = {"yellow_cards": 2, "red_cards": 1, "warning_days": 5, "warning_runs": 1,
          "concluded": 50, "complete": 48, "with_deadline": 50, "early": 37,
          "counted": 100, "satisfied": 92, "invalid": 3}


def points(lines):
    return {line.key: line.points for line in lines}


def test_every_term_of_the_formula_shows_its_inputs_rule_and_points():
    lines = score_lines(ScoringConfig(), COUNTS)
    assert points(lines) == {"base": 100, "yellow_cards": -10, "red_cards": -10,
                             "warnings": -3, "early_completion": 7, "reporting": -4,
                             "satisfaction": 1.0}
    assert sum(points(lines).values()) == 81
    by_key = {line.key: line for line in lines}
    assert by_key["early_completion"].inputs == "提前办结 37 / 办结 50 = 74.0%"
    assert "每10个百分点 +1" in by_key["early_completion"].rule
    assert by_key["reporting"].inputs.endswith("缺 4 个百分点")
    assert "已剔除无效评价 3 条" in by_key["satisfaction"].inputs


def test_caps_and_empty_months():
    config = ScoringConfig()
    rich = {**COUNTS, "early": 50, "complete": 30, "satisfied": 100}
    p = points(score_lines(config, rich))
    assert p["early_completion"] == 10  # 100 % early: capped at +10
    assert p["reporting"] == -5  # 40 points missing: at most -5
    assert p["satisfaction"] == 5  # (100 - 90) x 0.5 = 5, the maximum
    empty = {key: 0 for key in COUNTS}
    p = points(score_lines(config, empty))
    assert p == {"base": 100, "yellow_cards": 0, "red_cards": 0, "warnings": 0,
                 "early_completion": 0, "reporting": 0, "satisfaction": 0}
    poor = {**COUNTS, "satisfied": 40}
    assert points(score_lines(config, poor))["satisfaction"] == -10  # clamped


def test_three_consecutive_working_days_skip_weekends_and_holidays():
    calendar = WorkCalendar()
    # 2026-09-30 (Wed), then National Day 10-01..10-07 off, 10-08 (Thu), 10-09 (Fri).
    assert consecutive_runs(["2026-09-30", "2026-10-08", "2026-10-09"], calendar, 3) == 1
    # Mon Tue Wed Thu Fri Mon: six consecutive working days are two runs.
    days = ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-16"]
    assert consecutive_runs(days, calendar, 3) == 2
    assert consecutive_runs(["2026-11-09", "2026-11-11", "2026-11-13"], calendar, 3) == 0


def test_the_shipped_formula_file_is_the_default_and_unknown_keys_are_refused(tmp_path):
    config, text = load_scoring(None)
    assert config == ScoringConfig() and text == DEFAULT_FILE.read_text(encoding="utf-8")
    assert tomllib.loads(text)["version"] == 1
    bad = tmp_path / "scoring.toml"
    bad.write_text('version = 1\n[cards]\nyelow_points = -5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="cards.yelow_points: unknown key"):
        load_scoring(bad)
    bands = tmp_path / "bands.toml"
    bands.write_text('version = 1\n[[grades]]\nname = "合格"\nmin = 60\n'
                     '[[grades]]\nname = "优秀"\nmin = 90\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="highest band"):
        load_scoring(bands)
    assert [ScoringConfig().grade(s) for s in (99, 90, 75, 12)] == ["优秀", "良好", "合格",
                                                                   "不合格"]


def _at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), LOCAL_TZ)


def _scenario(box: SimBox):
    """南海 SCJ in October 2026, every count known: 2 yellow and 1 red card, warnings on three
    consecutive working days, 4 cases concluded (2 early, 1 on time, 1 late; 1 with a skipped
    stage), ratings 5, 4, 2 and an invalid 1."""
    item = box.items[0]  # 440605-SCJ-001, promised 3 working days
    for n, (kind, day) in enumerate((("限期办理通知书", "2026-10-12"),
                                     ("限期办理通知书", "2026-10-20"),
                                     ("整改建议书", "2026-10-26")), start=1):
        yield box.record("notice", {"number": f"南海电监〔2026〕{n}号", "kind": kind,
                                    "alert_id": n, "case_no": f"C{n}", "dept_code": "440605SCJ",
                                    "issued_at": _at(day).isoformat(), "issued_on": day,
                                    "due_on": None, "content": {}}, _at(day))
    for n, day in enumerate(("2026-10-14", "2026-10-15", "2026-10-16"), start=10):
        stamp = _at(day).isoformat()
        yield box.record("alert", {"id": n, "subject": f"case:W{n}", "rule": "临近时限",
                                   "level": "yellow", "state": "open", "detail": "临近",
                                   "opened_at": stamp, "updated_at": stamp, "case_no": f"W{n}",
                                   "dept_code": "440605SCJ"}, _at(day))
    plans = [("E1", "2026-10-12", "2026-10-13", True), ("E2", "2026-10-12", "2026-10-14", True),
             ("T1", "2026-10-12", "2026-10-15", True), ("L1", "2026-10-12", "2026-10-20", False)]
    for case_no, accepted, finished, complete in plans:
        case = {"case_no": case_no, "item": item}
        stages = ["申请", "受理", "承办", "审核", "批准", "办结"]
        if not complete:
            stages.remove("审核")
        for stage in stages:
            day = accepted if stage in ("申请", "受理") else finished
            yield box._event(case, stage, _at(day, 9 + stages.index(stage)))
    for rid, (level, invalid) in enumerate(((5, False), (4, False), (2, False), (1, True)), 1):
        body = {"id": rid, "rating_uid": f"R{rid}", "channel": "评价器", "level": level,
                "case_no": "E1", "dept_code": "440605SCJ", "counted": not invalid,
                "rated_at": _at("2026-10-21").isoformat()}
        if invalid:
            body["invalid_reason"] = "恶意"
        yield box.record("rating", body, _at("2026-10-21"))


@pytest.fixture
def dashboard(tmp_path):
    write_hub_folder(tmp_path)
    board = open_dashboard(tmp_path, Clock(_at("2026-11-03")))
    box = SimBox("440605-01", "440605")
    feed(board.data.store, box, _scenario(box))
    return board


def test_a_month_from_records_counts_cards_warnings_completion_and_ratings(dashboard):
    results = compute_month(dashboard.data, dashboard.scoring, "2026-10")
    unit = next(u for u in results if u.dept_code == "440605SCJ")
    assert unit.name == "南海区市场监督管理局" and unit.dept_suffix == "SCJ"
    inputs = unit.inputs
    assert (inputs["yellow_cards"], inputs["red_cards"]) == (2, 1)
    assert (inputs["warning_days"], inputs["warning_runs"]) == (3, 1)
    assert (inputs["concluded"], inputs["complete"], inputs["with_deadline"],
            inputs["early"]) == (4, 3, 4, 2)
    assert (inputs["counted"], inputs["satisfied"], inputs["invalid"]) == (3, 2, 1)
    p = points(unit.lines)
    # 100 -10 -10 -3 +5 (50 % early) -25→-5 (75 % complete) + (66.7-90)x0.5 = -11.67→-10
    assert p == {"base": 100, "yellow_cards": -10, "red_cards": -10, "warnings": -3,
                 "early_completion": 5, "reporting": -5, "satisfaction": -10}
    assert unit.total == 67
    others = [u for u in results if u.kind == "dept" and u.dept_code != "440605SCJ"
              and u.district_code == "440605"]
    assert others and all(u.total == 100 for u in others)
    nanhai = next(u for u in results if u.kind == "district" and u.district_code == "440605")
    assert nanhai.total == round((67 + 100 * len(others)) / (len(others) + 1), 2)
    assert unit.rank == len([u for u in results if u.kind == "dept"])  # the only one below 100


def test_publishing_freezes_a_version_and_corrections_are_new_versions(dashboard):
    book = Scorebook(dashboard.data.store)
    config, text = dashboard.scoring, dashboard.scoring_text
    results = compute_month(dashboard.data, config, "2026-10")
    first = book.save("2026-10", results, config, text, user="t")
    again = book.save("2026-10", results, config, text, user="t")
    assert (first.version, again.version, again.status) == (1, 1, "draft")
    with pytest.raises(ScoresNotReady):
        book.publish("2026-09", user="t")
    published = book.publish("2026-10", user="王局")
    assert published.published and published.label == "第1版 · 已发布"
    with pytest.raises(ScoresNotReady):
        book.publish("2026-10", user="t")  # nothing left to publish
    conn = sqlite3.connect(dashboard.data.store.path)
    for statement in ("update scores set score = 100 where month = '2026-10'",
                      "delete from scores where month = '2026-10'",
                      "update score_runs set formula = 'x' where month = '2026-10'",
                      "delete from score_runs where month = '2026-10'"):
        with pytest.raises(sqlite3.IntegrityError, match="published score version"):
            conn.execute(statement)
    conn.close()
    correction = book.save("2026-10", results, config, text, user="t")
    assert (correction.version, correction.label) == (2, "第2版（更正） · 草稿（未发布）")
    assert book.current("2026-10", published_only=True).version == 1  # the public still sees v1
    book.publish("2026-10", user="t")
    assert book.current("2026-10", published_only=True).version == 2
    assert [run.version for run in book.runs("2026-10")] == [2, 1]
    rows = book.scores(book.run("2026-10", 1), Scope.city())
    assert rows and rows[0]["lines"][0]["label"] == "基础分"


def test_periods_are_means_of_months_with_quarter_grades(dashboard):
    book = Scorebook(dashboard.data.store)
    config, text = dashboard.scoring, dashboard.scoring_text
    for month in ("2026-10", "2026-11"):
        book.save(month, compute_month(dashboard.data, config, month), config, text, user="t")
    book.publish("2026-10", user="t")
    everything = book.periods(2026, Scope.city(), config, published_only=False)
    unit = next(u for u in everything if u["dept_code"] == "440605SCJ")
    assert unit["months"] == {"2026-10": 67.0, "2026-11": 100.0}
    assert unit["Q4"] == 83.5 and unit["Q4_grade"] == "合格" and unit["Q4_months"] == 2
    assert unit["H2"] == 83.5 and unit["Y"] == 83.5 and unit["Q1"] is None
    public = book.periods(2026, Scope.city(), config, published_only=True)
    unit = next(u for u in public if u["dept_code"] == "440605SCJ")
    assert unit["Q4"] == 67.0 and unit["Q4_grade"] == "不合格"
    scoped = book.periods(2026, Scope.department("WJJ"), config, published_only=True)
    assert scoped and {u["dept_code"][6:] for u in scoped} == {"WJJ"}
