"""web/auth.py and web/userstore.py: users, passwords, lockout, sessions, CSRF, roles."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pty
import re
import sqlite3
import stat
import sys

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
CHOSEN = "a-chosen-password-1"  # given, not generated: no change forced at sign-in


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


def test_five_failures_lock_the_account_from_any_address_for_fifteen_minutes(users, clock):
    password = users.add("wangwu", "王五", "supervisor")
    for attempt in range(MAX_FAILURES - 1):
        with pytest.raises(LoginFailed) as caught:
            users.authenticate("wangwu", "bad", f"10.0.0.{attempt}")
        assert not isinstance(caught.value, LoginLocked)
    with pytest.raises(LoginLocked, match="锁定15分钟"):
        users.authenticate("wangwu", "bad", "10.0.0.7")
    for address in ("10.0.0.7", "10.0.0.8"):  # the right password does not help while locked
        with pytest.raises(LoginLocked):
            users.authenticate("wangwu", password, address)
    assert users.failures("wangwu") == MAX_FAILURES + 2
    clock.advance(seconds=FAILURE_WINDOW.total_seconds() + 1)
    assert users.authenticate("wangwu", password, "10.0.0.7").username == "wangwu"
    assert users.failures("wangwu") == 0  # a success clears the count
    events = [row["event"] for row in users.recent_log()]
    assert events.count("login_failed") == MAX_FAILURES and events.count("login_locked") == 2


def test_an_administrators_reset_unlocks_the_account(users):
    users.add("suo", "锁", "auditor", password="the-right-password")
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            users.authenticate("suo", "bad", "10.0.0.7")
    new = users.reset_password("suo", actor="admin")
    assert users.authenticate("suo", new, "10.0.0.7").must_change_password


def test_first_admin_is_made_only_when_there_are_no_users(users):
    first = users.ensure_first_admin()
    assert first is not None
    username, password = first
    admin = users.authenticate(username, password, "127.0.0.1")
    assert admin.is_admin and admin.role == "manager" and admin.must_change_password
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
    said: list[tuple[str, str]] = []
    settings = AuthSettings(session_hours=8, idle_minutes=30,
                            clock=lambda: clock().timestamp())
    init_auth(app, users, secret_file=tmp_path / "keys" / "web.secret", settings=settings,
              announce=lambda username, password: said.append((username, password)))
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
    ((username, password),) = app.extensions["said"]
    assert users.authenticate(username, password, "127.0.0.1").is_admin
    assert stat.S_IMODE((tmp_path / "keys" / "web.secret").stat().st_mode) == 0o600
    said: list[str] = []
    init_auth(Flask("again"), users, secret_file=tmp_path / "keys" / "web.secret",
              announce=lambda *args: said.append(args))
    assert said == []


def test_pages_need_sign_in_and_next_stays_on_this_site(app, users):
    password = users.add("tech1", "技术员甲", "technician", password=CHOSEN)
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
    password = users.add("cookie", "饼干", "auditor", password="cookie-password-1")
    answer = sign_in(app.test_client(), "cookie", password)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("hallwatch_session=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Expires=" in cookie and "Secure" not in cookie


def test_secure_cookies_mark_the_session_cookie_secure(tmp_path, users, clock):
    app = Flask(__name__)
    init_auth(app, users, secret_file=tmp_path / "web.secret",
              settings=AuthSettings(secure_cookies=True, clock=lambda: clock().timestamp()),
              announce=lambda *args: None)
    install_layout(app, site_name="测试大厅", site_sub="测试", nav=[])
    cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert "; Secure" in cookie and "HttpOnly" in cookie


def test_the_wrong_role_gets_a_chinese_403(app, users):
    password = users.add("boss", "大厅管理员甲", "manager", password=CHOSEN)
    client = app.test_client()
    sign_in(client, "boss", password)
    answer = client.get("/tech")
    assert answer.status_code == 403 and "无权访问" in answer.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused_but_the_api_is_exempt(app, users):
    password = users.add("tech2", "技术员乙", "technician", password=CHOSEN)
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
    password = users.add("zhou", "周", "auditor", password=CHOSEN)
    client = app.test_client()
    answer = sign_in(client, "zhou", "not-the-password")
    assert answer.status_code == 401 and "用户名或密码错误" in answer.get_data(as_text=True)
    for _ in range(MAX_FAILURES - 1):
        answer = sign_in(client, "zhou", "not-the-password")
    assert answer.status_code == 429 and "锁定" in answer.get_data(as_text=True)
    assert sign_in(client, "zhou", password).status_code == 429


def test_sessions_end_when_idle_and_after_their_lifetime(app, users, clock):
    password = users.add("wu", "吴", "technician", password=CHOSEN)
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
    password = users.add("zheng", "郑", "technician", password=CHOSEN)
    client = app.test_client()
    sign_in(client, "zheng", password)
    users.reset_password("zheng", actor="admin")
    assert client.get("/tech").status_code == 302
    password = users.reset_password("zheng", actor="admin")
    sign_in(client, "zheng", password)
    users.set_disabled("zheng", True, actor="admin")
    assert client.get("/tech").status_code == 302


def test_changing_ones_own_password(app, users):
    password = users.add("qian", "钱", "technician", password=CHOSEN)
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


# -- server-side sessions, one-time passwords, the first-login line (issue 15) ---------------
COOKIE = "hallwatch_session"


def copied(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, users):
    password = users.add("copy", "复制", "technician", password=CHOSEN)
    client = app.test_client()
    sign_in(client, "copy", password)
    thief = copied(app, client)
    assert thief.get("/tech").status_code == 200  # a live copy works, as any cookie would
    assert client.post("/logout", data={"csrf_token": _token(client)}).status_code == 302
    answer = thief.get("/tech")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_the_cookie_is_a_random_id_and_the_database_keeps_only_its_hash(app, users, tmp_path):
    password = users.add("hash", "散列", "technician", password=CHOSEN)
    client = app.test_client()
    sign_in(client, "hash", password)
    value = client.get_cookie(COOKIE).value
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value)  # 32 random bytes, nothing else
    rows = sqlite3.connect(tmp_path / "users.db").execute(
        "select id_hash, user_id from sessions where user_id is not null").fetchall()
    assert rows == [(hashlib.sha256(value.encode()).hexdigest(), users.get("hash").id)]


def test_a_new_sign_in_gets_a_new_id(app, users):
    password = users.add("fix", "固定", "technician", password=CHOSEN)
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie(COOKIE).value  # an attacker could have planted this one
    sign_in(client, "fix", password)
    assert client.get_cookie(COOKIE).value != before
    planted = app.test_client()
    planted.set_cookie(COOKIE, before)
    assert planted.get("/tech").status_code == 302


def test_the_sign_in_page_writes_nothing_and_its_signed_cookie_grants_nothing(app, users,
                                                                              tmp_path):
    """Only signed-in sessions are rows: asking for the sign-in page (its CSRF token, a
    message after logout) writes nothing, so it never waits behind a platform backlog and
    nobody can fill the table; the signed anonymous cookie cannot be forged into a user."""
    from web.sessions import ANONYMOUS

    def rows() -> int:
        with sqlite3.connect(tmp_path / "users.db") as db:
            return db.execute("select count(*) from sessions").fetchone()[0]

    before = rows()
    visitors = [app.test_client() for _ in range(20)]
    for visitor in visitors:
        assert visitor.get("/login").status_code == 200
    assert rows() == before
    cookie = visitors[0].get_cookie(COOKIE).value
    assert cookie.startswith(ANONYMOUS)
    password = users.add("anon", "匿名", "technician", password=CHOSEN)
    assert sign_in(visitors[0], "anon", password).status_code == 302  # the token still works
    assert rows() == before + 1 and not visitors[0].get_cookie(COOKIE).value.startswith(ANONYMOUS)
    assert visitors[0].post("/logout", data={"csrf_token": _token(visitors[0])}
                            ).status_code == 302
    assert rows() == before and "已退出登录" in visitors[0].get("/login").get_data(as_text=True)
    forged = app.test_client()  # a user id added to an anonymous cookie breaks its signature
    forged.set_cookie(COOKIE, cookie[:-4] + "AAAA")
    assert forged.get("/tech").status_code == 302
    assert forged.post("/logout", data={"csrf_token": "x"}).status_code == 400


def test_a_password_change_or_disable_ends_every_other_session(app, users):
    password = users.add("two", "两处", "technician", password=CHOSEN)
    office, phone = app.test_client(), app.test_client()
    sign_in(office, "two", password)
    sign_in(phone, "two", password)
    form = {"current": password, "new": "another-password-7", "repeat": "another-password-7",
            "csrf_token": _token(office)}
    assert office.post("/account/password", data=form).status_code == 302
    assert phone.get("/tech").status_code == 302
    assert office.get("/tech").status_code == 200  # the session that changed it goes on
    users.set_disabled("two", True, actor="admin")
    assert office.get("/tech").status_code == 302


def test_a_one_time_password_must_be_changed_before_any_other_page(app, users):
    password = users.add("fresh", "新人", "technician")  # generated: a one-time password
    client = app.test_client()
    answer = sign_in(client, "fresh", password, next_url="/tech")
    assert answer.headers["Location"] == "/account/password"
    page = client.get("/account/password").get_data(as_text=True)
    assert "请先设置自己的密码" in page and 'class="nav"' not in page
    for url in ("/tech", "/"):
        assert client.get(url).headers["Location"] == "/account/password", url
    refused = client.get("/tech", headers={"Accept": "application/json"})
    assert refused.status_code == 403 and "修改初始密码" in refused.get_json()["error"]
    same = {"current": password, "new": password, "repeat": password,
            "csrf_token": _token(client)}
    assert "不能与当前密码相同" in client.post("/account/password", data=same).get_data(
        as_text=True)
    form = {**same, "new": "my-own-password-9", "repeat": "my-own-password-9",
            "csrf_token": _token(client)}
    assert client.post("/account/password", data=form).status_code == 302
    assert client.get("/tech").get_data(as_text=True) == "技术员页面"
    assert not users.get("fresh").must_change_password


def test_the_first_login_password_goes_to_a_terminal_and_never_to_a_pipe(monkeypatch):
    from web.auth import first_login_announcer

    announce = first_login_announcer("hallwatch edge user reset admin --config box.toml")
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        announce("admin", "Secret-Pass-77")
    with open(read_end, encoding="utf-8") as out:
        logged = out.read()
    assert "Secret-Pass-77" not in logged
    assert "首次登录" in logged and "hallwatch edge user reset admin --config box.toml" in logged
    controller, terminal = pty.openpty()
    with open(terminal, "w", encoding="utf-8") as tty:
        monkeypatch.setattr(sys, "stdout", tty)
        announce("admin", "Secret-Pass-77")
    shown = os.read(controller, 4096).decode("utf-8")
    os.close(controller)
    assert "用户名 admin 密码 Secret-Pass-77" in shown
