"""The hall manager's pages on the box: sign-in, layout and one blueprint a concern.

``install(app, box)`` is called by ``create_app``: it needs the box's store open (the users
table lives in the box database). Which role may open which page and take which action is
listed in docs/box.md (角色 / Roles); each view says it with ``login_required(roles=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, jsonify, render_template, request

from edge.supervision import STATE_NAMES, subject_label
from standard.districts import dept_checker, hall_name
from web import users as users_admin
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
    from web.box import (alerts, board, cases, evaluations, exports, health, live, presence,
                         stats)

    config = box.config
    settings = AuthSettings(session_hours=config.web.session_hours,
                            idle_minutes=config.web.idle_minutes, home="/",
                            homes={"technician": "/health", "department": "/alerts"},
                            clock=lambda: box.clock().timestamp(),
                            secure_cookies=config.web.secure_cookies,
                            reset_command=("hallwatch edge user reset admin --config "
                                           f"{config.path('box.toml')}"))
    departments = box.hall.departments()
    users_store = UserStore(box.store,
                            check_dept=dept_checker(departments, config.district_code))
    init_auth(app, users_store, secret_file=config.path(config.data_dir) / "web.secret",
              settings=settings)
    users_admin.configure(app, _user_admin(users_store, departments))
    hall = (f"{hall_name(config.district_code)}行政服务中心" if config.district_name
            else config.box_id)
    install_layout(app, site_name=hall, site_sub="政务服务电子监察系统 · 大厅管理",
                   nav=NAV, footer=f"监察盒子 {config.box_id}")
    app.jinja_env.globals.update(STATE_NAMES=STATE_NAMES)
    app.jinja_env.filters.update(subject=subject_label)
    for module in (board, cases, exports, alerts, evaluations, presence, live, stats, health,
                   users_admin):
        app.register_blueprint(module.bp)
    app.register_error_handler(404, _not_found)


def _user_admin(store: UserStore, departments: dict[str, str]) -> users_admin.UserAdmin:
    """The box's 用户管理: a department user (审批部门) names its department."""

    def add(form, actor: str) -> str:
        return store.add(form.get("username", ""), form.get("display_name", ""),
                         form.get("role", ""), is_admin=form.get("is_admin") == "1",
                         dept_code=form.get("dept_code") or None, actor=actor)

    def shown() -> dict[str, str]:
        return {user.username: f"{departments.get(user.dept_code, '')}（{user.dept_code}）"
                for user in store.all() if user.dept_code}

    field = users_admin.ExtraField(
        "dept_code", "所属部门（仅审批部门用户）", "部门", placeholder="如 440605SCJ",
        hint="审批部门用户只能查看本部门的办件、预警、红黄牌和通知书，并填写说明理由和整改报告；"
             "部门代码须在本机事项目录中。",
        choices=lambda: departments, shown=shown)
    return users_admin.UserAdmin(add=add, fields=(field,))


def _not_found(_exc):
    if request.path.startswith("/api/") or request.path.endswith(".json"):
        return jsonify({"error": "没有这个地址 (not found)"}), 404
    return render_template("error.html", code=404, title="页面不存在",
                           message="没有找到您要访问的页面或记录。"), 404
