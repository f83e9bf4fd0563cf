"""Test helpers for the hub's dashboard: a hub folder with simulated records, users, sign-in.

``seeded_hub(folder)`` writes hub.toml and the city catalogue, feeds five simulated boxes'
records through ``HubStore.apply_batch`` (the receiver's own path) and returns the open
dashboard. Building it takes a second or two, so the tests build one per session and copy
the folder for tests that change it (``copy_hub``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from hallwatch.hubsim import SimBox, city_catalogue, feed
from hub.config import load_hub_config
from hub.store import HubStore
from hub.wiring import Dashboard, wire_dashboard
from standard.districts import DISTRICTS
from standard.records import LOCAL_TZ

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


def write_hub_folder(folder: Path, **web) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalogue.json").write_text(
        json.dumps(city_catalogue(DISTRICTS), ensure_ascii=False), encoding="utf-8")
    settings = {"version": 1, "catalogue": "catalogue.json",
                "web": {"host": "127.0.0.1", "port": 0, **web}}
    path = folder / "hub.toml"
    path.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return path


def open_dashboard(folder: Path, clock=None, *, with_web: bool = False) -> Dashboard:
    config = load_hub_config(folder / "hub.toml")
    store = HubStore(config.db_path)
    dashboard = wire_dashboard(config, store, clock=clock or Clock(), with_web=with_web)
    store.open()
    return dashboard


def seeded_hub(folder: Path, *, cases_per_day: int = 3) -> Dashboard:
    """A hub folder whose store holds ~6 weeks of five boxes' records, plus test users."""
    write_hub_folder(folder)
    dashboard = open_dashboard(folder)
    for code in DISTRICTS:
        box = SimBox(f"{code}-01", code)
        feed(dashboard.data.store, box, box.history(START, 60, cases_per_day, today=NOW.date()))
        dashboard.data.store.touch_box(box.box_id, code, backlog=0)
    return dashboard


def add_users(dashboard: Dashboard) -> dict[str, str]:
    """The USERS plus a city administrator; username → password."""
    users = dashboard.users.setup()
    passwords = {name: users.add(name, role, scope) for name, (role, scope) in USERS.items()}
    passwords["chief"] = users.add("chief", "city", None, is_admin=True)
    return passwords


def checkpoint(dashboard: Dashboard) -> None:
    """Fold the WAL into the database file, so that copying the folder copies everything."""
    conn = sqlite3.connect(dashboard.data.store.path)
    try:
        conn.execute("pragma wal_checkpoint(truncate)")
    finally:
        conn.close()


def copy_hub(source: Path, target: Path, clock=None) -> Dashboard:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.db-shm"))
    return open_dashboard(target, clock)


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
    page = client.get("/").get_data(as_text=True)
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
