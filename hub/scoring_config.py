"""The score formula (``firmware_cfg/scoring.toml``): validated, versioned, described in Chinese.

Every indicator is a rate over the unit's own month of work and has the same shape::

    points = weight + direction × (value − target) × per_point,  clamped to [floor, cap]

``direction`` is +1 where more is better (按时办结率, 满意度, 数据报送完整率, 提前办结率) and −1
where less is better (超期办结, cards, warnings and 属实投诉 per 100 cases, 督办逾期反馈率). A
unit with nothing to measure for an indicator gets ``no_data_points`` (default: the weight).
The base indicators' weights add up to ``total.max``; bonus indicators (提前办结率) add at most
``total.bonus_max`` on top.

A published month stores the file's text and keeps it: :func:`parse_scoring` reads it back for
that month's formula page. :func:`formula_rows` is what the formula pages show.

Example::

    config, text = load_scoring(None)            # the shipped firmware_cfg/scoring.toml
    config.indicator("on_time").weight           # 30.0
    formula_rows(config)[0]["label"]             # '按时办结率'
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from standard.configfile import ConfigError, describe_errors

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "firmware_cfg" / "scoring.toml"
StageName = Literal["申请", "受理", "承办", "审核", "批准", "办结"]
GRADE_NAMES = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")  # levels 5 … 1


@dataclass(frozen=True)
class Measure:
    """What an indicator measures (fixed in code; its numbers are in the file)."""

    label: str
    definition: str  # 口径, shown on the formula page
    unit: str  # "%", "件/百件" or "分"
    direction: int  # +1: more is better; -1: less is better
    bonus: bool = False


MEASURES: dict[str, Measure] = {
    "on_time": Measure("按时办结率", "本月到期的办件中，在承诺期限内（含提前）办结的比例；"
                       "到期未办结的计为未按时；联办件的协办部门按本部门的办理时限（自分送起至反馈）"
                       "计入本部门", "%", +1),
    "overdue": Measure("超期办结", "本月办结的有时限办件中超期办结的件数，折算为每百件", "件/百件",
                       -1),
    "yellow_cards": Measure("黄牌（限期办理通知书）", "本月发出的黄牌张数，按本月经办件数折算为"
                            "每百件", "件/百件", -1),
    "red_cards": Measure("红牌（整改建议书）", "本月发出的红牌张数（督办期限已过仍未整改），"
                         "按本月经办件数折算为每百件", "件/百件", -1),
    "warnings": Measure("连续预警", "同一办件本月收到规定次数及以上预警（黄灯）的件数，"
                        "按本月经办件数折算为每百件", "件/百件", -1),
    "duban_late": Measure("督办逾期反馈", "本月到期的市级督办中未在期限内反馈的比例", "%", -1),
    "satisfaction": Measure("满意度", "本月有效评价按等级分折算的平均分（满分100）；"
                            "重复、经申诉无效和被追评取代的评价不计", "分", +1),
    "complaints": Measure("属实投诉", "本月经核查属实（含部分属实）的投诉举报件数，"
                          "按本月经办件数折算为每百件", "件/百件", -1),
    "reporting": Measure("数据报送完整率", "本月办结件中按规定报送了各环节数据（且环节顺序"
                         "无异常）的比例；有平台每日对账的，再乘以本机收到的平台记录的比例", "%", +1),
    "early": Measure("提前办结率（加分）", "本月办结的有时限办件中，在承诺期限前办结的比例",
                     "%", +1, bonus=True),
}


class ScoringError(Exception):
    """The scores cannot be computed (a bad formula file, a month the calendar lacks)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Section):
    weight: float = Field(ge=0, le=100)
    target: float = Field(ge=0)
    per_point: float = Field(ge=0, le=100)
    floor: float = 0.0
    cap: float = Field(default=None, validate_default=False)  # default: the weight
    no_data_points: float | None = None  # default: the weight (nothing to deduct)

    @model_validator(mode="before")
    @classmethod
    def _cap_is_the_weight(cls, data):
        if isinstance(data, dict) and "cap" not in data:
            weight = data.get("weight", cls.model_fields["weight"].default)
            if isinstance(weight, int | float):
                data = {**data, "cap": weight}
        return data

    @model_validator(mode="after")
    def _bounds(self) -> Indicator:
        if self.floor > self.cap:
            raise ValueError(f"floor {self.floor:g} is above cap {self.cap:g}")
        return self

    def points(self, value: float, direction: int) -> float:
        raw = self.weight + direction * (value - self.target) * self.per_point
        return min(max(raw, self.floor), self.cap)

    @property
    def empty_points(self) -> float:
        points = self.weight if self.no_data_points is None else self.no_data_points
        return min(max(points, self.floor), self.cap)


def _rule(weight, target, per_point, cap, floor=0.0) -> Indicator:
    return Indicator(weight=weight, target=target, per_point=per_point, cap=cap, floor=floor)


class GradePoints(_Section):
    """Points per rating grade (0–100). A three-key evaluator sends 满意/基本满意/不满意 (4/3/2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    very_satisfied: float = Field(default=100.0, ge=0, le=100, alias="非常满意")
    satisfied: float = Field(default=100.0, ge=0, le=100, alias="满意")
    fair: float = Field(default=80.0, ge=0, le=100, alias="基本满意")
    dissatisfied: float = Field(default=0.0, ge=0, le=100, alias="不满意")
    very_dissatisfied: float = Field(default=0.0, ge=0, le=100, alias="非常不满意")

    def by_level(self) -> dict[int, float]:
        return {5: self.very_satisfied, 4: self.satisfied, 3: self.fair,
                2: self.dissatisfied, 1: self.very_dissatisfied}


class SatisfactionRule(Indicator):
    weight: float = 25.0
    target: float = 100.0
    per_point: float = 0.5
    cap: float = 25.0
    min_ratings: int = Field(default=1, ge=1)
    grade_points: GradePoints = GradePoints()


class WarningsRule(Indicator):
    weight: float = 5.0
    target: float = 0.0
    per_point: float = 2.0
    cap: float = 5.0
    repeats: int = Field(default=3, ge=2, le=30)


class ReportingRule(Indicator):
    weight: float = 5.0
    target: float = 100.0
    per_point: float = 0.5
    cap: float = 5.0
    required_stages: list[StageName] = Field(
        default_factory=lambda: ["受理", "承办", "审核", "批准", "办结"])
    immediate_case_types: list[str] = Field(default_factory=lambda: ["即办件"])
    immediate_required_stages: list[StageName] = Field(default_factory=lambda: ["受理", "办结"])
    anomalies_incomplete: bool = True


class TotalRule(_Section):
    min: float = 0.0
    max: float = Field(default=100.0, gt=0)
    bonus_max: float = Field(default=5.0, ge=0, le=20)
    min_cases: int = Field(default=1, ge=1)  # fewer cases in the month: 无办件, no score


class Grade(_Section):
    name: str = Field(min_length=1, max_length=10)
    min: float


def _default_grades() -> list[Grade]:
    return [Grade(name="优秀", min=95), Grade(name="良好", min=85), Grade(name="合格", min=70),
            Grade(name="不合格", min=0)]


class ScoringConfig(_Section):
    """The formula file; unknown keys are errors, and the weights must add up."""

    version: Literal[2] = 2
    formula: str = Field(default="佛山市电子监察绩效评估办法 2026 第2版", min_length=1,
                         max_length=80)
    total: TotalRule = TotalRule()
    on_time: Indicator = _rule(30, 100, 1.0, 30)
    overdue: Indicator = _rule(10, 0, 1.0, 10)
    yellow_cards: Indicator = _rule(5, 0, 1.0, 5)
    red_cards: Indicator = _rule(10, 0, 5.0, 10)
    warnings: WarningsRule = WarningsRule()
    duban_late: Indicator = _rule(5, 0, 0.05, 5)
    satisfaction: SatisfactionRule = SatisfactionRule()
    complaints: Indicator = _rule(5, 0, 5.0, 5)
    reporting: ReportingRule = ReportingRule()
    early: Indicator = _rule(0, 30, 0.1, 5)
    grades: list[Grade] = Field(default_factory=_default_grades, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _old_format(cls, data):
        if isinstance(data, dict) and data.get("version") == 1:
            raise ValueError("version 1 formula files (base 100 minus raw counts) are no longer "
                             "read; rewrite it as version 2, see docs/hub.md (Performance scores)")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        weights = sum(self.indicator(key).weight for key, m in MEASURES.items() if not m.bonus)
        if abs(weights - self.total.max) > 1e-6:
            raise ValueError(f"the base indicators' weights add up to {weights:g}, not "
                             f"total.max = {self.total.max:g}; adjust a weight")
        if self.total.min >= self.total.max:
            raise ValueError("total.min must be below total.max")
        mins = [grade.min for grade in self.grades]
        if mins != sorted(mins, reverse=True):
            raise ValueError("grades must be listed from the highest band to the lowest")
        return self

    def indicator(self, key: str) -> Indicator:
        return getattr(self, key)

    def grade(self, score: float | None) -> str | None:
        if score is None:
            return None
        for band in self.grades:
            if score >= band.min:
                return band.name
        return self.grades[-1].name


def parse_scoring(text: str, source: object = "scoring.toml") -> ScoringConfig:
    """Validate a formula file's text; :class:`ConfigError` names the key and the fix."""
    try:
        return ScoringConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "\n  ".join(describe_errors(exc))
        raise ConfigError(f"{source}: invalid scoring formula:\n  {problems}") from None


def load_scoring(path: Path | None) -> tuple[ScoringConfig, str]:
    """The formula and its file text; ``None`` reads the built-in firmware_cfg/scoring.toml."""
    source = Path(path) if path else DEFAULT_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        if path is None:  # installed without the firmware_cfg folder: the same defaults
            return ScoringConfig(), ""
        raise ConfigError(f"{source}: cannot read the scoring formula: {exc.strerror}") from None
    return parse_scoring(text, source), text


def digest(text: str) -> str:
    """A short fingerprint of a formula file's text (两版公式是否相同，一眼可辨)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# -- the formula in words (formula pages, explanation lines) ----------------------------------
def _n(value: float) -> str:
    return f"{value:g}"


def rule_text(key: str, rule: Indicator) -> str:
    """The indicator's rule in one Chinese sentence, e.g. for 按时办结率:
    达到100%时得30分，每低1个百分点扣1分；最低0分，最高30分"""
    measure = MEASURES[key]
    per = _n(rule.per_point)
    if measure.unit == "件/百件":
        at, more, less = f"每百件{_n(rule.target)}件", "每百件每多1件", "每百件每少1件"
    elif measure.unit == "%":
        at, more, less = f"{_n(rule.target)}%", "每高1个百分点", "每低1个百分点"
    else:
        at, more, less = f"{_n(rule.target)}分", "每高1分", "每低1分"
    worse, better = (less, more) if measure.direction > 0 else (more, less)
    if measure.bonus:
        text = f"以{at}为起点，{better}加{per}分"
    else:
        lead = "达到" if measure.direction > 0 else "" if measure.unit == "件/百件" else "为"
        text = f"{lead}{at}时得{_n(rule.weight)}分，{worse}扣{per}分"
        if rule.cap > rule.weight:
            text += f"，{better}加{per}分"
    return text + f"；最低{_n(rule.floor)}分，最高{_n(rule.cap)}分"


NO_DATA = {"on_time": "本月无到期办件", "overdue": "本月无办结件", "early": "本月无办结件",
           "reporting": "本月无办结件", "duban_late": "本月无到期督办"}


def no_data_text(key: str, config: ScoringConfig) -> str:
    points = _n(config.indicator(key).empty_points)
    if key == "satisfaction":
        return f"有效评价少于{config.satisfaction.min_ratings}条时得{points}分"
    return f"{NO_DATA.get(key, '无可计算的数据')}时得{points}分"


def formula_rows(config: ScoringConfig) -> list[dict]:
    """One row per indicator for the formula pages: label, 口径, weight, rule, floor, cap."""
    rows = []
    for key, measure in MEASURES.items():
        rule = config.indicator(key)
        definition = measure.definition
        if key == "warnings":
            definition = definition.replace("规定次数", f"{config.warnings.repeats}次")
        rows.append({"key": key, "label": measure.label, "definition": definition,
                     "weight": rule.weight, "bonus": measure.bonus, "unit": measure.unit,
                     "rule": rule_text(key, rule), "no_data": no_data_text(key, config),
                     "floor": rule.floor, "cap": rule.cap})
    return rows


def grade_point_rows(config: ScoringConfig) -> list[tuple[int, str, float]]:
    """(level, grade name, points): the satisfaction grades, 5 (非常满意) to 1."""
    points = config.satisfaction.grade_points.by_level()
    return [(level, name, points[level]) for level, name in zip((5, 4, 3, 2, 1), GRADE_NAMES)]


def describe(config: ScoringConfig) -> dict:
    """What the formula pages render: the rows, the grade points and the config itself."""
    return {"formula": formula_rows(config), "grade_points": grade_point_rows(config),
            "config": config}
