"""web/auth.py and web/userstore.py: users, passwords, lockout, sessions, CSRF, roles."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import stat

import pytest
from flask import Flask

from web.auth import (
    AuthSettings,
    LoginFailed,
    LoginLocked,
    UserError,
    UserStore,
    init_auth,
    login_required,
)
from web.layout import install_layout
from web.userstore import FAILURE_WINDOW, MAX_FAILURES

T0 = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.timezone.utc)


class Clock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, at: dt.datetime = T0):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(tmp_path, clock) -> UserStore:
    return UserStore(tmp_path / "users.db", clock=clock).setup()


# -- UserStore ----------------------------------------------------------------------------
def test_passwords_are_generated_and_only_their_scrypt_hash_is_kept(users, tmp_path):
    password = users.add("zhangsan", "张三", "manager")
    assert len(password) >= 12
    user = users.authenticate("zhangsan", password, "10.0.0.5")
    assert (user.username, user.display_name, user.role_name) == ("zhangsan", "张三", "大厅管理员")
    raw = (tmp_path / "users.db").read_bytes()
    assert password.encode() not in raw
    stored = sqlite3.connect(tmp_path / "users.db").execute(
        "select password_hash from users").fetchone()[0]
    assert stored.startswith("scrypt:")


def test_wrong_password_unknown_user_and_disabled_user_are_refused_alike(users):
    password = users.add("lisi", "李四", "auditor")
    for name, secret in (("lisi", "wrong-password"), ("nobody", password)):
        with pytest.raises(LoginFailed, match="用户名或密码错误"):
            users.authenticate(name, secret, "10.0.0.5")
    users.set_disabled("lisi", True, actor="admin")
    with pytest.raises(LoginFailed):
        users.authenticate("lisi", password, "10.0.0.6")


def test_five_failures_lock_the_user_at_that_address_for_fifteen_minutes(users, clock):
    password = users.add("wangwu", "王五", "supervisor")
    for attempt in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed) as caught:
            users.authenticate("wangwu", "bad", "10.0.0.7")
        assert not isinstance(caught.value, LoginLocked)
    with pytest.raises(LoginLocked, match="锁定15分钟"):
        users.authenticate("wangwu", "bad", "10.0.0.7")
    with pytest.raises(LoginLocked):  # the right password does not help while locked
        users.authenticate("wangwu", password, "10.0.0.7")
    assert users.authenticate("wangwu", password, "10.0.0.8").username == "wangwu"
    clock.advance(seconds=FAILURE_WINDOW.total_seconds() + 1)
    assert users.authenticate("wangwu", password, "10.0.0.7").username == "wangwu"
    events = [row["event"] for row in users.recent_log()]
    assert events.count("login_failed") == MAX_FAILURES and "login_locked" in events


def test_first_admin_is_made_only_when_there_are_no_users(users):
    first = users.ensure_first_admin()
    assert first is not None
    username, password = first
    admin = users.authenticate(username, password, "127.0.0.1")
    assert admin.is_admin and admin.role == "manager"
    assert users.ensure_first_admin() is None


def test_reset_gives_a_new_password_and_ends_sessions(users):
    old = users.add("zhaoliu", "赵六", "technician")
    epoch = users.get("zhaoliu").session_epoch
    new = users.reset_password("zhaoliu", actor="admin")
    assert new != old
    with pytest.raises(LoginFailed):
        users.authenticate("zhaoliu", old, "10.0.0.9")
    assert users.authenticate("zhaoliu", new, "10.0.0.9").session_epoch == epoch + 1


@pytest.mark.parametrize("username, role, message", [
    ("a", "manager", "用户名须为2到32个字符"),
    ("张三", "manager", "用户名须为2到32个字符"),
    ("good.name", "boss", "角色 'boss' 无效"),
])
def test_bad_input_is_refused_with_a_chinese_message(users, username, role, message):
    with pytest.raises(UserError, match=message):
        users.add(username, "", role)


def test_usernames_are_unique_ignoring_case(users):
    users.add("Sun", "孙", "manager")
    with pytest.raises(UserError, match="已存在"):
        users.add("sun", "孙二", "auditor")
    with pytest.raises(UserError, match="没有用户"):
        users.reset_password("nobody")


# -- Flask: sessions, CSRF, roles ---------------------------------------------------------------
@pytest.fixture
def app(tmp_path, users, clock):
    app = Flask(__name__)
    app.config["TESTING"] = True
    said: list[str] = []
    settings = AuthSettings(session_hours=8, idle_minutes=30,
                            clock=lambda: clock().timestamp())
    init_auth(app, users, secret_file=tmp_path / "keys" / "web.secret", settings=settings,
              announce=said.append)
    install_layout(app, site_name="测试大厅", site_sub="测试", nav=[])
    app.extensions["said"] = said

    @app.get("/")
    @login_required
    def home():
        return "首页"

    @app.route("/tech", methods=("GET", "POST"))
    @login_required(roles=("technician",))
    def tech():
        return "技术员页面"

    @app.post("/api/v1/thing")
    def api_thing():
        return "api"

    return app


def sign_in(client, username: str, password: str, next_url: str | None = None):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password,
                                  "csrf_token": token})


def test_the_first_admin_is_announced_once_with_its_password(app, users, tmp_path):
    (line,) = app.extensions["said"]
    found = re.search(r"首次登录：用户名 (\S+) 密码 (\S+)", line)
    assert found and users.authenticate(found[1], found[2], "127.0.0.1").is_admin
    assert stat.S_IMODE((tmp_path / "keys" / "web.secret").stat().st_mode) == 0o600
    said: list[str] = []
    init_auth(Flask("again"), users, secret_file=tmp_path / "keys" / "web.secret",
              announce=said.append)
    assert said == []


def test_pages_need_sign_in_and_next_stays_on_this_site(app, users):
    password = users.add("tech1", "技术员甲", "technician")
    client = app.test_client()
    answer = client.get("/tech")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    answer = sign_in(client, "tech1", password, next_url="//evil.example/x")
    assert answer.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": _token(client)})
    answer = sign_in(client, "tech1", password, next_url="/tech")
    assert answer.headers["Location"] == "/tech"
    assert client.get("/tech").get_data(as_text=True) == "技术员页面"


def test_the_session_cookie_is_http_only_and_same_site(app, users):
    password = users.add("cookie", "饼干", "auditor")
    answer = sign_in(app.test_client(), "cookie", password)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("hallwatch_session=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Expires=" in cookie


def test_the_wrong_role_gets_a_chinese_403(app, users):
    password = users.add("boss", "大厅管理员甲", "manager")
    client = app.test_client()
    sign_in(client, "boss", password)
    answer = client.get("/tech")
    assert answer.status_code == 403 and "无权访问" in answer.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused_but_the_api_is_exempt(app, users):
    password = users.add("tech2", "技术员乙", "technician")
    client = app.test_client()
    sign_in(client, "tech2", password)
    refused = client.post("/tech", data={})
    assert refused.status_code == 400 and "安全令牌" in refused.get_data(as_text=True)
    assert client.post("/tech", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/tech", data={"csrf_token": _token(client)}).status_code == 200
    assert app.test_client().post("/api/v1/thing").status_code == 200
    assert app.test_client().post("/login", data={"username": "tech2",
                                                   "password": password}).status_code == 400


def test_wrong_password_page_and_lockout_page(app, users):
    password = users.add("zhou", "周", "auditor")
    client = app.test_client()
    answer = sign_in(client, "zhou", "not-the-password")
    assert answer.status_code == 401 and "用户名或密码错误" in answer.get_data(as_text=True)
    for _ in range(MAX_FAILURES - 1):
        answer = sign_in(client, "zhou", "not-the-password")
    assert answer.status_code == 429 and "锁定" in answer.get_data(as_text=True)
    assert sign_in(client, "zhou", password).status_code == 429


def test_sessions_end_when_idle_and_after_their_lifetime(app, users, clock):
    password = users.add("wu", "吴", "technician")
    client = app.test_client()
    sign_in(client, "wu", password)
    clock.advance(minutes=29)
    assert client.get("/tech").status_code == 200
    clock.advance(minutes=29)  # the click above counted as activity
    assert client.get("/tech", headers={"X-Hallwatch-Poll": "1"}).status_code == 200
    clock.advance(minutes=2)  # a poll is not activity: 31 minutes idle now
    assert client.get("/tech").status_code == 302
    sign_in(client, "wu", password)
    for _ in range(16):  # active all day, but no longer than 8 hours
        clock.advance(minutes=29)
        assert client.get("/tech").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/tech").status_code == 302


def test_disabling_a_user_or_resetting_the_password_ends_the_session(app, users):
    password = users.add("zheng", "郑", "technician")
    client = app.test_client()
    sign_in(client, "zheng", password)
    users.reset_password("zheng", actor="admin")
    assert client.get("/tech").status_code == 302
    password = users.reset_password("zheng", actor="admin")
    sign_in(client, "zheng", password)
    users.set_disabled("zheng", True, actor="admin")
    assert client.get("/tech").status_code == 302


def test_changing_ones_own_password(app, users):
    password = users.add("qian", "钱", "technician")
    client = app.test_client()
    sign_in(client, "qian", password)
    form = {"current": password, "new": "a-new-password-42", "repeat": "a-new-password-42",
            "csrf_token": _token(client)}
    assert client.post("/account/password", data={**form, "current": "wrong"}).status_code == 400
    assert client.post("/account/password", data=form).status_code == 302
    assert client.get("/tech").status_code == 200  # this session goes on
    assert users.authenticate("qian", "a-new-password-42", "127.0.0.1")


def _token(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]
