"""统计图表: cases received each day by light, satisfaction by department, absence by window.

Each chart is inline SVG from ``web/charts.py`` with its numbers in a table underneath. The
figures come from the box's services: the daily series from the hall board's snapshot
(``HallBoard.daily_cases``, computed once per snapshot), ratings from the ratings report,
absence from the cameras (``box.presence``). A missing service shows “未接入”; a failing one
shows that it failed, never an error page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup

from edge.cases import OUTCOME_NAMES
from edge.evaluations import rating_report
from standard.evaluations import BAD_LEVELS, SATISFIED_LEVELS
from web.auth import login_required
from web.box import services
from web.box.roles import READERS
from web.charts import LIGHT_SERIES, heat_grid, percent_bars, stacked_columns

log = logging.getLogger(__name__)
bp = Blueprint("stats", __name__)

PERIODS = (7, 30, 90)
ABSENCE_DAYS = 7
OUTCOME_SERIES = [("early", OUTCOME_NAMES["early"], "#5b9bd5"),
                  ("on_time", OUTCOME_NAMES["on_time"], "#1f4e8c"),
                  ("late", OUTCOME_NAMES["late"], "#7b1fa2"),
                  ("other", "其他办结", "#b8bfcc")]
DAILY_SERIES = LIGHT_SERIES + OUTCOME_SERIES


@dataclass
class ChartSection:
    """One chart of the page with the numbers behind it, or a note saying why there is none."""

    key: str  # the section's HTML id
    title: str
    chart: Markup | None  # None: only ``note`` is shown
    note: str = ""
    head: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Any]]] = field(default_factory=list)  # (row key, cells)


@bp.get("/charts")
@login_required(roles=READERS)
def index():
    asked = request.args.get("days", "30")
    if asked not in {str(n) for n in PERIODS}:
        return render_template("error.html", code=400, title="请求无效",
                               message="统计天数 days 只能是 7、30 或 90，例如 /charts?days=30"), 400
    days, today = int(asked), services.today()
    sections = [
        _guarded("daily", f"每日办件与灯色（近{days}天）", daily_section, days),
        _guarded("satisfaction", f"各部门满意率（{today.year}年{today.month}月）",
                 satisfaction_section, today),
        _guarded("absence", f"各窗口离岗时长（近{ABSENCE_DAYS}天，分钟）", absence_section,
                 today),
    ]
    return render_template("charts.html", days=days, periods=PERIODS, sections=sections)


def _guarded(key: str, title: str, build: Callable[..., ChartSection], *args) -> ChartSection:
    """``build(key, title, *args)``; a section that fails says so instead of failing the page."""
    try:
        return build(key, title, *args)
    except Exception:
        log.exception("chart section %s failed", key)
        return ChartSection(key, title, None, "读取数据失败，请查看盒子日志")


def daily_section(key: str, title: str, days: int) -> ChartSection:
    """Cases received each day, stacked by their light now or how they ended; finished ones."""
    series = services.hall().daily_cases(days)
    chart = stacked_columns([(f"{d.day:%m-%d}", d.received) for d in series], DAILY_SERIES,
                            line=[d.finished for d in series], line_label="当日办结",
                            title=title)
    head = ["日期", "受理", *(label for _, label, _ in DAILY_SERIES), "当日办结"]
    rows = [(d.day.isoformat(), [d.day.isoformat(), sum(d.received.values()),
                                 *(d.received[k] for k, _, _ in DAILY_SERIES), d.finished])
            for d in reversed(series)]
    note = ("柱高为当日受理的办件数：在办的按现在的灯色，已办结的按办结结果（其他办结：无法计算时限）；"
            "黑线为当日办结的件数。")
    return ChartSection(key, title, chart, note, head, rows)


def satisfaction_section(key: str, title: str, today: dt.date) -> ChartSection:
    """Each department's satisfaction rate this month, lowest first."""
    box = services.box()
    if getattr(box, "evaluations", None) is None:
        return ChartSection(key, title, None, "未接入（本机未启用好差评服务）")
    report = rating_report(box.store, since=today.replace(day=1), today=today)
    names = services.hall().departments()
    entries = sorted(report["departments"],
                     key=lambda e: (e["satisfaction"] is None, e["satisfaction"] or 0))
    chart = percent_bars([(names.get(e["key"], e["key"]), e["satisfaction"],
                           f"计入 {e['counted']} 条") for e in entries], title=title)
    head = ["部门", "满意率", "计入评价", "满意（4–5 分）", "差评（1–2 分）"]
    rows = [(e["key"], [names.get(e["key"], e["key"]), _percent(e["satisfaction"]),
                        e["counted"], _levels(e, SATISFIED_LEVELS), _levels(e, BAD_LEVELS)])
            for e in entries]
    return ChartSection(key, title, chart, "按评价时间统计本月评价；重复评价、经申诉无效的评价不计入。",
                        head, rows)


def absence_section(key: str, title: str, today: dt.date) -> ChartSection:
    """Minutes each window was away from post (office hours) on each of the last days."""
    presence = getattr(services.box(), "presence", None)
    if presence is None:
        return ChartSection(key, title, None, "未接入（本机未配置摄像头）")
    days = [today - dt.timedelta(days=n) for n in range(ABSENCE_DAYS - 1, -1, -1)]
    minutes = [presence.absence_minutes(day) for day in days]
    windows = sorted(set().union(*minutes))
    labels = [f"{day:%m-%d}" for day in days]
    chart = heat_grid([(f"{w}号窗口", [m.get(w) for m in minutes]) for w in windows], labels,
                      title=title)
    rows = [(str(w), [f"{w}号窗口", *(_whole(m.get(w)) for m in minutes),
                      _whole(sum(m.get(w) or 0 for m in minutes))]) for w in windows]
    return ChartSection(key, title, chart, "办公时间内离开岗位的分钟数（午休不计）；颜色越深离岗越久。",
                        ["窗口", *labels, "合计"], rows)


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def _levels(entry: dict[str, Any], levels: Iterable[int]) -> int:
    return sum(entry["levels"][str(level)] for level in levels)


def _whole(minutes: float | None) -> str:
    return "—" if minutes is None else f"{minutes:.0f}"
