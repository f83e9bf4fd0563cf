"""Small charts rendered on the server as inline SVG: no chart library, nothing from a CDN.

Each function returns ``Markup`` to drop into a template. Text is escaped; sizes are in SVG
user units and the SVG scales to its container's width. The pieces they share are in
``web/svg.py``; the presence timeline, a chart on a time axis, is ``web/timeline.py``.

Example::

    >>> svg = stacked_bars([("市场监督管理局", {"green": 3, "red": 1})], LIGHT_SERIES)
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from web.svg import clip_label, svg_legend, svg_open

LIGHT_SERIES: list[tuple[str, str, str]] = [
    ("red", "红灯", "#c62828"), ("unknown", "无法判断", "#757575"),
    ("yellow", "黄灯", "#f2a900"), ("green", "绿灯", "#2e7d32"),
]


def stacked_bars(rows: Sequence[tuple[str, Mapping[str, int]]],
                 series: Sequence[tuple[str, str, str]], *, width: int = 640,
                 bar: int = 18, gap: int = 10, label_width: int = 150,
                 title: str = "") -> Markup:
    """Horizontal bars, one per row, split by ``series`` (key, label, colour)."""
    if not rows:
        return Markup('<p class="muted">暂无数据</p>')
    biggest = max(sum(values.get(k, 0) for k, _, _ in series) for _, values in rows) or 1
    plot = width - label_width - 60
    legend = 24
    height = legend + len(rows) * (bar + gap)
    parts = [svg_open(width, height, title)]
    x = label_width
    for key, label, colour in series:
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="15" class="chart-legend">{escape(label)}</text>')
        x += 24 + 14 * len(label)
    for index, (name, values) in enumerate(rows):
        y = legend + index * (bar + gap)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar - 4}" text-anchor="end"'
                     f' class="chart-label">{escape(clip_label(name, 10))}</text>')
        x = float(label_width)
        total = 0
        for key, label, colour in series:
            count = values.get(key, 0)
            if count:
                w = plot * count / biggest
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar}"'
                             f' fill="{colour}"><title>{escape(name)} {escape(label)} '
                             f'{count}</title></rect>')
                x += w
                total += count
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar - 4}" class="chart-value">{total}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def donut(parts: Sequence[tuple[str, int, str]], *, size: int = 160, title: str = "",
          centre: str = "") -> Markup:
    """A ring split into ``parts`` (label, value, colour), with ``centre`` text inside."""
    total = sum(value for _, value, _ in parts)
    radius, stroke = size / 2 - 12, 22
    c = size / 2
    circumference = 2 * math.pi * radius
    out = [svg_open(size, size, title, fixed=True),
           f'<circle cx="{c}" cy="{c}" r="{radius:.1f}" fill="none" stroke="#e6e9ef"'
           f' stroke-width="{stroke}"/>']
    offset = 0.0
    for label, value, colour in parts:
        if not value or not total:
            continue
        length = circumference * value / total
        out.append(f'<circle cx="{c}" cy="{c}" r="{radius:.1f}" fill="none" stroke="{colour}"'
                   f' stroke-width="{stroke}" stroke-dasharray="{length:.2f} '
                   f'{circumference - length:.2f}" stroke-dashoffset="{-offset:.2f}"'
                   f' transform="rotate(-90 {c} {c})"><title>{escape(label)} {value}</title>'
                   f'</circle>')
        offset += length
    out.append(f'<text x="{c}" y="{c + 8}" text-anchor="middle" class="chart-centre">'
               f'{escape(centre)}</text></svg>')
    return Markup("".join(out))


def stage_track(stages: Sequence[str], reached: Mapping[str, str], current: str | None,
                *, width: int = 720, title: str = "办理环节") -> Markup:
    """The main stages as a track: reached ones filled, with the day each started."""
    step = (width - 80) / max(len(stages) - 1, 1)
    height = 86
    out = [svg_open(width, height, title, css="track"),
           f'<line x1="40" y1="30" x2="{width - 40}" y2="30" stroke="#c8ced8" stroke-width="4"/>']
    for index, name in enumerate(stages):
        x = 40 + index * step
        day = reached.get(name)
        fill = "#1f4e8c" if day else "#ffffff"
        ring = "#c62828" if name == current else ("#1f4e8c" if day else "#9aa3b2")
        out.append(f'<circle cx="{x:.1f}" cy="30" r="11" fill="{fill}" stroke="{ring}"'
                   f' stroke-width="3"/>'
                   f'<text x="{x:.1f}" y="62" text-anchor="middle" class="chart-label">'
                   f'{escape(name)}</text>')
        if day:
            out.append(f'<text x="{x:.1f}" y="80" text-anchor="middle" class="chart-small">'
                       f'{escape(_short_day(day))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def meter(value: float, limit: float, *, width: int = 320, label: str = "") -> Markup:
    """A horizontal fill bar (e.g. disk use against a quota); red above 80 %."""
    share = 0.0 if limit <= 0 else min(max(value / limit, 0.0), 1.0)
    colour = "#c62828" if share > 0.8 else "#1f4e8c"
    return Markup(
        f'{svg_open(width, 26, label)}<rect x="0" y="4" width="{width}" height="14" rx="7"'
        f' fill="#e6e9ef"/><rect x="0" y="4" width="{width * share:.1f}" height="14" rx="7"'
        f' fill="{colour}"/></svg>')


def _short_day(day: str) -> str:
    try:
        return dt.date.fromisoformat(day[:10]).strftime("%m-%d")
    except ValueError:
        return day


LINE_COLOUR = "#222222"


def stacked_columns(columns: Sequence[tuple[str, Mapping[str, int]]],
                    series: Sequence[tuple[str, str, str]], *,
                    line: Sequence[int] | None = None, line_label: str = "",
                    width: int = 720, plot_height: int = 180, title: str = "") -> Markup:
    """Vertical columns (label, counts) stacked by ``series`` (key, label, colour), with a
    legend, a y axis and x labels; ``line`` adds one value per column, drawn as a line.

    Example::

        >>> svg = stacked_columns([("11-30", {"green": 3}), ("12-01", {"red": 1})],
        ...                       LIGHT_SERIES, line=[0, 2], line_label="当日办结")
        >>> svg.count('class="chart-column"')
        2
    """
    totals = [sum(counts.get(key, 0) for key, _, _ in series) for _, counts in columns]
    line = list(line or [])
    if not any(totals) and not any(line):
        return _no_data()
    left, right = 44, width - 20  # room for the last x label
    entries = [(label, colour) for _, label, colour in series]
    entries += [(line_label, LINE_COLOUR)] if line else []
    top = 24  # one row of legend
    step = _nice_step(max(totals + line))
    highest = step * math.ceil(max(totals + line) / step)
    scale = plot_height / highest
    base = top + 8 + plot_height
    parts = [svg_open(width, base + 22, title), svg_legend(entries, left, 16),
             _y_axis(range(0, highest + 1, step), scale, base, left, right)]
    slot = (right - left) / len(columns)
    every = max(1, math.ceil(len(columns) * 40 / (right - left)))  # x labels 40 units apart
    bar = min(slot * 0.72, 48)
    for index, (name, counts) in enumerate(columns):
        x = left + index * slot
        parts.append(_column(name, counts, series, (x + (slot - bar) / 2, bar), base, scale))
        if (len(columns) - 1 - index) % every == 0:  # the last column (today) always
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{base + 16}" text-anchor="middle"'
                         f' class="chart-small">{escape(name)}</text>')
    if line:
        parts.append(_line([name for name, _ in columns], line, line_label,
                           (left, slot), base, scale))
    parts.append("</svg>")
    return Markup("".join(parts))


def percent_bars(rows: Sequence[tuple[str, float | None, str]], *, width: int = 640,
                 bar: int = 18, gap: int = 10, label_width: int = 150,
                 title: str = "") -> Markup:
    """Horizontal bars of a share from 0 to 1 (label, share or None, note), each followed by
    its percentage and the note.

    Example::

        >>> svg = percent_bars([("市场监督管理局", 0.75, "计入 4 条"), ("民政局", None, "计入 0 条")])
        >>> "75.0%（计入 4 条）" in svg and "—（计入 0 条）" in svg
        True
    """
    if not rows:
        return _no_data()
    plot = width - label_width - 150
    parts = [svg_open(width, len(rows) * (bar + gap) + gap, title)]
    for index, (name, share, note) in enumerate(rows):
        y = gap + index * (bar + gap)
        value = "—" if share is None else f"{share:.1%}"
        parts.append(f'<text x="{label_width - 8}" y="{y + bar - 4}" text-anchor="end"'
                     f' class="chart-label">{escape(clip_label(name, 10))}</text>'
                     f'<rect x="{label_width}" y="{y}" width="{plot}" height="{bar}"'
                     f' fill="#e6e9ef"/>')
        if share:
            parts.append(f'<rect x="{label_width}" y="{y}" width="{plot * share:.1f}"'
                         f' height="{bar}" fill="#1f4e8c" class="chart-share"><title>'
                         f'{escape(name)} {value}</title></rect>')
        parts.append(f'<text x="{label_width + plot + 6}" y="{y + bar - 4}"'
                     f' class="chart-value">{value}（{escape(note)}）</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_grid(rows: Sequence[tuple[str, Sequence[float | None]]], columns: Sequence[str], *,
              width: int = 640, cell_height: int = 26, label_width: int = 90,
              title: str = "") -> Markup:
    """Rows (label, one value per column, None for no data) as shaded cells: the larger the
    value, the darker the red; each cell shows its value rounded.

    Example::

        >>> svg = heat_grid([("1号窗口", [0, 12.4]), ("2号窗口", [None, 3])], ["11-30", "12-01"])
        >>> svg.count('class="chart-cell"'), ">12<" in svg
        (4, True)
    """
    if not rows or not columns:
        return _no_data()
    biggest = max((value for _, values in rows for value in values if value), default=1)
    cell = (width - label_width) / len(columns)
    parts = [svg_open(width, 22 + len(rows) * cell_height, title)]
    for index, name in enumerate(columns):
        parts.append(f'<text x="{label_width + (index + 0.5) * cell:.1f}" y="15"'
                     f' text-anchor="middle" class="chart-small">{escape(name)}</text>')
    for row, (name, values) in enumerate(rows):
        y = 22 + row * cell_height
        parts.append(f'<text x="{label_width - 8}" y="{y + cell_height - 8}" text-anchor="end"'
                     f' class="chart-label">{escape(clip_label(name, 7))}</text>')
        for index, value in enumerate(values):
            share = (value or 0) / biggest
            text = "—" if value is None else f"{value:.0f}"
            x = label_width + index * cell
            parts.append(f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell - 2:.1f}"'
                         f' height="{cell_height - 2}" fill="{_shade(share)}" class="chart-cell">'
                         f'<title>{escape(name)} {escape(columns[index])} {text}</title></rect>'
                         f'<text x="{x + cell / 2:.1f}" y="{y + cell_height - 8}"'
                         f' text-anchor="middle" class="chart-cell-text'
                         f'{" dark" if share > 0.5 else ""}">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _no_data() -> Markup:
    return Markup('<p class="muted">暂无数据</p>')


def _nice_step(biggest: float, ticks: int = 4) -> int:
    """A whole step, 1, 2 or 5 times a power of ten, that covers ``biggest`` in ``ticks``."""
    raw = max(biggest, 1) / ticks
    power = 10 ** max(0, math.floor(math.log10(raw)))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _y_axis(values: range, scale: float, base: float, left: float, right: float) -> str:
    """A grid line with its label at each of ``values``."""
    return "".join(f'<line x1="{left}" y1="{base - v * scale:.1f}" x2="{right}"'
                   f' y2="{base - v * scale:.1f}" stroke="#e6e9ef"/>'
                   f'<text x="{left - 6}" y="{base - v * scale + 4:.1f}" text-anchor="end"'
                   f' class="chart-small">{v}</text>' for v in values)


def _column(name: str, counts: Mapping[str, int], series: Sequence[tuple[str, str, str]],
            span: tuple[float, float], base: float, scale: float) -> str:
    """One column (x, width in ``span``) stacked from ``base`` upwards in series order."""
    x, width = span
    parts, y = ['<g class="chart-column">'], base
    for key, label, colour in series:
        count = counts.get(key, 0)
        if count:
            y -= count * scale
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}"'
                         f' height="{count * scale:.1f}" fill="{colour}"><title>{escape(name)}'
                         f' {escape(label)} {count}</title></rect>')
    parts.append("</g>")
    return "".join(parts)


def _line(names: Sequence[str], values: Sequence[int], label: str, grid: tuple[float, float],
          base: float, scale: float) -> str:
    """``values`` as a line with a dot at each column's centre (left, slot width in ``grid``)."""
    left, slot = grid
    points = [(left + (i + 0.5) * slot, base - v * scale) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    radius = min(2.5, slot / 4)  # small dots when the columns are narrow
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="{LINE_COLOUR}">'
                   f'<title>{escape(name)} {escape(label)} {value}</title></circle>'
                   for (x, y), name, value in zip(points, names, values))
    return (f'<g class="chart-line"><polyline points="{path}" fill="none"'
            f' stroke="{LINE_COLOUR}" stroke-width="1.5"/>{dots}</g>')


def _shade(share: float) -> str:
    """From a pale grey (0) to the red light's colour (1)."""
    pale, red = (0xF3, 0xF5, 0xF8), (0xC6, 0x28, 0x28)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(pale, red))
