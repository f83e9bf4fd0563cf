"""Every database, log, snapshot and key file is 0600 in a 0700 folder, whatever the umask
(issue 15, item 9). The servers run as real processes started with a login shell's umask
(0022), as a technician or deployer starting them by hand would.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from edge.presence.evidence import SnapshotStore
from edge.supervision.notify import Message
from edge.supervision.notify.log import LogNotifier
from tests.boxes import start_box, write_box_folder
from tests.hubkit import init_hub_folder, start_hub
from tests.webclient import WebClient

EVENT = ('{"event_id": "NH-M-1", "case_no": "NH-M-1", "item_code": "440605-SCJ-001",'
         ' "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",'
         ' "occurred_at": "2026-11-16T09:00:00+08:00", "actor": {"id": "S1", "name": "李敏"}}')


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path, names: list[str]) -> dict[str, int]:
    return {name: mode(folder / name) for name in names}


@pytest.fixture
def shell_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_box_started_from_a_shell_keeps_its_files_private(tmp_path, shell_umask):
    write_box_folder(tmp_path, district_name="南海区")
    box = start_box(tmp_path)
    try:
        status, answer = box.post("/api/v1/platform/events", f"[{EVENT}]".encode())
        assert status == 200 and answer["accepted"] == 1
        WebClient(box.url).get("/login")  # a session row: users and sessions are in box.db
        data = tmp_path / "data"
        assert mode(data) == 0o700
        assert modes(data, ["box.db", "box.db-wal", "box.db-shm", "web.secret"]) == dict.fromkeys(
            ["box.db", "box.db-wal", "box.db-shm", "web.secret"], 0o600)
        assert not [p.name for p in data.rglob("*") if p.is_file() and mode(p) & 0o077]
    finally:
        box.stop()


def test_a_hub_started_from_a_shell_keeps_its_files_private(tmp_path, shell_umask):
    folder = tmp_path / "hub"
    hub = start_hub(init_hub_folder(folder))
    try:
        WebClient(hub.url).get("/login")  # users.db gets a session row
        WebClient(hub.url).get("/portal/")  # and portal-limits.db a counted request
        data = folder / "data"
        assert mode(data) == 0o700 and mode(folder / "keys") == 0o700
        files = ["hub.db", "hub.db-wal", "hub.db-shm", "users.db", "portal-limits.db",
                 "hub-web.secret"]
        assert modes(data, files) == dict.fromkeys(files, 0o600)
        assert not [p.name for p in data.rglob("*") if p.is_file() and mode(p) & 0o077]
        assert mode(folder / "keys" / "hub.identity.json") == 0o600
    finally:
        hub.stop()


def test_the_notification_log_and_evidence_snapshots_are_private(tmp_path, shell_umask):
    log = tmp_path / "data" / "notifications.log"
    LogNotifier(log).send(Message(1, "log", 7, None, "440605SCJ", "王芳", "13800138000",
                                  "请于今日内办结", "2026-11-17T02:00:00+00:00"))
    assert "13800138000" in log.read_text(encoding="utf-8")
    assert (mode(tmp_path / "data"), mode(log)) == (0o700, 0o600)
    snapshots = SnapshotStore(tmp_path / "data" / "snapshots", quota_bytes=100_000)
    saved = snapshots.save("presence-1", dt.datetime(2026, 11, 17, 2, tzinfo=dt.timezone.utc),
                           b"\xff\xd8roi", b"\xff\xd8frame")
    assert len(saved) == 2 and {mode(path) for path in saved} == {0o600}
    assert {mode(path) for path in (tmp_path / "data" / "snapshots").rglob("*")
            if path.is_dir()} | {mode(tmp_path / "data" / "snapshots")} == {0o700}
