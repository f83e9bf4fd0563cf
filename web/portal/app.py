"""The public portal as an application of its own, for ``hallwatch hub portal`` (外网).

Only the portal's pages (web/portal/), on their own listener: no sign-in, no dashboard route,
no users database. The complaint form keeps its CSRF token in a signed cookie session (the
portal has no server-side sessions) and its captcha; the rate limits are the portal's own.
The hub/portal.py composition root opens the store with the portal's restricted access.

Example::

    app = create_portal_app(dashboard)      # then waitress, as hub/portal.py does
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, redirect, render_template, request, session, url_for

from web.auth import csrf_token, load_or_create_secret
from web.hub import MAX_BODY_BYTES, filters, hub_assets
from web.layout import install_layout
from web.portal import install_portal

log = logging.getLogger(__name__)
SECRET_FILE = "portal-web.secret"


def create_portal_app(dashboard, test_config: dict | None = None) -> Flask:
    config = dashboard.config
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, SESSION_COOKIE_NAME="hallwatch_portal",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=config.web.secure_cookies)
    app.json.ensure_ascii = False
    if test_config:
        app.config.update(test_config)
    app.secret_key = load_or_create_secret(config.path(config.data_dir) / SECRET_FILE)
    app.extensions["dashboard"] = dashboard
    install_layout(app, site_name=f"{config.city_name}电子监察中心", site_sub="政务服务公众门户",
                   nav=[])
    app.register_blueprint(hub_assets)
    filters.install(app)  # the same filters and names as the dashboard's pages
    app.jinja_env.globals.update(csrf_token=csrf_token, public_link=None)
    app.before_request(_check_csrf)
    install_portal(app, dashboard)
    app.add_url_rule("/", "root", lambda: redirect(url_for("portal.home")))
    app.register_error_handler(404, _not_found)
    return app


def _check_csrf():
    """A form post must carry the token its page was given (the session cookie holds it)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if expected and hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    log.warning("portal CSRF check failed: %s %s", request.method, request.path)
    return render_template("portal_error.html", code=400, title="请求无效",
                           message="页面已过期，请刷新页面后重新提交。"), 400


def _not_found(_exc):
    return render_template("portal_error.html", code=404, title="页面不存在",
                           message="没有找到您要访问的页面或记录。"), 404
