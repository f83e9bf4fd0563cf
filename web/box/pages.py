"""The hall manager's pages on the box: sign-in, layout and one blueprint a concern.

``install(app, box)`` is called by ``create_app``: it needs the box's store open (the users
table lives in the box database). Roles (``web/userstore.py``):

| page | manager 大厅管理员 | supervisor 区监察室 | auditor 只读审计 | technician 技术员 |
|---|---|---|---|---|
| 实时看板 ``/``, 办件 ``/cases``, 导出, 预警 ``/alerts`` | ✓ | ✓ | ✓ | – |
| 预警操作: 签收、说明理由 | ✓ | – | – | – |
| 预警操作: 办结、上报 | – | ✓ | – | – |
| 设备状态 ``/health`` | ✓ | ✓ | ✓ | ✓ |
| 接入异常记录 ``/health/quarantine`` | – | – | – | ✓ |
| 用户管理 ``/users`` | administrators (``is_admin``) of any role | | | |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, jsonify, render_template, request

from web.auth import AuthSettings, UserStore, init_auth
from web.layout import install_layout

if TYPE_CHECKING:
    from edge.app import Box

READERS = ("manager", "supervisor", "auditor")
TECHNICIANS = ("technician",)
NAV = [("board.index", "实时看板"), ("cases.index", "办件监察"), ("alerts.index", "预警纠错"),
       ("health.index", "设备状态"), ("health.quarantine", "接入异常"),
       ("users.index", "用户管理")]


def install(app: Flask, box: Box) -> None:
    """Sign-in, layout and the pages, on the box's app."""
    from web import users
    from web.box import alerts, board, cases, exports, health

    config = box.config
    settings = AuthSettings(session_hours=config.web.session_hours,
                            idle_minutes=config.web.idle_minutes, home="/",
                            homes={"technician": "/health"},
                            clock=lambda: box.clock().timestamp())
    init_auth(app, UserStore(box.store), secret_file=config.path(config.data_dir) / "web.secret",
              settings=settings)
    hall_name = f"{config.district_name}行政服务中心" if config.district_name else config.box_id
    install_layout(app, site_name=hall_name, site_sub="政务服务电子监察系统 · 大厅管理",
                   nav=NAV, footer=f"监察盒子 {config.box_id}")
    app.jinja_env.globals.update(STATE_NAMES=alerts.STATE_NAMES)
    for module in (board, cases, exports, alerts, health, users):
        app.register_blueprint(module.bp)
    app.register_error_handler(404, _not_found)


def _not_found(_exc):
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return jsonify({"error": "没有这个地址 (not found)"}), 404
    return render_template("error.html", code=404, title="页面不存在",
                           message="没有找到您要访问的页面或记录。"), 404
