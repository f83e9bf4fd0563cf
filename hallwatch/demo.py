"""``hallwatch demo``: the whole chain on one machine: a city hub and six unit boxes (一市五区).

The demo provisions a fresh folder exactly as technicians do (``provision hub-init`` and
``provision box`` for the city level and each district: keys, enrollment, box.toml with a
[relay] section, the unit's own catalogue and its hall's profile ``firmware_cfg/halls/CODE.toml``,
whose windows carry only that unit's departments), starts
``hallwatch hub serve`` (dashboard, public portal and receiver) and the six boxes with
``hallwatch edge serve``, posts a few weeks of history and then live events to each box over
HTTP, and prints every URL and the first-login credentials the hub and the boxes print once.
Once the history has reached the hub it computes last month's scores (published) and this
month's (a draft). With ``--seconds N`` it stops by itself and prints a summary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import click
import tomli_w

from hallwatch.demo_feeds import PlatformFeed, platform_feed
from hallwatch.hubsim import city_catalogue
from hallwatch.sim import OFFICE_PERIODS, SERVICE_TIME, Hall, catalogue_for, in_office
from standard.districts import DISTRICTS, hall_name
from standard.files import open_private

BATCH = 500
NEW_CASE_CHANCE = 0.05  # per box and second in office hours: about three cases a minute


@dataclass
class Service:
    """A ``hallwatch ...`` child process whose output goes to a log and is watched for lines."""

    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)

    def start(self, *ready: str, timeout: float = 60) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "hallwatch", *self.args],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1, env=env)
        seen = threading.Event()

        def pump() -> None:
            with open_private(self.log_path, "a") as log:
                for line in self.process.stdout:
                    log.write(line)
                    log.flush()
                    self.lines.append(line.rstrip("\n"))
                    if any(marker in line for marker in ready):
                        seen.set()

        threading.Thread(target=pump, name=f"pump:{self.name}", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not seen.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise click.ClickException(f"{self.name} did not start; see {self.log_path}")

    def line_with(self, marker: str) -> str:
        return next((line for line in self.lines if marker in line), "")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> None:
        if self.process:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class DemoBox:
    code: str
    name: str
    folder: Path
    port: int
    service: Service | None = None
    url: str = ""
    sent: int = 0
    accepted: int = 0
    online: bool = True
    pending: list[dict] = field(default_factory=list)  # what the platform still has to send
    feed: PlatformFeed | None = None  # a 中间库 or drop folder instead of HTTP (demo_feeds.py)
    platform: Hall = field(init=False)

    def __post_init__(self) -> None:
        # The hall's own windows and their departments, so cases go to the right window.
        profile = tomllib.loads((HALL_PROFILES / f"{self.code}.toml").read_text("utf-8"))
        depts = {w["window_no"]: w["dept_code"] for w in profile["windows"]}
        self.platform = Hall(self.code, windows=len(depts), window_depts=depts)

    @property
    def config_path(self) -> Path:
        return self.folder / "box.toml"

    @property
    def token(self) -> str:
        return (self.folder / "keys" / "platform.token").read_text().strip()


# Each unit's hall: the 4-window example with the unit's own departments (checked against its
# catalogue when the box is provisioned and again when it starts).
HALL_PROFILES = Path(__file__).resolve().parents[1] / "firmware_cfg" / "halls"
# Simulated evaluator keys and cameras. The hall keeps its profile's office hours (08:30-12:00,
# 14:00-17:30) on the official calendar's working days, and so do its simulated staff: outside
# them the seats are empty and the pages say 非办公时间 (no absences at night). Each box starts
# with its staff's last three working days, so a demo started at night shows yesterday's office
# day on 离岗监测. 离岗 after 2 minutes away (5 in a hall), so a live demo shows some.
DEMO_HALL = {
    "simulate": True,
    "presence": {"absent_after_minutes": 2, "leave_grace_seconds": 10,
                 "simulated_history_days": 3},
}


def _rewrite_toml(path: Path, **changes) -> None:
    """Set top-level keys (or merge tables) in a config file the provisioning wrote."""
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        values[key] = {**values.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(tomli_w.dumps(values), encoding="utf-8")


def provision(folder: Path, base_port: int, hub_port: int, relay_port: int
              ) -> tuple[Path, list[DemoBox]]:
    """hub-init and one enrolled box per district; returns hub.toml and the boxes."""
    from provisioning.enrollment import init_hub, provision_box

    hub_config, _ = init_hub(folder / "hub", bind=f"tcp://127.0.0.1:{relay_port}")
    hub_toml = folder / "hub" / "hub.toml"
    (folder / "hub" / "catalogue.json").write_text(
        json.dumps(city_catalogue(DISTRICTS), ensure_ascii=False, indent=1), encoding="utf-8")
    _rewrite_toml(hub_toml, catalogue="catalogue.json",
                  web={"host": "127.0.0.1", "port": hub_port,
                       "serve_portal": True})  # one machine: the portal beside the dashboard
    boxes = []
    for n, (code, name) in enumerate(DISTRICTS.items(), start=1):
        catalogue = folder / "catalogues" / f"{code}.json"
        catalogue.parent.mkdir(parents=True, exist_ok=True)
        catalogue.write_text(json.dumps(catalogue_for(code), ensure_ascii=False, indent=1),
                             encoding="utf-8")
        box_dir = folder / "boxes" / code
        provision_box(hub_config, box_dir, code, f"{hall_name(code)}行政服务中心",
                      catalogue=catalogue, profile=HALL_PROFILES / f"{code}.toml")
        feed = platform_feed(code, folder)
        _rewrite_toml(box_dir / "box.toml", web={"host": "127.0.0.1", "port": base_port + n},
                      **DEMO_HALL, **({"sources": feed.sources()} if feed else {}))
        boxes.append(DemoBox(code, name, box_dir, base_port + n, feed=feed))
    return hub_toml, boxes


def by_case(events: list[dict]) -> list[dict]:
    """A platform's history case by case: each case's events in their order, the cases in
    the order they began.

    The box judges a case as of now. Six weeks sent in time order reach it in slices, so a
    case finished on time showed, between two slices, as open past its promised date: the box
    raised a 超期 alert and issued a yellow card on it (a card stays until someone explains
    it), and the halls had hundreds of false cards. Case by case, and no slice cutting a case
    (``_chunk_end``), every case is judged whole.
    """
    cases: dict[str, list[dict]] = {}
    for event in events:
        cases.setdefault(event.get("case_no", ""), []).append(event)
    return [event for case in cases.values() for event in case]


def _chunk_end(pending: list[dict]) -> int:
    """How many of ``pending`` to send in one request: up to BATCH, never half a case."""
    end = min(BATCH, len(pending))
    while end < len(pending) and pending[end].get("case_no") == pending[end - 1].get("case_no"):
        end += 1
    return end


def post_events(box: DemoBox, events: list[dict]) -> None:
    """Send ``events`` as the district platform would: in order, keeping what a box refused.

    A box that does not answer (stopped, restarting, or busy with 503) is marked offline and
    its events wait, as a real platform's do; the demo goes on with the other districts and
    sends the backlog once the box answers again. A district with a ``feed`` writes to its
    中间库 or drop folder instead, which its box reads by itself.
    """
    if box.feed is not None:
        box.sent += box.feed.send(events, now=len(events) > BATCH)
        return
    box.pending.extend(events)
    while box.pending:
        chunk = box.pending[:_chunk_end(box.pending)]
        request = urllib.request.Request(
            f"{box.url}/api/v1/platform/events",
            data="\n".join(json.dumps(e, ensure_ascii=False) for e in chunk).encode(),
            headers={"Authorization": f"Bearer {box.token}",
                     "Content-Type": "application/x-ndjson"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as exc:  # URLError, HTTPError, refused, reset, bad JSON
            if box.online:
                click.echo(f"{box.name} box offline ({exc}); its platform events wait "
                           f"({len(box.pending)} so far)", err=True)
            box.online = False
            return
        if not box.online:
            click.echo(f"{box.name} box back online; sending what waited", err=True)
            box.online = True
        del box.pending[:len(chunk)]
        box.sent += len(chunk)
        box.accepted += answer.get("accepted", 0)


def wait_for_relay(hub_db: Path, boxes: list[DemoBox], timeout: float = 90) -> bool:
    """True once every box's outbox has reached the hub (hub acked all it holds)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        if hub_db.exists():
            with sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=5) as conn:
                try:
                    rows = conn.execute("select box_id, backlog, contiguous_seq from boxes"
                                        ).fetchall()
                except sqlite3.OperationalError:
                    rows = []
            if len(rows) == len(boxes) and all(b == 0 and s > 0 for _, b, s in rows):
                return True
        pause.wait(1.0)
    return False


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
    sent = f"sent {box.sent} via {box.feed.label}" if box.feed else \
        f"sent {box.sent}, accepted {box.accepted}"
    return f"{box.name} {box.code}: {sent}; open cases: {shown}"


def _scores(hub_toml: Path, now: dt.datetime) -> None:
    """Last month published, this month as a draft, so that every score page has content."""
    this = f"{now:%Y-%m}"
    first = now.replace(day=1) - dt.timedelta(days=1)
    last = f"{first:%Y-%m}"
    for args in (("score", "--month", last), ("publish-scores", "--month", last),
                 ("score", "--month", this)):
        subprocess.run([sys.executable, "-m", "hallwatch", "hub", args[0], "--config",
                        str(hub_toml), *args[1:]], capture_output=True, text=True, timeout=120)
    click.echo(f"scores: {last} computed and published, {this} computed as a draft")


@click.command()
@click.option("--seconds", type=float, help="Stop by itself after this many seconds.")
@click.option("--dir", "folder", default=".demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Working folder; it is wiped and provisioned afresh.")
@click.option("--base-port", default=8100, show_default=True,
              help="Box web ports are base+1 … base+6 (127.0.0.1 only).")
@click.option("--hub-port", default=8000, show_default=True,
              help="The hub's dashboard and portal (127.0.0.1 only).")
@click.option("--relay-port", default=7700, show_default=True,
              help="Where the hub receives the boxes' batches (127.0.0.1 only).")
def demo(seconds: float | None, folder: Path, base_port: int, hub_port: int,
         relay_port: int) -> None:
    """Run the city hub and six unit boxes (市本级, 禅城, 南海, 顺德, 三水, 高明) with live feeds."""
    if folder.exists():
        shutil.rmtree(folder)
    folder = folder.resolve()
    hub_toml, boxes = provision(folder, base_port, hub_port, relay_port)
    hub = Service("hub", ["hub", "serve", "--config", str(hub_toml)], folder / "hub" / "hub.log")
    started = time.monotonic()
    # Six weeks of history, so that last month has cases to score too. A 中间库 or drop folder
    # holds its platform's history before the box is installed (and so before the box's first
    # daily reconciliation counts yesterday); the other platforms post theirs to the box.
    now = dt.datetime.now(dt.timezone.utc)
    history = {box.code: by_case(box.platform.history(now - dt.timedelta(days=42), now, 12))
               for box in boxes}
    for box in boxes:
        if box.feed is not None:
            post_events(box, history.pop(box.code))
    try:
        hub.start("公众门户", "集中监察页面未启动")
        for box in boxes:
            box.service = Service(box.name, ["edge", "serve", "--config", str(box.config_path)],
                                  box.folder / "box.log")
            box.service.start(" serving ")
            box.url = box.service.line_with(" serving ").strip().rsplit(" ", 1)[-1]
        _announce(hub, hub_toml, boxes)
        for box in boxes:
            if box.code in history:
                post_events(box, history.pop(box.code))
        click.echo("history loaded; live events in office hours. Ctrl-C to stop.")
        if wait_for_relay(folder / "hub" / "data" / "hub.db", boxes):
            _scores(hub_toml, dt.datetime.now(dt.timezone.utc))
        tick, quiet = threading.Event(), False
        while seconds is None or time.monotonic() - started < seconds:
            now = dt.datetime.now(dt.timezone.utc)
            serving = in_office(now) and in_office(now + SERVICE_TIME)
            if not serving and not quiet:
                hours = "、".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in OFFICE_PERIODS)
                click.echo(f"非办公时间：模拟的审批平台不产生新办件，工作日 {hours} 自动继续 "
                           "(outside office hours the simulated platforms are quiet)")
            quiet = not serving
            for box in boxes:
                events = box.platform.due(now)
                if not quiet and box.platform.rng.random() < NEW_CASE_CHANCE:
                    events += box.platform.accept(now)
                post_events(box, events)
            tick.wait(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        services = [box.service for box in boxes if box.service] + [hub]
        for service in services:
            service.stop()
        for service in services:
            service.wait()
    now = dt.datetime.now(dt.timezone.utc)
    click.echo(f"demo ran {time.monotonic() - started:.0f} s")
    for box in boxes:
        click.echo(summary(box, now))
    click.echo(hub_summary(folder / "hub" / "data" / "hub.db"))


def hub_summary(hub_db: Path) -> str:
    if not hub_db.exists():
        return "hub: no database"
    with sqlite3.connect(f"file:{hub_db}?mode=ro", uri=True, timeout=5) as conn:
        records = conn.execute("select count(*) from records").fetchone()[0]
        lights = dict(conn.execute("select light, count(*) from hub_cases where is_open = 1"
                                   " group by light").fetchall())
    shown = ", ".join(f"{k} {lights.get(k, 0)}" for k in ("green", "yellow", "red", "unknown"))
    return f"hub: {records} records from the boxes; open cases: {shown}"


def _announce(hub: Service, hub_toml: Path, boxes: list[DemoBox]) -> None:
    web = hub.line_with("hub web serving").rsplit(" ", 1)[-1] or "(未启动，见 hub.log)"
    click.echo(f"市电子监察中心 dashboard: {web}")
    click.echo(f"公众门户 public portal:   {web.rstrip('/')}/portal/" if web.startswith("http")
               else hub.line_with("集中监察页面未启动"))
    hub_reset = ["hub", "user", "reset", "--name", "admin", "--config", str(hub_toml)]
    click.echo(f"  {_admin_login(hub_reset)}")
    for box in boxes:
        click.echo(f"{box.name} box: {box.url}/  (platform token in "
                   f"{box.folder / 'keys' / 'platform.token'})")
        box_reset = ["edge", "user", "reset", "admin", "--config", str(box.config_path)]
        click.echo(f"  {_admin_login(box_reset)}")


def _admin_login(reset: list[str]) -> str:
    """The administrator's one-time password, for this terminal only (never a log file).

    The services print no password into their logs; ``user reset`` gives one, as it does a
    technician. When the demo's own output is not a terminal the line names the command.
    """
    command = "hallwatch " + " ".join(reset)
    if not sys.stdout.isatty():
        return f"管理员 admin：一次性密码只在终端上显示，请运行 {command}"
    answer = subprocess.run([sys.executable, "-m", "hallwatch", *reset], capture_output=True,
                            text=True, timeout=60)
    found = re.search(r"密码：(\S+)", answer.stdout)
    if answer.returncode or not found:
        problem = answer.stderr.strip()[:200]
        return f"管理员 admin：未能取得一次性密码（{problem}），请运行 {command}"
    return f"管理员 admin 一次性密码 {found[1]}（只在终端上显示；首次登录后须设置自己的密码）"
