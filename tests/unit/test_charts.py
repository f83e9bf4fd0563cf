"""The server-side SVG charts: where the presence timeline puts its spans, and escaping."""

from __future__ import annotations

import datetime as dt
import doctest
import re

import web.charts
import web.svg
import web.timeline
from edge.presence.service import Span
from web.timeline import timeline

LOCAL = dt.timezone(dt.timedelta(hours=8))
# 08:00-18:00 on a 720-wide chart, 80 for the labels and 20 on the right: 62 units an hour.
START, END = dt.datetime(2026, 11, 2, 8, tzinfo=LOCAL), dt.datetime(2026, 11, 2, 18, tzinfo=LOCAL)


def at(hour: float, tz: dt.tzinfo = LOCAL) -> dt.datetime:
    local = START.replace(hour=0) + dt.timedelta(hours=hour)
    return local.astimezone(tz)


def rects(svg: str, state: str) -> list[tuple[float, float]]:
    """(x, width) of each span drawn in ``state``."""
    return [(float(x), float(w)) for x, w in re.findall(
        rf'<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="\d+" fill="#\w+"'
        rf' data-state="{state}">', svg)]


def test_spans_land_where_their_times_are():
    svg = timeline([("1号窗口", [Span("present", at(8), at(9)),
                                  Span("absent", at(9, dt.UTC), at(10, dt.UTC)),
                                  Span("present", at(10), at(11.5), open=True)])], START, END)
    assert rects(svg, "present") == [(80.0, 62.0), (204.0, 93.0)]
    assert rects(svg, "absent") == [(142.0, 62.0)]  # UTC times, drawn at local 09:00-10:00
    assert "<title>离岗 09:00–10:00</title>" in svg
    assert re.search(r'<rect class="span-open" x="295.0"', svg)  # ends at 11:30, x = 297
    assert "<title>在岗 10:00–至今</title>" in svg
    ticks = re.findall(r'class="chart-small">(\d\d:\d\d)</text>', svg)
    assert ticks == [f"{h:02d}:00" for h in range(8, 19)]


def test_spans_are_clipped_to_the_axis_and_breaks_are_shaded():
    svg = timeline([("1号窗口", [Span("absent", at(7), at(8.5)), Span("absent", at(19), at(20))])],
                   START, END, breaks=[(at(12), at(14))])
    assert rects(svg, "absent") == [(80.0, 31.0)]  # 07:00-08:30 from 08:00; 19:00 not drawn
    assert re.search(r'<rect class="timeline-break" x="328.0" y="\d+" width="124.0"', svg)
    assert 'class="span-open"' not in svg


def test_one_row_a_label_with_grey_under_the_spans():
    svg = timeline([("1号窗口", []), ("2号窗口", [Span("present", at(9), at(10))])], START, END)
    assert re.findall(r'data-row="([^"]+)"', svg) == ["1号窗口", "2号窗口"]
    assert svg.count("<title>无视频</title>") == 2
    assert timeline([], START, END) == '<p class="muted">暂无数据</p>'


def test_a_whole_day_ends_at_24_00():
    midnight = START.replace(hour=0)
    svg = timeline([("1号窗口", [])], midnight, midnight + dt.timedelta(days=1))
    ticks = re.findall(r'class="chart-small">(\d\d:\d\d)</text>', svg)
    assert ticks == [f"{h:02d}:00" for h in range(0, 25, 2)]


def test_text_is_escaped():
    svg = timeline([('<b onclick="x">&窗口', [Span("<script>", at(9), at(10))])], START, END,
                   title="</svg><script>")
    assert "<script>" not in svg and "<b " not in svg and "</svg><" not in svg[:-6]
    assert "&lt;b onclick=&#34;x&#34;&gt;&amp;窗口" in svg
    assert 'data-state="&lt;script&gt;"' in svg


def test_the_examples_in_the_docstrings_hold():
    for module in (web.charts, web.svg, web.timeline):
        assert doctest.testmod(module).failed == 0, module.__name__


# -- stacked_columns, percent_bars, heat_grid (统计图表) ------------------------------------
def _numbers(svg: str, css: str) -> list[str]:
    return re.findall(rf'class="{css}"[^>]*>([^<]*)<', svg)


def test_stacked_columns_stack_each_day_in_series_order_with_axis_and_line():
    from web.charts import LIGHT_SERIES, stacked_columns

    svg = str(stacked_columns([("11-30", {"green": 3, "red": 1}), ("12-01", {"yellow": 2})],
                              LIGHT_SERIES, line=[0, 5], line_label="当日办结", title="每日"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    columns = re.findall(r'<g class="chart-column">(.*?)</g>', svg)
    assert [re.findall(r"<title>(.*?)</title>", c) for c in columns] == [
        ["11-30 红灯 1", "11-30 绿灯 3"], ["12-01 黄灯 2"]]
    # red sits on the baseline and green on top of it, three times as tall
    boxes = re.findall(r'y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', columns[0])
    (red_y, red_h), (green_y, green_h) = [(float(y), float(h)) for y, h in boxes]
    assert green_y + green_h == red_y and green_h == 3 * red_h == 90.0  # the axis ends at 6
    assert _numbers(svg, "chart-small")[:3] == ["0", "2", "4"]  # y axis up to 6, in 2s
    assert "11-30" in _numbers(svg, "chart-small") and "12-01" in _numbers(svg, "chart-small")
    assert "当日办结" in _numbers(svg, "chart-legend")
    assert re.findall(r"<circle[^>]*><title>(.*?)</title>", svg) == ["11-30 当日办结 0",
                                                                    "12-01 当日办结 5"]


def test_stacked_columns_label_every_nth_day_but_always_the_last():
    from web.charts import LIGHT_SERIES, stacked_columns

    names = [f"d{n:02d}" for n in range(90)]
    svg = str(stacked_columns([(name, {"green": 1}) for name in names], LIGHT_SERIES))
    labels = [t for t in _numbers(svg, "chart-small") if t.startswith("d")]
    assert labels[-1] == "d89" and 10 <= len(labels) <= 20
    assert svg.count('class="chart-column"') == 90 and "chart-line" not in svg


def test_stacked_columns_without_any_count_say_no_data():
    from web.charts import LIGHT_SERIES, stacked_columns

    assert "暂无数据" in stacked_columns([("12-01", {})], LIGHT_SERIES, line=[0])
    assert "暂无数据" in stacked_columns([], LIGHT_SERIES)


def test_percent_bars_show_the_share_and_the_note():
    from web.charts import percent_bars

    svg = str(percent_bars([("市场监督管理局", 0.75, "计入 4 条"), ("民政局", 1.0, "计入 1 条"),
                            ("公安局", None, "计入 0 条")], width=640, label_width=150))
    widths = [float(w) for w in re.findall(r'width="([\d.]+)" height="18" fill="#1f4e8c"', svg)]
    assert widths == [0.75 * 340, 340]  # the plot is 640 - 150 - 150 wide
    assert _numbers(svg, "chart-value") == ["75.0%（计入 4 条）", "100.0%（计入 1 条）",
                                            "—（计入 0 条）"]
    assert "暂无数据" in percent_bars([])


def test_heat_grid_shades_by_value_and_escapes_labels():
    from web.charts import heat_grid

    svg = str(heat_grid([("<1号>", [0, 30.0]), ("2号窗口", [None, 14.6])], ["11-30", "12-01"]))
    fills = re.findall(r'fill="(#[0-9a-f]{6})" class="chart-cell"', svg)
    assert fills[0] == fills[2] == "#f3f5f8" and fills[1] == "#c62828"  # none, 0, the most
    assert fills[3] not in (fills[0], fills[1])
    assert re.findall(r'class="chart-cell-text( dark)?">([^<]*)<', svg) == [
        ("", "0"), (" dark", "30"), ("", "—"), ("", "15")]
    assert "&lt;1号&gt;" in svg and "<1号>" not in svg
    assert "暂无数据" in heat_grid([], ["12-01"])
