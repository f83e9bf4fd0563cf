"""A damaged database is reported on the health page and refuses new records; never a crash.

A real box (build_box, real SQLite file) behind the Flask test client; the database file is
damaged underneath it, as a failing SD card would, and the integrity check runs.
"""

from __future__ import annotations

import json
import re
import sqlite3

from edge.app import build_box
from edge.config import load_box_config
from tests.boxes import write_box_folder
from tests.integration.relay_harness import wait_for
from tests.unit.test_store_integrity import corrupt
from web.box import create_app

PASSWORD = "technician-password-1"


def event(n: int) -> dict:
    return {"event_id": f"D-{n}", "case_no": f"DC-{n}", "item_code": "440605-SCJ-002",
            "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
            "occurred_at": "2026-11-23T09:00:00+08:00", "actor": {"id": "S001", "name": "李敏"}}


def fold_wal(db) -> None:
    """Checkpoint until SQLite says it copied every frame: a reader of the box's own threads
    can make one attempt busy, and the index page then stays in the WAL over the damage."""
    with sqlite3.connect(db) as conn:
        wait_for(lambda: conn.execute("pragma wal_checkpoint(truncate)").fetchone()[0] == 0,
                 30, what="a complete checkpoint")


def test_damage_is_shown_and_refuses_records_while_pages_keep_working(tmp_path):
    box = build_box(load_box_config(write_box_folder(tmp_path))).start()
    try:
        app = create_app(box)
        app.config["TESTING"] = True
        app.extensions["users"].add("tech", "技术员", "technician", password=PASSWORD)
        api = app.test_client()
        headers = {"Authorization": f"Bearer {box.platform_token}"}
        body = json.dumps([event(n) for n in range(400)]).encode()
        assert api.post("/api/v1/platform/events", data=body, headers=headers).status_code == 200
        box.store_watch.checked.wait(10)
        assert box.store_watch.problem is None

        assert box.checker.wait_idle(timeout=60)  # the rule pass's writes done
        fold_wal(box.store.path)  # the WAL into the file, then damage the file
        corrupt(box.store.path, index="case_events_case")
        assert box.store_watch.run_once()  # the periodic check, now
        answer = api.post("/api/v1/platform/events", data=json.dumps([event(999)]).encode(),
                          headers=headers)
        assert answer.status_code == 503 and "数据库损坏" in answer.get_json()["error"]

        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        client.post("/login", data={"username": "tech", "password": PASSWORD,
                                    "csrf_token": csrf})
        health = client.get("/health")
        assert health.status_code == 200
        text = health.get_data(as_text=True)
        assert "数据库损坏" in text and "hallwatch edge reinit" in text
    finally:
        box.stop()
