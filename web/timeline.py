"""A day on a time axis as inline SVG: one bar per row, a state's colour per stretch of it.

离岗监测 (``web/box/presence.py``) draws each window's presence with it: 在岗 and 离岗 in their
colours, grey where there was no video, lunch shaded. Built from ``web/svg.py``'s pieces, like
the other charts (``web/charts.py``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from markupsafe import Markup, escape

from web.svg import clip_label, svg_legend, svg_open

PRESENCE_STATES: dict[str, tuple[str, str]] = {
    "present": ("在岗", "#2e7d32"), "absent": ("离岗", "#c62828"),
}
NO_DATA = "#d5dae2"
BREAK = "#7d8799"


class TimeSpan(Protocol):
    """A stretch of one state on a row of ``timeline`` (``edge.presence.service.Span`` fits)."""

    @property
    def state(self) -> str: ...

    @property
    def started_at(self) -> dt.datetime: ...

    @property
    def ended_at(self) -> dt.datetime: ...

    @property
    def open(self) -> bool: ...


def timeline(rows: Sequence[tuple[str, Sequence[TimeSpan]]], start: dt.datetime,
             end: dt.datetime, *, breaks: Sequence[tuple[dt.datetime, dt.datetime]] = (),
             states: Mapping[str, tuple[str, str]] = PRESENCE_STATES, width: int = 720,
             bar: int = 20, gap: int = 12, label_width: int = 80,
             title: str = "") -> Markup:
    """One bar per ``(label, spans)`` on a time axis from ``start`` to ``end`` (hour ticks in
    ``start``'s time zone). ``states`` maps a span's state to (label, colour); grey where no
    span is (no data); ``breaks`` are shaded (e.g. lunch); an open span ends in a dark mark.

    >>> from types import SimpleNamespace
    >>> at = lambda hour: dt.datetime(2026, 11, 2, hour, tzinfo=dt.timezone.utc)
    >>> away = SimpleNamespace(state="absent", started_at=at(9), ended_at=at(10), open=True)
    >>> svg = timeline([("2号窗口", [away])], at(8), at(18), breaks=[(at(12), at(14))])
    >>> 'data-state="absent"' in svg and 'class="span-open"' in svg
    True
    """
    if not rows or end <= start:
        return Markup('<p class="muted">暂无数据</p>')
    plot, axis, legend = width - label_width - 20, 22, 26  # 20: room for the last hour's label
    height = axis + len(rows) * (bar + gap) + legend

    def x(at: dt.datetime) -> float:
        share = (min(max(at, start), end) - start) / (end - start)
        return label_width + plot * share

    out = [svg_open(width, height, title, css="timeline"),
           *_hour_ticks(start, end, x, height - legend)]
    for index, (label, spans) in enumerate(rows):
        y = axis + index * (bar + gap)
        out.append(f'<g class="timeline-row" data-row="{escape(label)}">'
                   f'<text x="{label_width - 8}" y="{y + bar - 5}" text-anchor="end"'
                   f' class="chart-label">{escape(clip_label(label, 8))}</text>'
                   f'<rect x="{label_width}" y="{y}" width="{plot}" height="{bar}"'
                   f' fill="{NO_DATA}"><title>无视频</title></rect>')
        out += [_span(span, x, y, bar, states, start.tzinfo) for span in spans
                if span.ended_at > start and span.started_at < end]
        out.append("</g>")
    bottom = axis + len(rows) * (bar + gap) - gap
    for lower, upper in breaks:
        if upper > start and lower < end:
            out.append(f'<rect class="timeline-break" x="{x(lower):.1f}" y="{axis - 4}"'
                       f' width="{x(upper) - x(lower):.1f}" height="{bottom - axis + 8}"'
                       f' fill="{BREAK}" fill-opacity="0.3"><title>午休</title></rect>')
    keys = [*states.values(), ("无视频", NO_DATA), ("午休", BREAK)]
    out.append(svg_legend(keys, label_width, height - 8))
    out.append("</svg>")
    return Markup("".join(out))


def _span(span: TimeSpan, x: Callable[[dt.datetime], float], y: int, bar: int,
          states: Mapping[str, tuple[str, str]], tz: dt.tzinfo | None) -> str:
    name, colour = states.get(span.state, (span.state, NO_DATA))
    left, right = x(span.started_at), x(span.ended_at)
    until = "至今" if span.open else span.ended_at.astimezone(tz).strftime("%H:%M")
    when = f"{span.started_at.astimezone(tz).strftime('%H:%M')}–{until}"
    least = 1 if span.state == "present" else 3  # a short absence stays visible
    shape = (f'<rect x="{left:.1f}" y="{y}" width="{max(right - left, least):.1f}" height="{bar}"'
             f' fill="{colour}" data-state="{escape(span.state)}"><title>{escape(name)} {when}'
             f'</title></rect>')
    if span.open:
        shape += (f'<rect class="span-open" x="{right - 2:.1f}" y="{y - 3}" width="3"'
                  f' height="{bar + 6}" fill="#1f2a3d"><title>{escape(name)}（持续中）</title>'
                  f'</rect>')
    return shape


def _hour_ticks(start: dt.datetime, end: dt.datetime, x: Callable[[dt.datetime], float],
                bottom: float) -> list[str]:
    hours = (end - start).total_seconds() / 3600
    step = dt.timedelta(hours=max(1, math.ceil(hours / 12)))
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    tick = start.replace(minute=0, second=0, microsecond=0)
    if tick < start:
        tick += dt.timedelta(hours=1)
    out = []
    while tick <= end:
        left, hours = x(tick), int((tick - midnight).total_seconds() // 3600)  # the end: 24:00
        out.append(f'<line x1="{left:.1f}" y1="16" x2="{left:.1f}" y2="{bottom}"'
                   f' stroke="#e6e9ef"/><text x="{left:.1f}" y="12" text-anchor="middle"'
                   f' class="chart-small">{hours:02d}:00</text>')
        tick += step
    return out
