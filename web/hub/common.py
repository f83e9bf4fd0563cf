"""What the hub's blueprints share: the dashboard, the signed-in user's scope, query args."""

from __future__ import annotations

from flask import abort, current_app, g, request

from hub.services import HUB_ROLES, HubData, Scope
from hub.units import BadMonth, parse_month

READERS = tuple(HUB_ROLES)
CITY = ("city",)


def dashboard():
    return current_app.extensions["dashboard"]


def data() -> HubData:
    return dashboard().data


def scope() -> Scope:
    """The user's scope; a user whose scope is missing or invalid sees nothing (403)."""
    value = g.get("scope")
    if value is None:
        abort(403)
    return value


def month_arg(name: str = "month", default: str | None = None) -> str:
    text = request.args.get(name) or request.form.get(name)
    if not text:
        return default or data().month()
    try:
        return parse_month(text)
    except BadMonth:
        abort(400)


def page_arg() -> int:
    text = request.args.get("page", "1")
    return int(text) if text.isdigit() and int(text) > 0 else 1


def user_name() -> str:
    user = g.get("user")
    return f"{user.display_name}（{user.username}）" if user else "?"
