"""Monthly performance scores (绩效评估): the formula from a config file, each line explained.

For each department (district code + department code) and each district, for one month::

    score = base
          + yellow cards × cards.yellow_points + red cards × cards.red_points
          + runs of N consecutive working days with a warning × warnings.points
          + floor(提前办结率 % / step) × points_per_step            (at most max_points)
          + max(−max_deduction, floor(missing reporting %) × points_per_missing_point)
          + clamp((满意率 % − target) × points_per_percentage_point, min_points, max_points)

The numbers live in ``firmware_cfg/scoring.toml`` (the default) or the file ``scoring`` in
hub.toml names. :func:`compute_month` returns, per unit, the total and one :class:`Line` per
term with its inputs, the rule applied and the points, which is what every score page shows.

Example::

    config = load_scoring(None)
    scores = compute_month(data, config, "2026-10")
    scores[0].total, [line.label for line in scores[0].lines]
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.projections.supervision import RED_CARD_NOTICE, YELLOW_CARD_NOTICE
from hub.services import HubData
from hub.units import dept_suffix, month_bounds
from standard.calendar import CalendarUnknownYear
from standard.configfile import ConfigError, describe_errors
from standard.districts import DISTRICTS
from standard.records import STAGE_RANK

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "firmware_cfg" / "scoring.toml"
StageName = Literal["申请", "受理", "承办", "审核", "批准", "办结"]


class ScoringError(Exception):
    """The scores cannot be computed (a bad formula file, a month the calendar lacks)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardsRule(_Section):
    yellow_points: float = -5.0
    red_points: float = -10.0


class WarningsRule(_Section):
    run_working_days: int = Field(default=3, ge=1, le=30)
    points: float = -3.0


class EarlyRule(_Section):
    step_percentage_points: float = Field(default=10.0, gt=0, le=100)
    points_per_step: float = 1.0
    max_points: float = Field(default=10.0, ge=0)


class ReportingRule(_Section):
    required_stages: list[StageName] = Field(
        default_factory=lambda: ["受理", "承办", "审核", "批准", "办结"])
    immediate_case_types: list[str] = Field(default_factory=lambda: ["即办件"])
    immediate_required_stages: list[StageName] = Field(default_factory=lambda: ["受理", "办结"])
    anomalies_incomplete: bool = True
    points_per_missing_point: float = -1.0
    max_deduction: float = Field(default=5.0, ge=0)


class SatisfactionRule(_Section):
    target_percent: float = Field(default=90.0, ge=0, le=100)
    points_per_percentage_point: float = 0.5
    min_points: float = -10.0
    max_points: float = 5.0
    min_ratings: int = Field(default=1, ge=1)


class Grade(_Section):
    name: str = Field(min_length=1, max_length=10)
    min: float


def _default_grades() -> list[Grade]:
    return [Grade(name="优秀", min=95), Grade(name="良好", min=85), Grade(name="合格", min=70),
            Grade(name="不合格", min=-1000)]


class ScoringConfig(_Section):
    """The formula file (``scoring.toml``); unknown keys are errors."""

    version: Literal[1] = 1
    formula: str = Field(default="佛山电子监察绩效评估 2026 第1版", min_length=1, max_length=80)
    base: float = 100.0
    cards: CardsRule = CardsRule()
    warnings: WarningsRule = WarningsRule()
    early_completion: EarlyRule = EarlyRule()
    reporting: ReportingRule = ReportingRule()
    satisfaction: SatisfactionRule = SatisfactionRule()
    grades: list[Grade] = Field(default_factory=_default_grades, min_length=1)

    @model_validator(mode="after")
    def _grades_descend(self) -> ScoringConfig:
        mins = [grade.min for grade in self.grades]
        if mins != sorted(mins, reverse=True):
            raise ValueError("grades must be listed from the highest band to the lowest")
        return self

    def grade(self, score: float | None) -> str | None:
        if score is None:
            return None
        for band in self.grades:
            if score >= band.min:
                return band.name
        return self.grades[-1].name


def load_scoring(path: Path | None) -> tuple[ScoringConfig, str]:
    """The formula and its file text; ``None`` reads the built-in firmware_cfg/scoring.toml."""
    source = Path(path) if path else DEFAULT_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        if path is None:  # installed without the firmware_cfg folder: the same defaults
            return ScoringConfig(), ""
        raise ConfigError(f"{source}: cannot read the scoring formula: {exc.strerror}") from None
    try:
        return ScoringConfig.model_validate(tomllib.loads(text)), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise ConfigError(f"{source}: invalid scoring formula:\n  {problems}") from None


@dataclass
class Line:
    """One term of a score: what it counted, the rule, and the points it gave."""

    key: str
    label: str
    inputs: str
    rule: str
    points: float


@dataclass
class UnitScore:
    kind: str  # "dept" | "district"
    district_code: str
    dept_code: str  # "" for a district
    dept_suffix: str | None
    name: str
    total: float = 0.0
    rank: int = 0
    lines: list[Line] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": [asdict(line) for line in self.lines]}


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _points(value: float) -> float:
    return round(value, 2) + 0.0  # never show -0


def _num(value: float) -> str:
    return f"{value:+g}"


def score_lines(config: ScoringConfig, counts: dict[str, Any]) -> list[Line]:
    """The terms of one unit's score from its month's counts (pure: unit tests call this)."""
    c = counts
    lines = [Line("base", "基础分", "", f"基础分 {config.base:g}", config.base)]
    rule = config.cards
    lines.append(Line("yellow_cards", "黄牌（限期办理通知书）", f"{c['yellow_cards']} 张",
                      f"每张 {_num(rule.yellow_points)}", c["yellow_cards"] * rule.yellow_points))
    lines.append(Line("red_cards", "红牌（整改建议书）", f"{c['red_cards']} 张",
                      f"每张 {_num(rule.red_points)}", c["red_cards"] * rule.red_points))
    warn = config.warnings
    lines.append(Line("warnings", f"连续{warn.run_working_days}次预警",
                      f"有预警的工作日 {c['warning_days']} 天，连续{warn.run_working_days}个工作日"
                      f" {c['warning_runs']} 次",
                      f"每次 {_num(warn.points)}", c["warning_runs"] * warn.points))
    early = config.early_completion
    if c["with_deadline"]:
        rate = _pct(c["early"], c["with_deadline"])
        steps = math.floor(rate / early.step_percentage_points + 1e-9)
        points = min(steps * early.points_per_step, early.max_points)
        shown = f"提前办结 {c['early']} / 办结 {c['with_deadline']} = {rate:.1f}%"
    else:
        points, shown = 0.0, "本月无有时限的办结件"
    lines.append(Line("early_completion", "提前办结率", shown,
                      f"每{early.step_percentage_points:g}个百分点 {_num(early.points_per_step)}，"
                      f"最多 {_num(early.max_points)}", points))
    rep = config.reporting
    if c["concluded"]:
        rate = _pct(c["complete"], c["concluded"])
        missing = math.floor(100.0 - rate + 1e-9)
        points = max(missing * rep.points_per_missing_point, -rep.max_deduction)
        shown = (f"环节完整 {c['complete']} / 办结 {c['concluded']} = {rate:.1f}%，"
                 f"缺 {missing} 个百分点")
    else:
        points, shown = 0.0, "本月无办结件"
    lines.append(Line("reporting", "数据报送完整率", shown,
                      f"每缺1个百分点 {_num(rep.points_per_missing_point)}，"
                      f"最多扣 {rep.max_deduction:g}", points))
    sat = config.satisfaction
    if c["counted"] >= sat.min_ratings:
        rate = _pct(c["satisfied"], c["counted"])
        raw = (rate - sat.target_percent) * sat.points_per_percentage_point
        points = round(min(max(raw, sat.min_points), sat.max_points), 2)
        shown = (f"满意 {c['satisfied']} / 有效评价 {c['counted']} = {rate:.1f}%"
                 f"（已剔除无效评价 {c['invalid']} 条）")
    else:
        points = 0.0
        shown = f"有效评价 {c['counted']} 条，不足 {sat.min_ratings} 条"
    lines.append(Line("satisfaction", "满意度", shown,
                      f"(满意率 − {sat.target_percent:g}) × {sat.points_per_percentage_point:g}，"
                      f"介于 {sat.min_points:g} 与 {_num(sat.max_points)}", points))
    return lines


def consecutive_runs(days: list[str], calendar, run: int) -> int:
    """Complete runs of ``run`` consecutive working days among ``days`` (ISO dates)."""
    ordered = sorted({dt.date.fromisoformat(day) for day in days})
    total, length, previous = 0, 0, None
    for day in ordered:
        try:
            follows = previous is not None and calendar.add_workdays(previous, 1) == day
        except CalendarUnknownYear as exc:
            raise ScoringError(f"工作日历缺少{exc.year}年数据，无法判断连续预警") from None
        length = length + 1 if follows else 1
        if length == run:
            total += 1
            length = 0
        previous = day
    return total


def _empty_counts() -> dict[str, Any]:
    return {"yellow_cards": 0, "red_cards": 0, "warning_days_list": [], "warning_days": 0,
            "warning_runs": 0, "concluded": 0, "complete": 0, "with_deadline": 0, "early": 0,
            "counted": 0, "satisfied": 0, "invalid": 0}


def _mask(stages: list[str]) -> int:
    return sum(1 << (STAGE_RANK[name] - 1) for name in set(stages))


def month_counts(data: HubData, config: ScoringConfig,
                 month: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (district, dept_code): the month's cards, warnings, conclusions and ratings."""
    first, last = (day.isoformat() for day in month_bounds(month))
    units: dict[tuple[str, str], dict[str, Any]] = {}

    def unit(district: str, dept: str | None) -> dict[str, Any]:
        return units.setdefault((district, dept or ""), _empty_counts())

    for item in data.catalogue.values():
        if item.dept_code[:6] in DISTRICTS:
            unit(item.dept_code[:6], item.dept_code)
    for row in data.query("select district_code, dept_code, kind, count(*) as n from hub_notices"
                          " where issued_on between ? and ? group by 1, 2, 3", (first, last)):
        key = {YELLOW_CARD_NOTICE: "yellow_cards", RED_CARD_NOTICE: "red_cards"}.get(row["kind"])
        if key:
            unit(row["district_code"], row["dept_code"])[key] += row["n"]
    for row in data.query("select distinct district_code, dept_code, opened_on from hub_alerts"
                          " where opened_on between ? and ? and level = 'yellow'"
                          " and case_no is not null", (first, last)):
        unit(row["district_code"], row["dept_code"])["warning_days_list"].append(row["opened_on"])
    rep = config.reporting
    immediate = list(rep.immediate_case_types) or [""]
    normal, quick = _mask(rep.required_stages), _mask(rep.immediate_required_stages)
    for row in data.query(
            "select district_code, dept_code, count(*) as concluded, sum(case when case_type in"
            f" ({', '.join('?' * len(immediate))}) then (stages_mask & ?) = ?"
            " else (stages_mask & ?) = ? end and (anomalies = 0 or not ?)) as complete,"
            " sum(outcome is not null) as with_deadline, sum(outcome = 'early') as early"
            " from hub_cases where finished_on between ? and ? and terminal in ('办结', '不予许可')"
            " group by 1, 2",
            (*immediate, quick, quick, normal, normal, int(rep.anomalies_incomplete), first, last)):
        counts = unit(row["district_code"], row["dept_code"])
        for key in ("concluded", "complete", "with_deadline", "early"):
            counts[key] += row[key] or 0
    for row in data.query("select district_code, dept_code, sum(counted) as counted,"
                          " sum(satisfied) as satisfied, sum(invalid) as invalid"
                          " from hub_rating_daily where day between ? and ? and dept_code != ''"
                          " group by 1, 2", (first, last)):
        counts = unit(row["district_code"], row["dept_code"])
        for key in ("counted", "satisfied", "invalid"):
            counts[key] += row[key] or 0
    return units


def compute_month(data: HubData, config: ScoringConfig, month: str) -> list[UnitScore]:
    """Every department's and every district's score for ``month``, ranked.

    A district's score is the mean of its departments' scores, line by line, so that a
    district with more departments is not punished for its size.
    """
    units = month_counts(data, config, month)
    names = data.dept_code_names()
    results: list[UnitScore] = []
    run = config.warnings.run_working_days
    for (district, dept), counts in sorted(units.items()):
        counts["warning_days"] = len(set(counts["warning_days_list"]))
        counts["warning_runs"] = consecutive_runs(counts["warning_days_list"], data.calendar, run)
        name = f"{DISTRICTS.get(district, district)}{names.get(dept, dept)}"
        results.append(_scored("dept", district, dept, dept_suffix(dept, district), name, config,
                               counts))
    for district, district_name in DISTRICTS.items():
        members = [unit for unit in results if unit.kind == "dept"
                   and unit.district_code == district]
        if members:
            results.append(_district_mean(district, district_name, members))
    for kind in ("dept", "district"):
        _rank([unit for unit in results if unit.kind == kind])
    return results


def _district_mean(district: str, name: str, members: list[UnitScore]) -> UnitScore:
    count = len(members)
    lines = []
    for index, first in enumerate(members[0].lines):
        points = round(sum(unit.lines[index].points for unit in members) / count, 2) + 0.0
        lines.append(Line(first.key, first.label, f"{count} 个部门该项得分的平均值",
                          "各部门得分的平均", points))
    totals = {key: sum(unit.inputs.get(key, 0) for unit in members)
              for key in members[0].inputs if isinstance(members[0].inputs[key], int)}
    total = round(sum(unit.total for unit in members) / count, 2)
    return UnitScore("district", district, "", None, name, total, 0, lines,
                     {**totals, "departments": count})


def _scored(kind: str, district: str, dept: str, suffix: str | None, name: str,
            config: ScoringConfig, counts: dict[str, Any]) -> UnitScore:
    lines = score_lines(config, counts)
    for line in lines:
        line.points = _points(line.points)
    inputs = {key: value for key, value in counts.items() if key != "warning_days_list"}
    return UnitScore(kind, district, dept, suffix, name,
                     round(sum(line.points for line in lines), 2), 0, lines, inputs)


def _rank(units: list[UnitScore]) -> None:
    """Competition ranking (1, 2, 2, 4) by score, highest first."""
    ordered = sorted(units, key=lambda unit: -unit.total)
    for index, unit in enumerate(ordered):
        if index and unit.total == ordered[index - 1].total:
            unit.rank = ordered[index - 1].rank
        else:
            unit.rank = index + 1
