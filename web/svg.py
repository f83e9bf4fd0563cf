"""The pieces every server-side SVG chart is made of: the ``<svg>`` element, a legend, labels.

``web/charts.py`` (bars, columns, donuts) and ``web/timeline.py`` (a day on a time axis) build
their charts from these, so that every chart scales and reads alike.

Example::

    >>> svg_open(320, 26, "磁盘").startswith('<svg class="chart "')
    True
    >>> clip_label("市场监督管理局行政审批科", 10)
    '市场监督管理局行政…'
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import escape


def svg_legend(keys: Sequence[tuple[str, str]], left: float, y: float) -> str:
    """One row of (name, colour) keys, starting at ``left`` on the baseline ``y``."""
    out = []
    for name, colour in keys:
        out.append(f'<rect x="{left}" y="{y - 10}" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{left + 16}" y="{y}" class="chart-legend">{escape(name)}</text>')
        left += 24 + 14 * len(name)
    return "".join(out)


def svg_open(width: float, height: float, title: str, fixed: bool = False, css: str = "") -> str:
    """The opening ``<svg>`` tag: as wide as its container unless ``fixed``, titled for readers."""
    size = f'width="{width}" height="{height}"' if fixed else 'width="100%"'
    label = f'<title>{escape(title)}</title>' if title else ""
    return (f'<svg class="chart {css}" viewBox="0 0 {width} {height}" {size} role="img"'
            f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">{label}')


def clip_label(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
