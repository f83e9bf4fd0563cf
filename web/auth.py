"""Sign-in for hallwatch's web pages (box and hub): users, sessions, CSRF.

- :class:`UserStore` (``web/userstore.py``) keeps users and a sign-in log in SQLite: its own
  file (give a path) or the box's store. Neither module imports ``edge``.
- :func:`init_auth` installs it on a Flask app: server-side sessions (``web/sessions.py``: the
  cookie holds a random id only, so logout, a password change and a disabled account really
  end a session), session expiry (absolute and idle), ``Secure`` cookies behind TLS, the CSRF
  check on every form post, ``g.user``, the sign-in pages, and the first administrator when
  there are no users yet.
- :func:`login_required` guards a view, optionally by role, and sends a user whose password
  is a one-time one (first sign-in, after a reset) to 修改密码 before any other page.

Passwords are scrypt hashes (werkzeug). There is no default password: the first administrator
gets a random one, shown on the terminal only (:func:`first_login_announcer`), never in a log.
Failed sign-ins are logged and counted per account, atomically (``web/lockout.py``).

Why hand-written and not Flask-Login / Flask-WTF? Flask-Login keeps the user id in Flask's
cookie session (it would not end a copied cookie) and brings ``remember me`` cookies we do not
want; the role checks, both expiries and the forced password change would still be ours. The
forms are plain HTML posted with one hidden token; Flask-WTF's CSRFProtect would do the same
check as :func:`_check_csrf` with WTForms as an extra dependency. Both are small enough here to
read in one sitting, and both work on the one SQLite writer the box already has.

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
import sys
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

from standard.files import private_dir
from web.sessions import ServerSessions, renew
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
    "can_visit", "csrf_token", "first_login_announcer", "generate_password", "init_auth",
    "login_required",
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
    private_dir(path.parent)
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
    secure_cookies: bool = False  # behind TLS: the browser sends the cookie over HTTPS only
    # What to run for a one-time password of the first administrator (said when stdout is
    # not a terminal, so the password itself is never written to a log).
    reset_command: str = "hallwatch edge user reset admin --config box.toml"


POLL_HEADER = "X-Hallwatch-Poll"  # live-update requests: they do not count as activity
SEEN_EVERY = 60.0  # seconds: how often a session's last activity is written back
FIRST_LOGIN = "首次登录"  # what the first-start line begins with (the demo looks for it)


def first_login_announcer(reset_command: str) -> Callable[[str, str], None]:
    """Say the first administrator's password on a terminal only, never into a log.

    Under systemd, a pipe or ``> box.log`` the password is left out and the line says which
    command gives a one-time password instead.
    """

    def announce(username: str, password: str) -> None:
        if sys.stdout.isatty():
            line = (f"{FIRST_LOGIN}：用户名 {username} 密码 {password} "
                    "（只在终端上显示这一次；首次登录后须设置自己的密码）")
        else:
            line = (f"{FIRST_LOGIN}：已创建管理员账户 {username}；初始密码只在终端上显示，不写入"
                    f"日志。请在本机终端运行 {reset_command} 取得一次性密码，登录后须设置自己的"
                    f"密码 (first administrator {username!r} created; its password is never "
                    f"logged: run {reset_command} on a terminal)")
        print(line, flush=True)

    return announce


def init_auth(app: Flask, users: UserStore, *, secret_file: Path,
              settings: AuthSettings = AuthSettings(),
              announce: Callable[[str, str], None] | None = None) -> None:
    """Install sign-in on ``app``; announce the first administrator if one is made.

    ``announce(username, password)`` defaults to :func:`first_login_announcer`.
    """
    users.setup()
    app.secret_key = load_or_create_secret(secret_file)
    app.permanent_session_lifetime = dt.timedelta(hours=settings.session_hours)
    app.session_interface = ServerSessions(users.db, clock=settings.clock,
                                           lifetime=settings.session_hours * 3600)
    # Flask's defaults exist already (setdefault would keep them): change the ones left default.
    if app.config["SESSION_COOKIE_NAME"] == "session":
        app.config["SESSION_COOKIE_NAME"] = "hallwatch_session"
    if app.config["SESSION_COOKIE_SAMESITE"] is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if settings.secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
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
        (announce or first_login_announcer(settings.reset_command))(*first)


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
        renew(session)
        if expired:
            flash("登录已超时，请重新登录", "info")
        return
    # Activity is written back once a minute at most: a page's every click is not a write.
    if not request.headers.get(POLL_HEADER) and now - session.get("seen", 0) >= SEEN_EVERY:
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
                   admin: bool = False, own_password: bool = False) -> Callable:
    """Send anonymous visitors to the sign-in page; 403 for a role not in ``roles``.

    A user who must change a one-time password is sent to 修改密码 first, from every view but
    the one with ``own_password=True`` (修改密码 itself).
    """
    allowed = frozenset(roles) if roles else None

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = g.get("user")
            if user is None:
                if _wants_json():
                    return jsonify({"error": "登录已过期，请重新登录"}), 401
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if user.must_change_password and not own_password:
                if _wants_json():
                    return jsonify({"error": "请先修改初始密码"}), 403
                return redirect(url_for("auth.change_password"))
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
    """A new session (a new id: the old one, if any, ends) for ``user``."""
    renew(session)
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
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("login.html", error=error,
                           username=request.form.get("username", "")), status


@bp.post("/logout")
def logout():
    user = g.get("user")
    if user is not None:
        _users().record("logout", user.username, request.remote_addr or "")
    renew(session)  # the row goes: a copy of the cookie opens nothing any more
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=("GET", "POST"))
@login_required(own_password=True)
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
    return (render_template("password.html", error=error, forced=g.user.must_change_password),
            400 if error else 200)
