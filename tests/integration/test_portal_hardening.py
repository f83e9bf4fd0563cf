"""The public portal's captcha and rate limits (issue 15, item 10).

The captcha was SVG text in order (a parser read 23 of 23) and the limits were in memory
(a restart reset them). The hub app runs on a real SQLite folder; a "restart" is a new app
on the same folder, as a new process would be.
"""

from __future__ import annotations

import base64
import re
import stat

import cv2
import numpy as np
import pytest

from tests.hubkit import captcha_answer, open_dashboard, write_hub_folder
from web.hub import create_app


def portal(folder, **settings):
    """A hub app on ``folder`` with these [portal] settings."""
    if not (folder / "hub.toml").exists():
        write_hub_folder(folder)
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (folder / "hub.toml").write_text((folder / "hub.toml").read_text() + "\n[portal]\n"
                                         + lines, encoding="utf-8")
    return create_app(open_dashboard(folder), {"TESTING": True}, announce=lambda *first: None)


def form_page(client) -> str:
    answer = client.get("/portal/complaints/new")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page)[1]


def test_the_captcha_is_a_noisy_png_with_nothing_for_a_parser(tmp_path):
    page = form_page(portal(tmp_path).test_client())
    assert "<svg" not in page and "</text>" not in page
    assert re.findall(r">([^<>])</text>", page) == []  # the parser that solved 23 of 23
    image = re.search(r'<img class="captcha" src="data:image/png;base64,([^"]+)"[^>]*'
                      r'alt="([^"]+)"', page)
    assert image and not re.search(r"\d", image[2])  # the alt text does not give it away
    pixels = cv2.imdecode(np.frombuffer(base64.b64decode(image[1]), np.uint8), cv2.IMREAD_COLOR)
    assert pixels.shape == (64, 200, 3)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # noise, not flat glyphs


def test_a_new_image_keeps_what_was_typed_and_is_not_a_submission(tmp_path):
    app = portal(tmp_path, submissions_per_hour=1)
    client = app.test_client()
    page = form_page(client)
    form = {"csrf_token": field(page, "csrf_token"), "captcha_token": field(page, "captcha_token"),
            "kind": "建言", "subject": "建议增加周末窗口", "content": "周末办事的人多"}
    for _ in range(3):
        again = client.post("/portal/complaints/new", data={**form, "refresh": "1"})
        assert again.status_code == 200
        text = again.get_data(as_text=True)
        assert field(text, "captcha_token") != form["captcha_token"]
        assert 'value="建议增加周末窗口"' in text and "周末办事的人多" in text
        form["captcha_token"] = field(text, "captcha_token")
    form["captcha"] = captcha_answer(app.secret_key, form["captcha_token"])
    done = client.post("/portal/complaints/new", data=form)  # the one submission allowed
    assert done.status_code == 200 and "tracking-number" in done.get_data(as_text=True)


@pytest.mark.parametrize("key, limit, method", [("requests_per_minute", 5, "GET"),
                                                ("submissions_per_hour", 2, "POST")])
def test_portal_rate_limits_survive_a_restart(tmp_path, key, limit, method):
    def ask(client):
        if method == "GET":
            return client.get("/portal/guide").status_code
        token = field(form_page(client), "csrf_token")
        return client.post("/portal/complaints/new", data={"subject": "x",
                                                            "csrf_token": token}).status_code

    client = portal(tmp_path, **{key: limit}).test_client()
    codes = [ask(client) for _ in range(limit)]
    assert 429 not in codes and ask(client) == 429
    restarted = portal(tmp_path).test_client()  # a new app on the same folder
    assert ask(restarted) == 429
    other = restarted.get("/portal/guide", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200
    limits = tmp_path / "data" / "portal-limits.db"
    assert stat.S_IMODE(limits.stat().st_mode) == 0o600
