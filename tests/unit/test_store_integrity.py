"""The store's identity and integrity: never a silent new start, damage reported (issue 15)."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from edge.store import Store
from edge.storetx import StoreError
from standard.storecheck import StoreWatch, quick_check
from edge.storeidentity import StoreLost


def make_store(folder, marker=True, rows: int = 0) -> tuple:
    db, mark = folder / "data" / "box.db", folder / "box.store.json"
    with Store(db, box_id="440605-01", marker=mark if marker else None) as store:
        for n in range(rows):
            store.write(lambda tx, n=n: tx.emit("note", {"n": n, "text": "x" * 200}))
    return db, mark


def test_the_first_start_writes_the_marker_and_later_starts_check_it(tmp_path):
    db, mark = make_store(tmp_path)
    marker = json.loads(mark.read_text(encoding="utf-8"))
    with sqlite3.connect(db) as conn:
        [(store_id,)] = conn.execute("select value from meta where key = 'store_id'")
    assert marker["store_id"] == store_id and marker["box_id"] == "440605-01"
    with Store(db, box_id="440605-01", marker=mark):
        pass  # the same database: fine


@pytest.mark.parametrize("how, words", [("missing", "不存在"), ("empty", "为空")])
def test_a_lost_database_is_refused_when_the_box_had_one(tmp_path, how, words):
    db, mark = make_store(tmp_path)
    db.unlink() if how == "missing" else db.write_bytes(b"")
    with pytest.raises(StoreLost, match=words) as caught:
        Store(db, box_id="440605-01", marker=mark).open()
    assert str(db) in str(caught.value) and "hallwatch edge reinit" in str(caught.value)
    assert not db.exists() or db.stat().st_size == 0  # nothing made in its place


def test_an_empty_or_foreign_file_is_refused_even_without_a_marker(tmp_path):
    db = tmp_path / "box.db"
    db.write_bytes(b"")
    with pytest.raises(StoreLost, match="为空"):
        Store(db, box_id="b").open()
    db.write_bytes(b"not a database at all" * 50)
    with pytest.raises(StoreLost, match="不是 SQLite 数据库"):
        Store(db, box_id="b").open()


def test_another_boxs_database_is_refused(tmp_path):
    db, mark = make_store(tmp_path / "one")
    other, _ = make_store(tmp_path / "two")
    db.unlink()
    other.rename(db)
    with pytest.raises(StoreLost, match="不是本箱体的数据库"):
        Store(db, box_id="440605-01", marker=mark).open()


def corrupt(db, index: str | None = None) -> None:
    """Overwrite b-tree page headers in place, as a failing SD card would: pages 4–12, or the
    root page of one ``index`` (the rest of the database, e.g. the sessions, still works)."""
    page = 4096
    pages = range(3, min(db.stat().st_size // page, 12))
    if index is not None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            [(root,)] = conn.execute("select rootpage from sqlite_master where name = ?", (index,))
        pages = [root - 1]
    with db.open("r+b") as handle:
        for number in pages:  # the page type and cell counts of each
            handle.seek(number * page)
            handle.write(b"\x0a\xff\xff\xff\xff\x00\xff\xff")


def test_quick_check_reports_damage_and_the_watch_tells_on_change(tmp_path):
    db, mark = make_store(tmp_path, rows=400)
    assert quick_check(db) is None
    changes: list[str | None] = []
    watch = StoreWatch(db, interval_seconds=3600, on_change=changes.append)
    assert watch.run_once() is None and changes == []  # sound: nothing to say
    corrupt(db)
    problem = watch.run_once()
    assert problem and str(db) in problem and changes == [problem]
    assert watch.run_once() == problem and len(changes) == 1  # said once, not every check


def test_a_failing_check_is_reported_not_raised(tmp_path):
    def broken(path):
        raise OSError("disk gone")
    watch = StoreWatch(tmp_path / "box.db", check=broken)
    assert "could not run" in watch.run_once()


def test_group_commit_answers_each_job_and_a_failing_job_fails_alone(tmp_path):
    with Store(tmp_path / "box.db", box_id="b") as store:
        gate = threading.Event()
        blocker = store.submit(lambda tx: gate.wait(10))  # the writer is busy: the rest queue
        good = [store.submit(lambda tx, n=n: tx.emit("note", {"n": n})) for n in range(5)]

        def bad(tx):
            tx.emit("note", {"n": "rolled back"})
            raise ValueError("this job fails")
        failing = store.submit(bad)
        last = store.submit(lambda tx: tx.emit("note", {"n": 5}))
        gate.set()
        blocker.result(10)
        assert [f.result(10) for f in good] == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="this job fails"):
            failing.result(10)
        assert last.result(10) == 6  # the failed job's row was rolled back alone
        rows = store.query("select seq, body from outbox order by seq")
    assert [json.loads(r["body"])["body"]["n"] for r in rows] == [0, 1, 2, 3, 4, 5]


def test_a_damaged_file_that_cannot_open_says_what_to_do(tmp_path):
    db, mark = make_store(tmp_path, rows=50)
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page is gone
    db.write_bytes(bytes(data))
    with pytest.raises((StoreError, StoreLost)) as caught:
        Store(db, box_id="440605-01", marker=mark).open()
    assert str(db) in str(caught.value) and "reinit" in str(caught.value)
