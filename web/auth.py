"""Sign-in for hallwatch's web pages (the box's now, the hub's later): users, sessions, CSRF.

- :class:`UserStore` (``web/userstore.py``) keeps users and a sign-in log in SQLite: its own
  file (give a path) or the box's store. Neither module imports ``edge``.
- :func:`init_auth` installs it on a Flask app: the secret key (a 0600 file, made once), session
  expiry (absolute and idle), the CSRF check on every form post, ``g.user``, the sign-in pages,
  and the first administrator when there are no users yet.
- :func:`login_required` guards a view, optionally by role.

Passwords are scrypt hashes (werkzeug). There is no default password: the first administrator
gets a random one, printed once. Failed sign-ins are logged and rate-limited per user and
address.

Example::

    users = UserStore(Path("data/users.db"))
    init_auth(app, users, secret_file=Path("data/web.secret"))

    @bp.get("/cases")
    @login_required(roles=("manager", "supervisor"))
    def cases(): ...
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from web.userstore import (
    BOX_ROLES,
    LoginFailed,
    LoginLocked,
    User,
    UserError,
    UserStore,
    generate_password,
)

__all__ = [
    "BOX_ROLES", "AuthSettings", "LoginFailed", "LoginLocked", "User", "UserError", "UserStore",
    "can_visit", "csrf_token", "generate_password", "init_auth", "login_required",
]
log = logging.getLogger(__name__)


# -- the secret key -------------------------------------------------------------------------
def load_or_create_secret(path: Path) -> bytes:
    """The app's secret key from ``path``; made once (0600) when the file is missing."""
    path = Path(path)
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with open(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex())
    return key


# -- Flask ------------------------------------------------------------------------------------
bp = Blueprint("auth", __name__, template_folder="templates")


@dataclass(frozen=True)
class AuthSettings:
    session_hours: float = 8.0
    idle_minutes: float = 30.0
    csrf_exempt: tuple[str, ...] = ("/api/",)
    home: str = "/"  # where a sign-in without ``next`` lands
    clock: Callable[[], float] = time.time
    homes: dict[str, str] | None = None  # a different landing page per role


POLL_HEADER = "X-Hallwatch-Poll"  # live-update requests: they do not count as activity


def init_auth(app: Flask, users: UserStore, *, secret_file: Path,
              settings: AuthSettings = AuthSettings(),
              announce: Callable[[str], None] | None = None) -> None:
    """Install sign-in on ``app``; announce the first administrator's password if one is made."""
    users.setup()
    app.secret_key = load_or_create_secret(secret_file)
    app.permanent_session_lifetime = dt.timedelta(hours=settings.session_hours)
    # Flask's defaults exist already (setdefault would keep them): change the ones left default.
    if app.config["SESSION_COOKIE_NAME"] == "session":
        app.config["SESSION_COOKIE_NAME"] = "hallwatch_session"
    if app.config["SESSION_COOKIE_SAMESITE"] is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.extensions["users"] = users
    app.extensions["auth"] = settings
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.jinja_env.globals.update(csrf_token=csrf_token, can_visit=can_visit)
    app.context_processor(lambda: {"current_user": g.get("user")})
    app.register_error_handler(403, _forbidden)
    app.register_blueprint(bp)
    first = users.ensure_first_admin()
    if first:
        line = (f"首次登录：用户名 {first[0]} 密码 {first[1]} "
                "（只显示这一次，请登录后在“修改密码”中改为自己的密码）")
        (announce or (lambda text: print(text, flush=True)))(line)


def _settings() -> AuthSettings:
    return current_app.extensions["auth"]


def _users() -> UserStore:
    return current_app.extensions["users"]


def csrf_token() -> str:
    """This session's CSRF token (made on first use); forms put it in a hidden field."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _load_user() -> None:
    g.user = None
    uid = session.get("uid")
    if uid is None:
        return
    settings = _settings()
    now = settings.clock()
    expired = (now - session.get("login_at", 0) > settings.session_hours * 3600
               or now - session.get("seen", 0) > settings.idle_minutes * 60)
    user = None if expired else _users().get_by_id(uid)
    if user is None or user.disabled or user.session_epoch != session.get("epoch"):
        session.clear()
        if expired:
            flash("登录已超时，请重新登录", "info")
        return
    if not request.headers.get(POLL_HEADER):
        session["seen"] = now
    g.user = user


def _check_csrf():
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return None
    if any(request.path.startswith(prefix) for prefix in _settings().csrf_exempt):
        return None
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf", "")
    if expected and hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    log.warning("CSRF check failed: %s %s from %s", request.method, request.path,
                request.remote_addr)
    message = "请求缺少有效的安全令牌（CSRF），可能页面已过期，请刷新页面后重试"
    if _wants_json():
        return jsonify({"error": message}), 400
    return render_template("error.html", code=400, title="请求无效", message=message), 400


def _forbidden(_exc):
    message = "您的角色无权访问此页面，如需访问请联系管理员"
    if _wants_json():
        return jsonify({"error": message}), 403
    return render_template("error.html", code=403, title="无权访问", message=message), 403


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def login_required(view: Callable | None = None, *, roles: Iterable[str] | None = None,
                   admin: bool = False) -> Callable:
    """Send anonymous visitors to the sign-in page; 403 for a role not in ``roles``."""
    allowed = frozenset(roles) if roles else None

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                if _wants_json():
                    return jsonify({"error": "登录已过期，请重新登录"}), 401
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not _allowed(user, allowed, admin):
                log.warning("refused %s to %s (%s)", request.path, user.username, user.role)
                abort(403)
            return view(*args, **kwargs)

        wrapped.access = (allowed, admin)  # read by can_visit() for the navigation
        return wrapped

    return decorate(view) if view is not None else decorate


def _allowed(user: User, roles: frozenset | None, admin: bool) -> bool:
    if admin:
        return user.is_admin
    return roles is None or user.role in roles


def can_visit(endpoint: str) -> bool:
    """Whether the signed-in user may open ``endpoint`` (for showing links)."""
    user = g.get("user")
    view = current_app.view_functions.get(endpoint)
    if user is None or view is None:
        return False
    roles, admin = getattr(view, "access", (None, False))
    return _allowed(user, roles, admin)


def start_session(user: User) -> None:
    session.clear()
    now = _settings().clock()
    session.permanent = True
    session.update(uid=user.id, epoch=user.session_epoch, login_at=now, seen=now)
    csrf_token()


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (never another host) is a place to go after signing in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_for(user: User) -> str:
    settings = _settings()
    return (settings.homes or {}).get(user.role, settings.home)


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "GET" and g.user is not None:
        return redirect(home_for(g.user))
    error, status = None, 200
    if request.method == "POST":
        try:
            user = _users().authenticate(request.form.get("username", ""),
                                         request.form.get("password", ""),
                                         request.remote_addr or "")
        except LoginLocked as exc:
            error, status = str(exc), 429
        except LoginFailed as exc:
            error, status = str(exc), 401
        else:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("login.html", error=error,
                           username=request.form.get("username", "")), status


@bp.post("/logout")
def logout():
    user = g.get("user")
    if user is not None:
        _users().record("logout", user.username, request.remote_addr or "")
    session.clear()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=("GET", "POST"))
@login_required
def change_password():
    error = None
    if request.method == "POST":
        new = request.form.get("new", "")
        try:
            if new != request.form.get("repeat", ""):
                raise UserError("两次输入的新密码不一致")
            _users().change_password(g.user.username, request.form.get("current", ""), new)
        except UserError as exc:
            error = str(exc)
        else:
            start_session(_users().get(g.user.username))
            flash("密码已修改", "success")
            return redirect(home_for(g.user))
    return render_template("password.html", error=error), 400 if error else 200
