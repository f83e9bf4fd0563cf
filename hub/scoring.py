"""Monthly performance scores (绩效评估): every indicator a rate over the unit's own work.

For each department of each unit (district, or 市本级) and one month, every indicator of the
formula (hub/scoring_config.py) gives a :class:`Line`: its inputs ("按时办结 412 / 450 件"),
the rate, the rule and the points. The score is::

    score = clamp(sum of the base indicators' points, total.min, total.max)
          + min(sum of the bonus indicators' points, total.bonus_max)

so it stays within 0–100 plus at most 5 bonus points whatever the inputs. Because every
indicator is a rate (per cent, or per 100 cases), a department twice the size with the same
record scores the same. A department with fewer than ``total.min_cases`` cases in the month
has no score (无办件) and is not ranked.

A unit's (district's) score is its departments' scores weighted by their cases, and so is
each of its lines; its inputs are the departments' counts added up.

Example::

    config, text = load_scoring(None)
    scores = compute_month(data, config, "2026-10")
    [(s.name, s.score) for s in scores if s.kind == "district"]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from hub.scoring_config import (DEFAULT_FILE, GRADE_NAMES, MEASURES, ScoringConfig,  # noqa: F401
                                ScoringError, load_scoring, no_data_text, parse_scoring,
                                rule_text)
from hub.scoring_inputs import Counts, month_counts
from hub.services import HubData
from hub.units import dept_suffix, unit_registry


@dataclass
class Line:
    """One indicator of one score: what it counted, the rate, the rule and the points."""

    key: str
    label: str
    inputs: str
    rate: float | None  # per cent, per 100 cases or points (see rate_text); None: no data
    rate_text: str
    rule: str
    points: float
    weight: float
    bonus: bool = False


@dataclass
class UnitScore:
    kind: str  # "dept" | "district"
    district_code: str
    dept_code: str  # "" for a district
    dept_suffix: str | None
    name: str
    cases: int = 0
    score: float | None = None  # None: 无办件
    base: float | None = None
    bonus: float | None = None
    rank: int | None = None
    lines: list[Line] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)  # a district's departments

    @property
    def code(self) -> str:
        return self.dept_code or self.district_code

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lines": [asdict(line) for line in self.lines]}


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _round(value: float) -> float:
    return round(value, 2) + 0.0  # never show -0


def measured(key: str, c: Counts, config: ScoringConfig) -> tuple[float | None, str]:
    """(value, inputs text) of one indicator from a month's counts."""
    if key == "on_time":
        return _pct(c.on_time, c.due), f"按时办结 {c.on_time} / 本月到期 {c.due} 件"
    if key == "overdue":
        return _pct(c.late, c.finished), f"超期办结 {c.late} / 办结 {c.finished} 件"
    if key == "early":
        return _pct(c.early, c.finished), f"提前办结 {c.early} / 办结 {c.finished} 件"
    if key in ("yellow_cards", "red_cards"):
        count = getattr(c, key)
        card = "黄牌" if key == "yellow_cards" else "红牌"
        return _pct(count, c.cases), f"{card} {count} 张 / 经办 {c.cases} 件"
    if key == "warnings":
        return _pct(c.warned_cases, c.cases), (f"预警{config.warnings.repeats}次及以上的办件 "
                                               f"{c.warned_cases} / 经办 {c.cases} 件")
    if key == "duban_late":
        return _pct(c.dubans_late, c.dubans_due), (f"逾期反馈 {c.dubans_late} / 本月到期督办 "
                                                   f"{c.dubans_due} 件")
    if key == "complaints":
        return _pct(c.complaints, c.cases), f"属实投诉 {c.complaints} / 经办 {c.cases} 件"
    if key == "reporting":
        return _reporting(c)
    if key == "satisfaction":
        return _satisfaction(c, config)
    raise KeyError(key)


def _reporting(c: Counts) -> tuple[float | None, str]:
    """Stages reported for concluded cases, times the share of the platform's records the box
    has (the daily reconciliations, edge/integration/reconcile.py), where there are any."""
    stages = _pct(c.complete, c.concluded)
    shown = f"环节完整 {c.complete} / 办结 {c.concluded} 件"
    if not c.platform_records:
        return stages, shown
    received = 100.0 * (c.platform_records - c.missing_records) / c.platform_records
    shown += (f"；平台对账 {c.platform_records} 条，本机缺 {c.missing_records} 条"
              f"（报送 {received:.1f}%）")
    return (received if stages is None else stages * received / 100.0), shown


def _satisfaction(c: Counts, config: ScoringConfig) -> tuple[float | None, str]:
    rule = config.satisfaction
    points = rule.grade_points.by_level()
    total = sum(c.ratings.values())
    grades = " · ".join(f"{name} {c.ratings.get(level, 0)}"
                        for level, name in zip((5, 4, 3, 2, 1), GRADE_NAMES))
    shown = f"{grades}，有效评价 {total} 条"
    if c.invalid_ratings:
        shown += f"（已剔除无效评价 {c.invalid_ratings} 条）"
    if total < rule.min_ratings:
        return None, shown
    return sum(points[level] * n for level, n in c.ratings.items()) / total, shown


def rate_text(key: str, value: float | None) -> str:
    if value is None:
        return "无数据"
    unit = MEASURES[key].unit
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "件/百件":
        return f"每百件 {value:.2f} 件"
    return f"{value:.1f} 分"


def score_lines(config: ScoringConfig, counts: Counts) -> list[Line]:
    """Every indicator's line for one department's month (pure: unit tests call this)."""
    lines = []
    for key, measure in MEASURES.items():
        rule = config.indicator(key)
        value, inputs = measured(key, counts, config)
        if value is None:
            points, text = rule.empty_points, f"{rule_text(key, rule)}；{no_data_text(key, config)}"
        else:
            points, text = rule.points(value, measure.direction), rule_text(key, rule)
        lines.append(Line(key, measure.label, inputs, None if value is None else round(value, 2),
                          rate_text(key, value), text, _round(points), rule.weight,
                          measure.bonus))
    return lines


def totals(config: ScoringConfig, lines: list[Line]) -> tuple[float, float, float]:
    """(base, bonus, score) from the lines, each bounded as the formula says."""
    total = config.total
    base = min(max(sum(line.points for line in lines if not line.bonus), total.min), total.max)
    bonus = min(max(sum(line.points for line in lines if line.bonus), 0.0), total.bonus_max)
    return _round(base), _round(bonus), _round(base + bonus)


def score_department(config: ScoringConfig, counts: Counts, *, district: str, dept: str,
                     name: str) -> UnitScore:
    unit = UnitScore("dept", district, dept, dept_suffix(dept, district), name, counts.cases,
                     inputs=_inputs(counts))
    if counts.cases >= config.total.min_cases:
        unit.lines = score_lines(config, counts)
        unit.base, unit.bonus, unit.score = totals(config, unit.lines)
    return unit


def _inputs(counts: Counts) -> dict[str, Any]:
    values = {name: value for name, value in vars(counts).items() if name != "ratings"}
    values["ratings"] = {str(level): n for level, n in sorted(counts.ratings.items())}
    return values


def compute_month(data: HubData, config: ScoringConfig, month: str) -> list[UnitScore]:
    """Every department's and every unit's score for ``month``, ranked (无办件 unranked)."""
    counts = month_counts(data, config, month)
    names = data.dept_code_names()
    registry = unit_registry()
    results = [score_department(config, c, district=district, dept=dept,
                                name=f"{registry[district]}{names.get(dept, dept)}")
               for (district, dept), c in sorted(counts.items())]
    for code, unit_name in registry.items():
        members = [(unit, counts[(unit.district_code, unit.dept_code)]) for unit in results
                   if unit.kind == "dept" and unit.district_code == code]
        if members:
            results.append(weighted_unit(config, code, unit_name, members))
    for kind in ("dept", "district"):
        rank([unit for unit in results if unit.kind == kind])
    return results


def weighted_unit(config: ScoringConfig, code: str, name: str,
                  members: list[tuple[UnitScore, Counts]]) -> UnitScore:
    """A unit's score: its departments' scores (and lines) weighted by their cases."""
    pooled = Counts()
    for _, counts in members:
        pooled.add(counts)
    unit = UnitScore("district", code, "", None, name, pooled.cases, inputs=_inputs(pooled))
    scored = [dept for dept, _ in members if dept.score is not None]
    weight = sum(dept.cases for dept in scored)
    unit.members = [{"dept_code": dept.dept_code, "name": dept.name, "cases": dept.cases,
                     "score": dept.score,
                     "share": round(100.0 * dept.cases / weight, 1)
                     if dept.score is not None and weight else None}
                    for dept, _ in members]
    if not scored or not weight:
        return unit

    def mean(values) -> float:
        return _round(sum(value * dept.cases for value, dept in zip(values, scored)) / weight)

    for index, line in enumerate(scored[0].lines):
        value, inputs = measured(line.key, pooled, config)
        unit.lines.append(Line(line.key, line.label, f"{inputs}（各部门合计）",
                               None if value is None else round(value, 2),
                               rate_text(line.key, value),
                               f"各部门该项得分按经办件数加权平均（{line.rule}）",
                               mean(dept.lines[index].points for dept in scored),
                               line.weight, line.bonus))
    unit.base = mean(dept.base for dept in scored)
    unit.bonus = mean(dept.bonus for dept in scored)
    unit.score = mean(dept.score for dept in scored)
    return unit


def rank(units: list[UnitScore]) -> None:
    """Competition ranking (1, 2, 2, 4) by score, highest first; 无办件 has no rank."""
    ordered = sorted((unit for unit in units if unit.score is not None),
                     key=lambda unit: -unit.score)
    for index, unit in enumerate(ordered):
        if index and unit.score == ordered[index - 1].score:
            unit.rank = ordered[index - 1].rank
        else:
            unit.rank = index + 1
