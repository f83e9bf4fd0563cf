"""The hub's web application: the supervisors' dashboard (sign-in) and the public portal.

``create_app(dashboard)`` builds one Flask app; the dashboard's pages need a hub role
(``city``, ``district``, ``department``, hub/services/__init__.py), and every query they make
goes through the scoped query layer. The portal (``/portal/``) is its own blueprint: no
sign-in, read-only except the complaint form, rate-limited per address.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, Flask, g, jsonify, render_template, request

from hub.services import HUB_ROLES, NotFound
from web.auth import AuthSettings, first_login_announcer, init_auth
from web.layout import install_layout

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
NAV = [("overview.index", "全市总览"), ("cases.index", "办件监察"),
       ("supervision.index", "督办与红黄牌"), ("supervision.forwarded", "上报件"),
       ("halls.index", "现场与设备"), ("scores.index", "绩效评估"), ("reports.index", "报告"),
       ("complaints.index", "投诉建言"),
       ("users.index", "用户管理")]
hub_assets = Blueprint("hub_assets", __name__, static_folder=str(Path(__file__).parent / "static"),
                       static_url_path="/hub-static")


def create_app(dashboard, test_config: dict | None = None,
               announce: Callable[[str, str], None] | None = None) -> Flask:
    """Application factory: views reach the hub through ``app.extensions["dashboard"]``.

    ``announce(username, password)`` tells the first administrator's password; by default on
    a terminal only (``web.auth.first_login_announcer``), never into a log.
    """
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json.ensure_ascii = False
    if test_config:
        app.config.update(test_config)
    app.extensions["dashboard"] = dashboard
    config = dashboard.config
    users = dashboard.users.setup()
    clock = dashboard.data.clock
    settings = AuthSettings(session_hours=config.web.session_hours,
                            idle_minutes=config.web.idle_minutes, home="/",
                            clock=lambda: clock().timestamp(),
                            secure_cookies=config.web.secure_cookies,
                            reset_command=("hallwatch hub user reset --name admin --config "
                                           f"{config.path('hub.toml')}"))
    first = users.ensure_first_admin()  # a city administrator, with its scope
    if first:
        (announce or first_login_announcer(settings.reset_command))(*first)
    init_auth(app, users.users, secret_file=config.path(config.data_dir) / "hub-web.secret",
              settings=settings, announce=announce)
    install_layout(app, site_name=f"{config.city_name}电子监察中心",
                   site_sub="一市五区 · 行政审批电子监察", nav=NAV, footer="市级监察中心")
    app.register_blueprint(hub_assets)
    app.before_request(_load_scope)
    app.context_processor(lambda: {"who_note": _scope_note()})
    app.jinja_env.globals.update(HUB_ROLES=HUB_ROLES, public_link=("portal.home", "公众门户"),
                                 extra_styles=[("hub_assets.static", "hub.css")])
    from web import users as user_pages
    from web.hub import (api, cases, complaints, filters, halls, notices, overview, reports,
                        scores, supervision)
    from web.hub.users import hub_user_admin

    filters.install(app)
    user_pages.configure(app, hub_user_admin(dashboard))
    for module in (overview, cases, supervision, notices, halls, scores, reports, complaints,
                   api, user_pages):
        app.register_blueprint(module.bp)
    if config.web.serve_portal:
        from web.portal import install_portal

        install_portal(app, dashboard)
    else:
        app.jinja_env.globals["public_link"] = None
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(404, _not_found)
    return app


def _load_scope() -> None:
    """``g.scope``: the signed-in user's scope (None: sees nothing, and every page says so)."""
    g.scope = None
    user = g.get("user")
    if user is not None:
        from flask import current_app

        g.scope = current_app.extensions["dashboard"].users.scope_of(user.username)


def _scope_note() -> str:
    """Next to the signed-in user's role: the districts or departments it supervises."""
    scope = g.get("scope")
    return scope.describe() if scope is not None and not scope.is_city else ""


def _not_found(_exc):
    if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": "没有这个地址或记录 (not found)"}), 404
    from flask import current_app

    portal = request.path.startswith("/portal") and "portal" in current_app.blueprints
    template = "portal_error.html" if portal else "error.html"
    return render_template(template, code=404, title="页面不存在",
                           message="没有找到您要访问的页面或记录，或该记录不在您的监察范围内。"), 404
