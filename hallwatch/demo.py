"""``hallwatch demo``: five simulated district boxes as real processes, fed by simulated platforms.

The demo provisions a fresh folder, starts each box with ``hallwatch edge serve`` (exactly what
runs in a hall), posts a few weeks of history and then live events over HTTP, and prints the
URLs. With ``--seconds N`` it stops by itself and prints a summary.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click
import tomli_w

from hallwatch.sim import Platform, catalogue_for
from standard.districts import DISTRICTS

BATCH = 500


@dataclass
class DemoBox:
    code: str
    name: str
    folder: Path
    port: int
    token: str
    process: subprocess.Popen | None = None
    url: str = ""
    first_login: str = ""  # the box's one-time "首次登录" line (admin user and password)
    sent: int = 0
    accepted: int = 0
    platform: Platform = field(init=False)

    def __post_init__(self) -> None:
        self.platform = Platform(self.code)

    @property
    def config_path(self) -> Path:
        return self.folder / "box.toml"


def write_box_folder(folder: Path, code: str, port: int) -> str:
    """A box folder with config, catalogue and platform token; returns the token."""
    (folder / "keys").mkdir(parents=True, exist_ok=True)
    (folder / "keys").chmod(0o700)
    token = secrets.token_urlsafe(32)
    token_file = folder / "keys" / "platform.token"
    token_file.touch(mode=0o600)
    token_file.write_text(token)
    (folder / "catalogue.json").write_text(
        json.dumps(catalogue_for(code), ensure_ascii=False, indent=1), encoding="utf-8")
    config = {"version": 1, "box_id": f"{code}-01", "district_code": code,
              "district_name": DISTRICTS[code], "data_dir": "data",
              "catalogue": "catalogue.json", "platform_token_file": "keys/platform.token",
              "web": {"host": "127.0.0.1", "port": port}}
    (folder / "box.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
    return token


def start_box(box: DemoBox, timeout: float = 30) -> None:
    """Start ``hallwatch edge serve`` and wait for its 'serving' line."""
    box.process = subprocess.Popen(
        [sys.executable, "-m", "hallwatch", "edge", "serve", "--config", str(box.config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    ready = threading.Event()

    def pump() -> None:
        for line in box.process.stdout:
            if "首次登录" in line:
                box.first_login = line.strip()  # shown by the demo, kept out of box.log
                continue
            if " serving " in line and not ready.is_set():
                box.url = line.strip().rsplit(" ", 1)[-1]
                ready.set()
            (box.folder / "box.log").open("a").write(line)

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout):
        raise click.ClickException(f"box {box.code} did not start; see {box.folder / 'box.log'}")


def post_events(box: DemoBox, events: list[dict]) -> None:
    for start in range(0, len(events), BATCH):
        chunk = events[start:start + BATCH]
        request = urllib.request.Request(
            f"{box.url}/api/v1/platform/events",
            data="\n".join(json.dumps(e, ensure_ascii=False) for e in chunk).encode(),
            headers={"Authorization": f"Bearer {box.token}",
                     "Content-Type": "application/x-ndjson"}, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        box.sent += len(chunk)
        box.accepted += answer["accepted"]


def summary(box: DemoBox, now: dt.datetime) -> str:
    from edge.app import load_calendar
    from edge.cases import CaseBoard
    from edge.store import Store
    from standard.catalogue import load_catalogue
    from standard.deadlines import LightSettings

    store = Store(box.folder / "data" / "box.db", box_id=f"{box.code}-01")
    board = CaseBoard(store, load_catalogue(box.folder / "catalogue.json"), load_calendar(None),
                      LightSettings())
    lights = Counter(row.light for row in board.cases(now))
    store.close()
    shown = ", ".join(f"{k} {lights[k]}" for k in ("green", "yellow", "red", "unknown"))
    return f"{box.name} {box.code}: sent {box.sent}, accepted {box.accepted}; open cases: {shown}"


@click.command()
@click.option("--seconds", type=float, help="Stop by itself after this many seconds.")
@click.option("--dir", "folder", default=".demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Working folder; it is wiped and provisioned afresh.")
@click.option("--base-port", default=8100, show_default=True,
              help="Box web ports are base+1 … base+5 (127.0.0.1 only).")
def demo(seconds: float | None, folder: Path, base_port: int) -> None:
    """Run five simulated district boxes (禅城, 南海, 顺德, 高明, 三水) with live feeds."""
    if folder.exists():
        shutil.rmtree(folder)
    boxes = []
    for n, (code, name) in enumerate(DISTRICTS.items(), start=1):
        box_dir = folder / "boxes" / code
        token = write_box_folder(box_dir, code, base_port + n)
        boxes.append(DemoBox(code, name, box_dir, base_port + n, token))
    started = time.monotonic()
    try:
        for box in boxes:
            start_box(box)
            click.echo(f"{box.name} box: {box.url}/  (platform token in "
                       f"{box.folder / 'keys' / 'platform.token'})")
            if box.first_login:
                click.echo(f"  {box.first_login}")
        now = dt.datetime.now(dt.timezone.utc)
        for box in boxes:
            post_events(box, list(box.platform.backlog(now - dt.timedelta(days=21), 21, 12)))
        click.echo("history loaded; live events every second. Ctrl-C to stop.")
        tick = threading.Event()
        while seconds is None or time.monotonic() - started < seconds:
            now = dt.datetime.now(dt.timezone.utc)
            for box in boxes:
                events = box.platform.advance(now)
                if box.platform.rng.random() < 0.5:
                    events += box.platform.new_case(now)
                post_events(box, events)
            tick.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        for box in boxes:
            if box.process and box.process.poll() is None:
                box.process.terminate()
        for box in boxes:
            if box.process:
                box.process.wait(timeout=30)
    now = dt.datetime.now(dt.timezone.utc)
    click.echo(f"demo ran {time.monotonic() - started:.0f} s")
    for box in boxes:
        click.echo(summary(box, now))
