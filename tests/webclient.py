"""A browser in a few lines, for tests against a real box or hub server over HTTP.

Keeps cookies, never follows redirects (the test looks at them), reads a form's CSRF token.

Example::

    web = WebClient(box.url)
    web.sign_in("admin", password)            # (302, "/account/password")
    web.change_password(password, "my-own-password-1")
    thief = web.copy()                        # a second browser with the same cookie
"""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

SESSION_COOKIE = "hallwatch_session"


@dataclass
class Answer:
    status: int
    location: str
    body: str


class WebClient:
    def __init__(self, url: str, cookies: dict[str, str] | None = None, timeout: float = 30):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.cookies = dict(cookies or {})
        self.timeout = timeout

    def copy(self) -> WebClient:
        """Another browser holding a copy of this one's cookies (a stolen cookie)."""
        return WebClient(f"http://{self.host}:{self.port}", self.cookies, self.timeout)

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form)
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                value = rest.split(";", 1)[0]
                if value and "Max-Age=0" not in header and "1970" not in header:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return Answer(response.status, response.headers.get("Location", ""),
                          response.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def get(self, path: str, **headers) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict) -> Answer:
        return self.request("POST", path, form=form)

    def csrf(self, path: str = "/login") -> str:
        page = self.get(path).body
        return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]

    def sign_in(self, username: str, password: str) -> Answer:
        token = self.csrf("/login")
        return self.post("/login", {"username": username, "password": password,
                                    "csrf_token": token})

    def change_password(self, current: str, new: str) -> Answer:
        token = self.csrf("/account/password")
        return self.post("/account/password", {"current": current, "new": new, "repeat": new,
                                               "csrf_token": token})

    def log_out(self) -> Answer:
        return self.post("/logout", {"csrf_token": self.csrf("/account/password")})
