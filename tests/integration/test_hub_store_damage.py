"""Issue 15: the hub checks its SQLite database with ``PRAGMA quick_check`` at start-up and
periodically, and shows damage on its overview, never as a crash loop.

A real ``hallwatch hub serve`` process on a hub.db holding six weeks of one box's records,
whose index pages were overwritten in place as a failing disk would.
"""

from __future__ import annotations

import sqlite3

from hallwatch.hubsim import SimBox, feed
from hub.config import load_hub_config
from tests.integration.relay_harness import wait_for
from tests.hubkit import NOW, START, add_users, init_hub_folder, open_dashboard, start_hub
from tests.unit.test_store_integrity import corrupt
from tests.webclient import WebClient


def seeded(folder):
    """A provisioned hub folder whose hub.db holds records; the admin 'chief' signs in."""
    config_path = init_hub_folder(folder)
    dashboard = open_dashboard(folder)
    box = SimBox("440605-01", "440605")
    feed(dashboard.data.store, box, box.history(START, 40, 3, today=NOW.date()))
    add_users(dashboard)
    dashboard.data.store.close()
    db = load_hub_config(config_path).db_path
    with sqlite3.connect(db) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")
    return config_path, db


def overview(hub) -> str:
    client = WebClient(hub.url)
    assert client.sign_in("chief", "chief-password-1").status == 302
    answer = client.get("/")
    assert answer.status == 200
    return answer.body


def test_a_sound_hub_database_shows_no_damage(tmp_path):
    config_path, _db = seeded(tmp_path / "hub")
    hub = start_hub(config_path)
    try:
        assert "数据库损坏" not in overview(hub)
    finally:
        assert hub.stop() == 0


def test_a_damaged_hub_database_is_shown_on_the_overview_not_a_crash(tmp_path):
    config_path, db = seeded(tmp_path / "hub")
    corrupt(db, index="hub_cases_dept_id")
    hub = start_hub(config_path)  # it starts and serves: the check runs on its own thread
    try:
        wait_for(lambda: "hub database damaged" in "".join(hub.lines), 30,
                 what="the start-up check's report", detail=lambda: "".join(hub.lines))
        page = overview(hub)
        assert "市中心数据库损坏" in page and str(db) in page
        assert "hallwatch hub reinit --config hub.toml --confirm" in page
        assert hub.process.poll() is None  # still running, not a crash loop
    finally:
        assert hub.stop() == 0
