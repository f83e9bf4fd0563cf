"""Test helpers: real box folders and real box processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from hallwatch.sim import catalogue_for

REPO = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "hall-admin-password-1"


def write_box_folder(folder: Path, district: str = "440605", **config) -> Path:
    """A box folder with box.toml, catalogue and platform token; returns box.toml's path."""
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    token = folder / "keys" / "platform.token"
    token.write_text(secrets.token_urlsafe(32))
    token.chmod(0o600)
    (folder / "catalogue.json").write_text(json.dumps(catalogue_for(district), ensure_ascii=False),
                                           encoding="utf-8")
    settings = {"version": 1, "box_id": f"{district}-01", "district_code": district,
                "catalogue": "catalogue.json", "web": {"host": "127.0.0.1", "port": 0}}
    settings.update(config)
    path = folder / "box.toml"
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return path


def post_body(url: str, body: bytes, token: str) -> tuple[int, dict]:
    """POST ``body`` with the platform token; (status, JSON answer), errors included."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@dataclass
class RunningBox:
    folder: Path
    process: subprocess.Popen
    url: str
    lines: list[str] = field(default_factory=list)

    @property
    def token(self) -> str:
        return (self.folder / "keys" / "platform.token").read_text().strip()

    @property
    def db(self) -> Path:
        return self.folder / "data" / "box.db"

    def post(self, path: str, body: bytes, token: str | None = None,
             content_type: str = "application/json") -> tuple[int, dict]:
        headers = {"Content-Type": content_type}
        if token is not False:
            headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.url + path, data=body, headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def one_time_password(self, username: str = "admin") -> str:
        """``hallwatch edge user reset USERNAME`` as a technician runs it: the password it prints.

        The box never prints the first administrator's password into its output (a pipe here,
        the journal under systemd); this is how one gets it.
        """
        return self._user_command("reset", username)

    def add_user(self, username: str, role: str) -> str:
        """``hallwatch edge user add USERNAME --role ROLE``: the one-time password it prints."""
        return self._user_command("add", username, "--role", role)

    def _user_command(self, *args: str) -> str:
        answer = subprocess.run(
            [sys.executable, "-m", "hallwatch", "edge", "user", *args, "--config",
             str(self.folder / "box.toml")], capture_output=True, text=True, cwd=REPO,
            timeout=60, check=True)
        return re.search(r"的密码：(\S+)", answer.stdout)[1]

    def admin_password(self, chosen: str = ADMIN_PASSWORD) -> tuple[str, str]:
        """("admin", ``chosen``): the first administrator after its forced first password change."""
        from tests.webclient import WebClient

        one_time = self.one_time_password("admin")
        web = WebClient(self.url)
        assert web.sign_in("admin", one_time).location == "/account/password"
        assert web.change_password(one_time, chosen).status == 302
        return "admin", chosen


def start_box(folder: Path, timeout: float = 30) -> RunningBox:
    """Run ``hallwatch edge serve`` and wait for its 'serving' line (its stdout is kept)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "hallwatch", "edge", "serve", "--config", str(folder / "box.toml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, env=env)
    lines: list[str] = []
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.append(line)
            if " serving http" in line:
                found.put(line.strip().rsplit(" ", 1)[-1])

    threading.Thread(target=pump, daemon=True).start()
    try:
        url = found.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        raise AssertionError("box did not start:\n" + "".join(lines)) from None
    return RunningBox(folder, process, url, lines)


@contextmanager
def keyed_box_in_process(folder: Path) -> Iterator[tuple[Any, str]]:
    """A box with the 4-window example profile on gpiozero's mock pins, started in this
    process and served by waitress on 127.0.0.1: (box, its URL). Tests press
    its keys by driving the mock pins (``box.evaluations.keys.factories["main"].pin(n)``)."""
    from waitress import create_server

    from edge.app import build_box
    from edge.config import load_box_config
    from web.box import create_app

    shutil.copy(REPO / "firmware_cfg" / "hall-4.toml", folder / "hall-4.toml")
    box = build_box(load_box_config(write_box_folder(folder, profile="hall-4.toml")))
    box.start()
    server = create_server(create_app(box), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield box, f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)
        box.stop()
