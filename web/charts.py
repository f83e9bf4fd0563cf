"""Small charts rendered on the server as inline SVG: no chart library, nothing from a CDN.

Each function returns ``Markup`` to drop into a template. Text is escaped; sizes are in SVG
user units and the SVG scales to its container's width.

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
    parts = [_open(width, height, title)]
    x = label_width
    for key, label, colour in series:
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="15" class="chart-legend">{escape(label)}</text>')
        x += 24 + 14 * len(label)
    for index, (name, values) in enumerate(rows):
        y = legend + index * (bar + gap)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar - 4}" text-anchor="end"'
                     f' class="chart-label">{escape(_clip(name, 10))}</text>')
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
    out = [_open(size, size, title, fixed=True),
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
    out = [_open(width, height, title, css="track"),
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
        f'{_open(width, 26, label)}<rect x="0" y="4" width="{width}" height="14" rx="7"'
        f' fill="#e6e9ef"/><rect x="0" y="4" width="{width * share:.1f}" height="14" rx="7"'
        f' fill="{colour}"/></svg>')


def _open(width: float, height: float, title: str, fixed: bool = False, css: str = "") -> str:
    size = f'width="{width}" height="{height}"' if fixed else 'width="100%"'
    label = f'<title>{escape(title)}</title>' if title else ""
    return (f'<svg class="chart {css}" viewBox="0 0 {width} {height}" {size} role="img"'
            f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">{label}')


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _short_day(day: str) -> str:
    try:
        return dt.date.fromisoformat(day[:10]).strftime("%m-%d")
    except ValueError:
        return day
