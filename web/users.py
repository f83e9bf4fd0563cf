"""用户管理: administrators add users, reset passwords and disable accounts.

A generated password is shown once, in the answer to the form that made it, and never stored
in plain text, put in a cookie or written to a log. Reusable by any app with ``init_auth``;
an app whose users carry more than a role (the hub's scope) says so with :func:`configure`.

Example::

    configure(app, UserAdmin(add=lambda form, actor: ..., fields=(ExtraField(
        "scope", "范围", "范围", choices=lambda: {"440605": "南海区"}, shown=scopes),)))
    app.register_blueprint(bp)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from web.auth import UserError, UserStore, login_required

bp = Blueprint("users", __name__, template_folder="templates")


@dataclass(frozen=True)
class ExtraField:
    """One more input on the add form and one more column in the list (the hub's 范围)."""

    name: str
    label: str
    column: str
    placeholder: str = ""
    hint: str = ""
    choices: Callable[[], Mapping[str, str]] = dict  # suggestions: value -> what it is
    shown: Callable[[], Mapping[str, str]] = dict  # username -> what the list shows


@dataclass(frozen=True)
class UserAdmin:
    """How an app's 用户管理 differs from the plain one.

    ``add(form, actor)`` adds the user the form describes and returns its password, raising
    UserError with a message for the page; None adds with the UserStore's roles alone.
    """

    add: Callable[[Mapping[str, str], str], str] | None = None
    fields: tuple[ExtraField, ...] = ()
    admin_label: str = "可管理用户"


def configure(app: Flask, admin: UserAdmin) -> None:
    app.extensions["user_admin"] = admin


def _users() -> UserStore:
    return current_app.extensions["users"]


def _admin() -> UserAdmin:
    return current_app.extensions.get("user_admin") or UserAdmin()


def _page(status: int = 200, **context):
    store, admin = _users(), _admin()
    fields = [(field, field.choices(), field.shown()) for field in admin.fields]
    return render_template("users.html", users=store.all(), roles=store.roles,
                           log=store.recent_log(30), fields=fields,
                           admin_label=admin.admin_label, **context), status


@bp.get("/users")
@login_required(admin=True)
def index():
    return _page()


@bp.post("/users")
@login_required(admin=True)
def add():
    form, admin = request.form, _admin()
    try:
        if admin.add is not None:
            password = admin.add(form, g.user.username)
        else:
            password = _users().add(form.get("username", ""), form.get("display_name", ""),
                                    form.get("role", ""), is_admin=form.get("is_admin") == "1",
                                    actor=g.user.username)
    except UserError as exc:
        return _page(400, error=str(exc), form=form)
    username = form["username"].strip().lower()
    return _page(new_password=(username, password), message=f"已添加用户 {username}")


@bp.post("/users/<username>/reset")
@login_required(admin=True)
def reset(username: str):
    try:
        password = _users().reset_password(username, actor=g.user.username)
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
        _users().set_disabled(username, change == "disable", actor=g.user.username)
    except UserError as exc:
        return _page(400, error=str(exc))
    flash(f"已{'停用' if change == 'disable' else '启用'}用户 {username}", "success")
    return redirect(url_for("users.index"))
