"""用户管理 at the hub: city administrators add users with a role and scope, reset, disable.

A generated password is shown once, in the answer to the form that made it, and never stored
in plain text (web/userstore.py keeps scrypt hashes only).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from hub.services import HUB_ROLES
from web.auth import UserError, login_required
from web.hub.common import dashboard, data

bp = Blueprint("hub_users", __name__)


def _page(status: int = 200, **context):
    users = dashboard().users
    return render_template("hub_users.html", users=users.users.all(), scopes=users.scopes(),
                           roles=HUB_ROLES, log=users.users.recent_log(30),
                           depts=data().dept_names(), **context), status


@bp.get("/users")
@login_required(admin=True)
def index():
    return _page()


@bp.post("/users")
@login_required(admin=True)
def add():
    form = request.form
    try:
        password = dashboard().users.add(
            form.get("username", ""), form.get("role", ""), form.get("scope", ""),
            display_name=form.get("display_name", ""), is_admin=form.get("is_admin") == "1",
            actor=g.user.username)
    except UserError as exc:
        return _page(400, error=str(exc), form=form)
    username = form["username"].strip().lower()
    return _page(new_password=(username, password), message=f"已添加用户 {username}")


@bp.post("/users/<username>/reset")
@login_required(admin=True)
def reset(username: str):
    try:
        password = dashboard().users.reset(username, actor=g.user.username)
    except UserError as exc:
        return _page(400, error=str(exc))
    return _page(new_password=(username, password), message=f"已重置 {username} 的密码")


@bp.post("/users/<username>/<change>")
@login_required(admin=True)
def enable_or_disable(username: str, change: str):
    if change not in ("disable", "enable"):
        return _page(404, error="未知操作")
    if change == "disable" and username == g.user.username:
        return _page(400, error="不能停用自己的账户")
    try:
        dashboard().users.disable(username, change == "disable", actor=g.user.username)
    except UserError as exc:
        return _page(400, error=str(exc))
    flash(f"已{'停用' if change == 'disable' else '启用'}用户 {username}", "success")
    return redirect(url_for("hub_users.index"))
