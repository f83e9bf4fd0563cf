"""Sessions that really end, and a lockout that cannot be raced (issue 15, items 6 and 7).

Real servers: ``hallwatch edge serve`` and ``hallwatch hub serve`` as processes on 127.0.0.1,
spoken to over HTTP with a cookie copied as an attacker would copy it.
"""

from __future__ import annotations

import http.client
import re
import sqlite3
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import pytest
import tomli_w

from tests.boxes import start_box, write_box_folder
from tests.hubkit import init_hub_folder, start_hub
from tests.webclient import WebClient
from web.lockout import MAX_FAILURES

GUESSES = 60


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sessions-box")
    write_box_folder(folder, district_name="南海区")
    box = start_box(folder)
    yield box
    box.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    hub = start_hub(init_hub_folder(tmp_path_factory.mktemp("sessions-hub") / "hub"))
    yield hub
    hub.stop()


def signed_in(url: str, username: str, password: str) -> WebClient:
    web = WebClient(url)
    answer = web.sign_in(username, password)
    assert answer.status == 302, answer.body[:300]
    return web


def opens(web: WebClient, path: str) -> bool:
    """Whether ``path`` shows its page to ``web`` (not a trip to the sign-in page)."""
    answer = web.get(path)
    assert answer.status in (200, 302), (answer.status, answer.body[:300])
    return answer.status == 200


@pytest.fixture(scope="module")
def box_admin(box) -> str:
    return box.admin_password()[1]


@pytest.fixture(scope="module")
def hub_admin(hub) -> str:
    one_time = hub.one_time_password("admin")
    web = signed_in(hub.url, "admin", one_time)
    assert web.change_password(one_time, "hub-admin-password-1").status == 302
    return "hub-admin-password-1"


def test_a_cookie_copied_before_logout_opens_no_box_page_after_it(box, box_admin):
    web = signed_in(box.url, "admin", box_admin)
    thief = web.copy()
    assert opens(thief, "/cases")
    assert web.log_out().status == 302
    assert not opens(thief, "/cases") and not opens(web, "/cases")
    assert thief.get("/cases").location.startswith("/login")


def test_a_cookie_copied_before_logout_opens_no_hub_page_after_it(hub, hub_admin):
    web = signed_in(hub.url, "admin", hub_admin)
    thief = web.copy()
    assert opens(thief, "/cases")
    assert web.log_out().status == 302
    assert not opens(thief, "/cases")


def test_a_password_change_ends_the_other_sessions_on_the_box(box, box_admin):
    web, elsewhere = signed_in(box.url, "admin", box_admin), signed_in(box.url, "admin", box_admin)
    thief = web.copy()
    assert web.change_password(box_admin, "admin-second-password").status == 302
    assert not opens(thief, "/cases") and not opens(elsewhere, "/cases")
    assert opens(web, "/cases")  # the session that made the change goes on, with a new id
    assert web.change_password("admin-second-password", box_admin).status == 302


def test_disabling_a_user_ends_their_session_on_the_hub(hub, hub_admin):
    admin = signed_in(hub.url, "admin", hub_admin)
    added = admin.post("/users", {"username": "nanhai", "display_name": "南海区监察室",
                                  "role": "district", "scope": "440605",
                                  "csrf_token": admin.csrf("/users")})
    one_time = added.body.split('<code class="password">', 1)[1].split("<", 1)[0]
    user = signed_in(hub.url, "nanhai", one_time)
    assert user.get("/cases").location == "/account/password"  # one-time: change it first
    assert user.change_password(one_time, "nanhai-own-password").status == 302
    thief = user.copy()
    assert opens(thief, "/cases")
    admin.post("/users/nanhai/disable", {"csrf_token": admin.csrf("/users")})
    assert not opens(thief, "/cases") and not opens(user, "/cases")


def test_sixty_concurrent_wrong_passwords_are_sixty_counted_failures(box):
    password = box.add_user("target", "auditor")
    clients = [WebClient(box.url) for _ in range(GUESSES)]
    tokens = [web.csrf("/login") for web in clients]
    start = threading.Barrier(GUESSES)

    def guess(index: int) -> int:
        start.wait(timeout=30)
        return clients[index].post("/login", {"username": "target", "password": f"guess-{index}",
                                              "csrf_token": tokens[index]}).status

    with ThreadPoolExecutor(GUESSES) as pool:
        answers = list(pool.map(guess, range(GUESSES)))
    # At most MAX_FAILURES passwords were checked at all (the last of them locks); every
    # other guess was refused without a check.
    assert answers.count(401) == MAX_FAILURES - 1, answers
    assert answers.count(429) == GUESSES - MAX_FAILURES + 1, answers
    assert WebClient(box.url).sign_in("target", password).status == 429  # locked
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as conn:
        counted = conn.execute("select failures from login_failures where username = 'target'")
        assert counted.fetchone()[0] == GUESSES + 1
        events = dict(conn.execute("select event, count(*) from auth_log where username ="
                                   " 'target' and event like 'login_%' group by event"))
    assert events.get("login_failed") == MAX_FAILURES
    assert events.get("login_locked") == GUESSES + 1 - MAX_FAILURES


def session_cookies(url: str, username: str, password: str) -> list[str]:
    """The Set-Cookie headers of the sign-in page and of signing in, as a browser gets them."""
    parts = urlsplit(url)
    headers = []

    def request(method: str, path: str, body: str | None = None, cookie: str = "") -> str:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            sent = {"Cookie": cookie} if cookie else {}
            if body is not None:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            headers.append(answer.headers.get("Set-Cookie", ""))
            return answer.read().decode("utf-8")
        finally:
            conn.close()

    page = request("GET", "/login")
    cookie = headers[0].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    request("POST", "/login", urlencode({"username": username, "password": password,
                                         "csrf_token": token}), cookie)
    return headers


def test_secure_cookies_in_box_toml_and_hub_toml_mark_every_session_cookie_secure(
        tmp_path_factory):
    """Issue 15 point 10: behind TLS, ``[web] secure_cookies = true`` on a real box and hub."""
    folder = tmp_path_factory.mktemp("secure-box")
    write_box_folder(folder, district_name="南海区",
                     web={"host": "127.0.0.1", "port": 0, "secure_cookies": True})
    box = start_box(folder)
    try:
        cookies = session_cookies(box.url, *box.admin_password())
    finally:
        box.stop()
    config = init_hub_folder(tmp_path_factory.mktemp("secure-hub") / "hub")
    values = tomllib.loads(config.read_text(encoding="utf-8"))
    values["web"]["secure_cookies"] = True
    config.write_text(tomli_w.dumps(values), encoding="utf-8")
    hub = start_hub(config)
    try:
        cookies += session_cookies(hub.url, "admin", hub.one_time_password("admin"))
    finally:
        hub.stop()
    assert len(cookies) == 4 and all(c.startswith("hallwatch_session=") for c in cookies)
    assert all("; Secure" in c and "HttpOnly" in c for c in cookies), cookies
