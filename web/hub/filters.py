"""Jinja filters and globals of the hub's pages."""

from __future__ import annotations

from flask import Flask

from hub import complaints, dubans
from standard.districts import DISTRICTS
from standard.supervision import ACTION_NAMES, CARD_NAMES, liability_name, state_name

# Where each unit sits on the map-like grid of the overview (3 columns x 3 rows): the city
# level (市本级) across the top; 三水 north-west, 高明 south-west, 南海 the tall middle,
# 禅城 north-east, 顺德 south-east.
MAP_AREAS = {"440600": "city", "440607": "sanshui", "440605": "nanhai", "440604": "chancheng",
             "440608": "gaoming", "440606": "shunde"}


def pct(value: float | None, digits: int = 1) -> str:
    """0.934 -> '93.4%'; None -> '—'."""
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed(value: float) -> str:
    return f"{value:+g}" if value else "0"


def _name(names: dict[str, str]):
    """A filter giving a code's Chinese name (the code itself for one this release lacks)."""
    return lambda code: names.get(code or "", code or "—")


def install(app: Flask) -> None:
    app.jinja_env.filters.update(pct=pct, number=number, signed=signed,
                                 district_name=lambda code: DISTRICTS.get(code or "", code or "—"),
                                 alert_state=state_name, liability=liability_name,
                                 alert_action=lambda code: ACTION_NAMES.get(code, code),
                                 card_name=lambda code: CARD_NAMES.get(code or "", ""),
                                 duban_state=_name(dubans.STATE_NAMES),
                                 duban_action=_name(dubans.ACTION_NAMES),
                                 complaint_state=_name(complaints.STATE_NAMES),
                                 complaint_action=_name(complaints.ACTION_NAMES))
    app.jinja_env.globals.update(DISTRICTS=DISTRICTS, MAP_AREAS=MAP_AREAS)
