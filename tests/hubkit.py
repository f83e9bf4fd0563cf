"""Test helpers for the hub's dashboard: a hub folder with simulated records, users, sign-in.

``seeded_hub(folder)`` writes hub.toml and the city catalogue, feeds five simulated boxes'
records through ``HubStore.apply_batch`` (the receiver's own path) and returns the open
dashboard. Building it takes a second or two, so the tests build one per session and copy
the folder for tests that change it (``copy_hub``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from hallwatch.hubsim import SimBox, city_catalogue, feed
from hub.config import load_hub_config
from hub.store import HubStore
from hub.wiring import Dashboard, wire_dashboard
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ
from tests.pgcluster import new_database_name

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)
START = dt.date(2026, 9, 21)
USERS = {  # username: (role, scope)
    "nanhai": ("district", "440605"),
    "shunde": ("district", "440606"),
    "scj": ("department", "SCJ"),
    "viewer": ("city", None),
}


class Clock:
    def __init__(self, at: dt.datetime = NOW):
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def write_hub_folder(folder: Path, database: str | None = None, **web) -> Path:
    """hub.toml and the city catalogue; ``database``: a PostgreSQL URL, None for SQLite."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.json").write_text(
        json.dumps(city_catalogue(DISTRICTS), ensure_ascii=False), encoding="utf-8")
    settings = {"version": 1, "catalogue": "catalogue.json",
                "web": {"host": "127.0.0.1", "port": 0, "serve_portal": True, **web}}
    if database:
        settings["database"] = {"url": database}
    path = folder / "hub.toml"
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return path


def dashboard_on(folder: Path, hub_database, at: dt.datetime) -> Dashboard:
    """A hub in ``folder`` on ``hub_database`` (conftest's fixture: a SQLite path or a
    PostgreSQL URL), its clock stopped at ``at``."""
    write_hub_folder(folder, None if isinstance(hub_database, Path) else hub_database)
    return open_dashboard(folder, Clock(at))


def open_dashboard(folder: Path, clock=None, *, with_web: bool = False) -> Dashboard:
    config = load_hub_config(folder / "hub.toml")
    store = HubStore(config.store_target)
    dashboard = wire_dashboard(config, store, clock=clock or Clock(), with_web=with_web)
    store.open()
    return dashboard


def seeded_hub(folder: Path, *, cases_per_day: int = 3, database: str | None = None
               ) -> Dashboard:
    """A hub folder whose store holds ~6 weeks of five boxes' records, plus test users."""
    write_hub_folder(folder, database)
    dashboard = open_dashboard(folder)
    for code in DISTRICTS:
        box = SimBox(f"{code}-01", code)
        feed(dashboard.data.store, box, box.history(START, 60, cases_per_day, today=NOW.date()))
        dashboard.data.store.touch_box(box.box_id, code, backlog=0)
    return dashboard


def add_users(dashboard: Dashboard) -> dict[str, str]:
    """The USERS plus a city administrator; username → password."""
    users = dashboard.users.setup()
    # Chosen passwords, as a user has after the first sign-in (generated ones are one-time).
    passwords = {name: users.add(name, role, scope, password=f"{name}-password-1")
                 for name, (role, scope) in USERS.items()}
    passwords["chief"] = users.add("chief", "city", None, is_admin=True,
                                   password="chief-password-1")
    return passwords


def checkpoint(dashboard: Dashboard) -> None:
    """Make the store copyable: SQLite's WAL folded into the file; PostgreSQL's connections
    closed (a database with sessions cannot be a template)."""
    store = dashboard.data.store
    if store.is_postgres:
        store.close()
        return
    conn = sqlite3.connect(store.path)
    try:
        conn.execute("pragma wal_checkpoint(truncate)")
    finally:
        conn.close()


def copy_hub(source: Path, target: Path, clock=None) -> Dashboard:
    """A copy of a checkpointed hub folder and of its database (PostgreSQL: a new database
    made from the source as template)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.db-shm"))
    url = load_hub_config(target / "hub.toml").database.url
    if url:
        settings = tomllib.loads((target / "hub.toml").read_text(encoding="utf-8"))
        settings["database"]["url"] = clone_database(url)
        (target / "hub.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
    return open_dashboard(target, clock)


def clone_database(url: str) -> str:
    """A new database copied from the one at ``url`` (which must have no sessions)."""
    import psycopg

    source = url.rsplit("/", 1)[1].split("?")[0]
    name = new_database_name()
    with psycopg.connect(url.replace(f"/{source}", "/postgres", 1), autocommit=True) as conn:
        conn.execute(f'create database "{name}" template "{source}"')
    return url.replace(f"/{source}", f"/{name}", 1)


@dataclass
class Signed:
    client: object
    csrf: str


def sign_in(app, username: str, password: str) -> Signed:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = client.get("/", follow_redirects=True).get_data(as_text=True)  # or 修改密码 first
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return Signed(client, token)


def case_of(dashboard: Dashboard, district: str, dept: str | None = None,
            open_only: bool = False) -> str:
    sql = "select case_no from hub_cases where district_code = ?"
    params: list = [district]
    if dept:
        sql += " and dept_suffix = ?"
        params.append(dept)
    if open_only:
        sql += " and is_open = 1"
    rows = dashboard.data.store.query(sql + " order by case_no limit 1", tuple(params))
    return rows[0]["case_no"]


# -- cards as boxes relay them ---------------------------------------------------------------
CARD_AT = dt.datetime(2026, 11, 19, 9, 0, tzinfo=LOCAL_TZ)
EXPLANATION = "系统升级停机两日，已加派人手，预计三日内办结。"


def card_records(box: SimBox, store, count: int) -> list[tuple]:
    """``count`` active cards on the unit's open cases, as a box relays them."""
    stamp = CARD_AT.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
    cases = store.query("select case_no, dept_code from hub_cases where district_code = ?"
                        " and is_open = 1 order by case_no", (box.district_code,))
    records = []
    for n in range(count):
        case = cases[n % len(cases)]
        alert_id = 50_000 + n
        red = n % 3 == 0
        due = "2026-11-10" if n % 4 == 0 else "2026-11-30"  # before or after NOW (11-20)
        records.append(box.record("alert", {
            "id": alert_id, "subject": f"case:{case['case_no']}", "rule": "超期",
            "level": "red", "state": "explained" if n % 5 == 0 else "open",
            "detail": f"超期：{case['case_no']}", "opened_at": stamp, "updated_at": stamp,
            "case_no": case["case_no"], "dept_code": case["dept_code"],
            "card": "red" if red else "yellow", "card_due": due, "cleared_at": None}, CARD_AT))
        if n % 5 == 0:
            records.append(box.record("alert_event", {
                "id": 50_000 + n, "alert_id": alert_id, "at": stamp, "actor": "承办科（dept）",
                "action": "explain", "from_state": "open", "to_state": "explained",
                "note": EXPLANATION}, CARD_AT))
        records.append(box.record("notice", {
            "number": f"测试电监〔2026〕{1000 + n}号", "kind": "整改建议书" if red else "限期办理通知书",
            "district_code": box.district_code, "year": 2026, "seq": 1000 + n,
            "alert_id": alert_id, "case_no": case["case_no"], "dept_code": case["dept_code"],
            "issued_at": stamp, "issued_on": "2026-11-19", "due_on": due,
            "content": {"version": 1}}, CARD_AT))
    return records


def feed_cards(store, per_unit: int) -> None:
    """``per_unit`` active cards in each unit: a third red, a quarter overdue on NOW, a fifth
    explained (说明理由), each with a notice numbered 测试电监〔2026〕10xx号."""
    for code in DISTRICTS:
        box = SimBox.continuing(store, f"{code}-01", code)
        feed(store, box, card_records(box, store, per_unit))


# -- a real hub process ---------------------------------------------------------------------
REPO = Path(__file__).resolve().parent.parent


def init_hub_folder(folder: Path) -> Path:
    """``hallwatch provision hub-init`` into ``folder`` (loopback, any free ports); hub.toml."""
    from click.testing import CliRunner

    from hallwatch.cli import main

    made = CliRunner().invoke(main, ["provision", "hub-init", "--dir", str(folder),
                                     "--bind", "tcp://127.0.0.1:0"])
    assert made.exit_code == 0, made.output
    toml = folder / "hub.toml"
    values = tomllib.loads(toml.read_text(encoding="utf-8"))
    values.setdefault("web", {}).update(port=0, serve_portal=True)
    toml.write_text(tomli_w.dumps(values), encoding="utf-8")
    return toml


@dataclass
class RunningHub:
    config: Path
    process: subprocess.Popen
    lines: list[str]
    url: str

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def one_time_password(self, username: str = "admin") -> str:
        """``hallwatch hub user reset`` as the deployer runs it on a terminal: the password."""
        answer = subprocess.run(
            [sys.executable, "-m", "hallwatch", "hub", "user", "reset", "--name", username,
             "--config", str(self.config)], capture_output=True, text=True, cwd=REPO,
            timeout=60, check=True)
        return re.search(r"新密码：(\S+)", answer.stdout)[1]


def start_hub(config: Path, timeout: float = 30) -> RunningHub:
    """Run ``hallwatch hub serve`` and wait until its pages are served (stdout is kept)."""
    process, lines = start_hub_process(["serve", "--config", str(config)], "hub web serving",
                                       timeout)
    url = re.search(r"hub web serving (http://\S+?)/?\s", "".join(lines))[1]
    return RunningHub(config, process, lines, url)


def start_hub_process(args: list[str], ready_text: str, timeout: float = 30
                      ) -> tuple[subprocess.Popen, list[str]]:
    """Run ``hallwatch hub ARGS...`` until it prints ``ready_text``; its output lines so far
    (the list grows as it prints)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "hallwatch", "hub", *args], cwd=REPO,
                               env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            lines.append(line)
            if ready_text in line:
                ready.set()
        ready.set()  # the process ended

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        raise AssertionError(f"hallwatch hub {args[0]} did not start:\n" + "".join(lines))
    return process, lines


def captcha_answer(secret: bytes, token: str) -> str:
    """The answer to a portal captcha. It is only in the image; a test that holds the app's
    secret finds it from the token's MAC (there are a few hundred possible answers)."""
    from web.portal.captcha import _mac

    expires, nonce, mac = token.split(".")
    (value,) = [value for value in range(-20, 400)
                if _mac(secret, int(expires), nonce, value) == mac]
    return str(value)


def web_secret(dashboard: Dashboard) -> bytes:
    """The hub web app's secret key, as ``init_auth`` keeps it in the data folder."""
    config = dashboard.config
    return bytes.fromhex((config.path(config.data_dir) / "hub-web.secret").read_text().strip())


# The joint case (联办件) of tests/unit/test_hub_joint.py (its story is told there).
JOINT = "440605-FGJ-010"
CASE = "NH-JOINT-1"


def joint_case(box: SimBox) -> list[tuple]:
    case = {"case_no": CASE, "item": {"item_code": JOINT, "dept_code": "440605FGJ"}}

    def at(day: str, hour: int = 9) -> dt.datetime:
        return dt.datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00+08:00")

    return [box._event(case, "申请", at("11-02"), case_type="联办件"),
            box._event(case, "受理", at("11-02", 10)),
            box._event(case, "分送", at("11-04"), to_dept_code="440605JTJ"),
            box._event(case, "承办", at("11-05"), dept_code="440605JTJ"),
            box._event(case, "承办", at("11-05", 10)),
            box._event(case, "反馈", at("11-16"), dept_code="440605ZJJ", reason="同意")]
