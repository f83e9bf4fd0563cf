"""standard/files.py: private files are 0600 in 0700 folders whatever the umask (issue 15 item 9)."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading

import pytest

from standard.files import open_private, private_dir, private_sqlite, write_private


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def shell_umask():
    """The umask of a login shell: what made files 0644 in 0755 folders."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_database_and_its_wal_and_shm_are_0600_in_0700_folders(tmp_path):
    path = private_sqlite(tmp_path / "data" / "deep" / "box.db")
    conn = sqlite3.connect(path)
    conn.execute("pragma journal_mode=wal")
    conn.execute("create table t (x)")
    conn.execute("insert into t values (1)")
    conn.commit()
    assert (tmp_path / "data" / "deep" / "box.db-wal").exists()
    for name in ("box.db", "box.db-wal", "box.db-shm"):
        assert mode(tmp_path / "data" / "deep" / name) == 0o600, name
    assert mode(tmp_path / "data") == mode(tmp_path / "data" / "deep") == 0o700
    conn.close()


def test_existing_wide_files_and_folders_are_tightened(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    (folder / "hub.db").write_bytes(b"")
    (folder / "hub.db-wal").write_bytes(b"")
    os.chmod(folder / "hub.db", 0o644)
    os.chmod(folder / "hub.db-wal", 0o644)
    private_dir(folder, tighten=True)  # the data folder is hallwatch's own
    private_sqlite(folder / "hub.db")
    assert (mode(folder), mode(folder / "hub.db"), mode(folder / "hub.db-wal")) == (
        0o700, 0o600, 0o600)


def test_a_folder_chosen_by_someone_else_keeps_its_mode(tmp_path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: a report or log put there must not close it
    write_private(shared / "selftest.json", b"{}")
    with open_private(shared / "notifications.log") as log:
        log.write("x\n")
    assert mode(shared) == 0o1777
    assert mode(shared / "selftest.json") == mode(shared / "notifications.log") == 0o600


def test_written_and_appended_files_are_0600(tmp_path):
    key = write_private(tmp_path / "keys" / "box.identity.json", b'{"version": 1}')
    assert key.read_bytes() == b'{"version": 1}' and mode(key) == 0o600
    assert mode(tmp_path / "keys") == 0o700
    write_private(key, b'{"version": 2}')  # replaced whole, still private
    assert key.read_bytes() == b'{"version": 2}' and mode(key) == 0o600
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["box.identity.json"]
    with open_private(tmp_path / "logs" / "notifications.log") as log:
        log.write("第一行\n")
    with open_private(tmp_path / "logs" / "notifications.log") as log:
        log.write("第二行\n")
    assert (tmp_path / "logs" / "notifications.log").read_text(encoding="utf-8") == "第一行\n第二行\n"
    assert mode(tmp_path / "logs" / "notifications.log") == 0o600


def test_folders_made_by_many_threads_at_once(tmp_path):
    errors: list[BaseException] = []

    def make(n: int) -> None:
        try:
            private_dir(tmp_path / "snapshots" / "2026-11-17" / f"cam-{n % 3}")
        except BaseException as exc:  # pragma: no cover - the failure is the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert {mode(p) for p in (tmp_path / "snapshots").rglob("*")} == {0o700}
