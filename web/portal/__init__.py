"""公众门户: the public portal. No sign-in; read-only except the complaint form; rate-limited.

- ``/portal/``: published ranking, complaints per department (SVG bars), links;
- ``/portal/guide``, ``/portal/guide/<item>``: 办事指南, the 六公开 content of each item;
- ``/portal/scores``, ``/portal/scores/year/<year>``: published monthly scores with their
  lines; quarterly grades;
- ``/portal/rates``: satisfaction and early-completion rates per department;
- ``/portal/complaints/new``, ``/portal/complaints/track``: 投诉举报/电子建言 with an offline
  captcha; the reply by tracking number;
- ``/portal/cases``: a case's stages and times by case number (no personal data).

docs/hub.md has the full list of routes.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request

from web.portal.ratelimit import PortalLimits

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")


LIMITS_FILE = "portal-limits.db"  # in the hub's data folder: counts survive a restart


def install_portal(app: Flask, dashboard) -> None:
    config = dashboard.config
    portal = config.portal
    limits = PortalLimits(config.path(config.data_dir) / LIMITS_FILE,
                          clock=lambda: dashboard.data.clock().timestamp())
    app.extensions["portal_limits"] = {
        "pages": limits.limiter("pages", portal.requests_per_minute, 60.0),
        "forms": limits.limiter("forms", portal.submissions_per_hour, 3600.0)}
    from web.portal import laws, pages  # noqa: F401 - registers the views on bp

    app.register_blueprint(bp)


@bp.before_request
def _rate_limit():
    limits = current_app.extensions["portal_limits"]
    address = request.remote_addr or "?"
    # A new captcha image (看不清？换一张) posts the form back but submits nothing.
    form_post = request.method == "POST" and not request.form.get("refresh")
    if not limits["pages"].allow(address) or (form_post and not limits["forms"].allow(address)):
        message = ("您提交得太频繁了，请一小时后再试。" if form_post else
                   "您的访问过于频繁，请稍后再试。")
        response = current_app.make_response((render_template(
            "portal_error.html", code=429, title="访问过于频繁", message=message), 429))
        response.headers["Retry-After"] = "3600" if form_post else "60"
        return response
    return None
