"""What every hallwatch web app shares: static assets, the base page's variables, Jinja filters.

Assets are served from ``web/static`` by the app itself (``/assets/...``): the box may be
offline, so nothing comes from a CDN. Fonts are the system's (Noto Sans CJK SC on the box).

Example::

    install_layout(app, site_name="南海区行政服务中心", site_sub="电子监察 · 大厅管理",
                   nav=[("board.index", "实时看板"), ("cases.index", "办件")])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, Flask, request
from markupsafe import Markup, escape

from standard.records import LOCAL_TZ

STATIC = Path(__file__).parent / "static"
assets = Blueprint("assets", __name__, static_folder=str(STATIC), static_url_path="/assets")

LIGHTS = {"green": "绿灯", "yellow": "黄灯", "red": "红灯", "unknown": "无法判断"}


def install_layout(app: Flask, *, site_name: str, site_sub: str,
                   nav: Sequence[tuple[str, str]], footer: str = "") -> None:
    """Register the assets, the filters and the base page's variables on ``app``."""
    app.register_blueprint(assets)
    app.jinja_env.filters.update(local_time=local_time, local_date=local_date, light=light_badge,
                                 bytes=human_bytes)
    app.jinja_env.globals.update(site_name=site_name, site_sub=site_sub, nav_items=list(nav),
                                 site_footer=footer, LIGHTS=LIGHTS, page_url=page_url)

    @app.after_request
    def no_store(response):
        # Pages and exports show personal data and one-time passwords: never cache them.
        if request.endpoint != "assets.static":
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " frame-ancestors 'none'; form-action 'self'")
        return response


def _moment(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(LOCAL_TZ)


def local_time(value: str | dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (UTC or with an offset) in the hall's time (+08:00)."""
    moment = _moment(value)
    return moment.strftime(fmt) if moment else "—"


def local_date(value: str | dt.date | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value[:10]
    return value.isoformat()


def light_badge(light: str | None) -> Markup:
    """A coloured badge with the light's Chinese name."""
    name = LIGHTS.get(light or "", light or "—")
    return Markup(f'<span class="badge light-{escape(light or "none")}">{escape(name)}</span>')


def human_bytes(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def page_url(page: int) -> str:
    """The current URL with ``page`` changed, keeping every filter."""
    args = request.args.to_dict()
    args["page"] = str(page)
    from urllib.parse import urlencode

    return f"{request.path}?{urlencode(args)}"
