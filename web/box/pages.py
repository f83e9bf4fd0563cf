"""The hall manager's pages on the box: sign-in, layout and one blueprint a concern.

``install(app, box)`` is called by ``create_app``: it needs the box's store open (the users
table lives in the box database). Which role may open which page and take which action is
listed in docs/box.md (角色 / Roles); each view says it with ``login_required(roles=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, jsonify, render_template, request

from edge.supervision import STATE_NAMES, subject_label
from web.auth import AuthSettings, UserStore, init_auth
from web.layout import install_layout

if TYPE_CHECKING:
    from edge.app import Box

NAV = [("board.index", "实时看板"), ("cases.index", "办件监察"), ("alerts.index", "预警纠错"),
       ("evaluations.index", "好差评"), ("presence.index", "离岗监测"), ("stats.index", "统计图表"),
       ("health.index", "设备状态"), ("health.quarantine", "接入异常"),
       ("users.index", "用户管理")]


def install(app: Flask, box: Box) -> None:
    """Sign-in, layout and the pages, on the box's app."""
    from web import users
    from web.box import alerts, board, cases, evaluations, exports, health, presence, stats

    config = box.config
    settings = AuthSettings(session_hours=config.web.session_hours,
                            idle_minutes=config.web.idle_minutes, home="/",
                            homes={"technician": "/health"},
                            clock=lambda: box.clock().timestamp(),
                            secure_cookies=config.web.secure_cookies,
                            reset_command=("hallwatch edge user reset admin --config "
                                           f"{config.path('box.toml')}"))
    init_auth(app, UserStore(box.store), secret_file=config.path(config.data_dir) / "web.secret",
              settings=settings)
    hall_name = f"{config.district_name}行政服务中心" if config.district_name else config.box_id
    install_layout(app, site_name=hall_name, site_sub="政务服务电子监察系统 · 大厅管理",
                   nav=NAV, footer=f"监察盒子 {config.box_id}")
    app.jinja_env.globals.update(STATE_NAMES=STATE_NAMES)
    app.jinja_env.filters.update(subject=subject_label)
    for module in (board, cases, exports, alerts, evaluations, presence, stats, health,
                   users):
        app.register_blueprint(module.bp)
    app.register_error_handler(404, _not_found)


def _not_found(_exc):
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return jsonify({"error": "没有这个地址 (not found)"}), 404
    return render_template("error.html", code=404, title="页面不存在",
                           message="没有找到您要访问的页面或记录。"), 404
