"""The box store's writer: the hash chain of batched emits, checkpoints off the writer."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future

import pytest

from edge.store import Store
from standard.envelope import GENESIS, chain_hash
from tests.integration.relay_harness import wait_for


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


def test_records_emitted_together_chain_like_records_emitted_one_by_one(store):
    store.write(lambda tx: tx.emit("note", {"n": 0}))
    store.write(lambda tx: tx.emit_json_many("note", ['{"n":1}', '{"n":2}']))
    rows = store.query("select seq, body, hash from outbox order by seq")
    assert [row["seq"] for row in rows] == [1, 2, 3]
    previous = GENESIS
    for n, row in enumerate(rows):
        assert row["body"].endswith(f'"body":{{"n":{n}}}}}')
        previous = chain_hash(previous, row["body"].encode())
        assert row["hash"] == previous


def test_commits_reach_the_database_file_soon_after(store):
    """The checkpointer copies the WAL into the file (and syncs it) without the writer."""
    store.write(lambda tx: tx.emit("note", {"n": 1}))

    def in_the_file() -> bool:  # immutable: the database file alone, without the WAL
        uri = f"file:{store.path}?immutable=1"
        with sqlite3.connect(uri, uri=True) as conn:
            try:
                return conn.execute("select count(*) from outbox").fetchone()[0] == 1
            except sqlite3.DatabaseError:  # the table not in the file yet, or a checkpoint
                return False               # copying pages right now (read as "malformed")

    wait_for(in_the_file, 10, what="the outbox row in the database file")


def test_closing_the_store_ends_its_threads(tmp_path):
    with Store(tmp_path / "closing.db", box_id="440605-01") as store:
        store.write(lambda tx: tx.emit("note", {"n": 1}))
    names = {thread.name for thread in threading.enumerate()}
    assert not {"store-writer:closing.db", "checkpoint:closing.db"} & names


def test_a_store_from_before_the_backlog_judges_every_case_once(tmp_path):
    """Cases loaded by an older box were never judged if they had finished: all are marked."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table cases (case_no text primary key, item_code text not null,"
                     " dept_code text not null, district_code text not null, case_type text,"
                     " stage text, is_open integer not null, facts text not null,"
                     " updated_at text not null)")
        conn.executemany("insert into cases values (?, 'I', 'D', '440605', null, '办结', 0,"
                         " '{}', '2026-11-01')", [("C1",), ("C2",)])
    with Store(path, box_id="440605-01") as store:
        marked = {row["case_no"] for row in store.query("select case_no from cases_to_judge")}
    assert marked == {"C1", "C2"}
    with Store(path, box_id="440605-01") as store:  # once only: judging removes the marks
        store.write(lambda tx: tx.conn.execute("delete from cases_to_judge"))
    with Store(path, box_id="440605-01") as store:
        assert store.query("select count(*) as n from cases_to_judge")[0]["n"] == 0


def test_a_click_waits_for_the_transaction_in_progress_not_for_a_backlog(store):
    """Bulk jobs (a platform's records) go after every other queued job, in their order, one
    a group: a click is committed and answered before the queued backlog even starts."""
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    answered: dict[str, Future] = {}

    def holding(tx):
        started.set()
        release.wait(10)
        ran.append("in progress")

    def job(name: str):
        def run(tx):
            ran.append(f"{name} after {sorted(n for n, f in answered.items() if f.done())}")
        return run

    answered["in progress"] = store.submit(holding, bulk=True)
    assert started.wait(10)
    for name in ("chunk 1", "chunk 2"):
        answered[name] = store.submit(job(name), bulk=True)
    answered["click"] = store.submit(job("click"))
    release.set()
    for future in answered.values():
        future.result(timeout=10)
    assert ran == ["in progress", "click after ['in progress']",
                   "chunk 1 after ['click', 'in progress']",
                   "chunk 2 after ['chunk 1', 'click', 'in progress']"]


def test_closing_runs_every_queued_bulk_job_first(tmp_path):
    store = Store(tmp_path / "box.db", box_id="440605-01").open()
    jobs = [store.submit(lambda tx, n=n: tx.emit("note", {"n": n}), bulk=True) for n in range(5)]
    store.close()
    assert [job.result(timeout=0) for job in jobs] == [1, 2, 3, 4, 5]


def test_a_store_from_before_renewed_alerts_keeps_its_alerts_and_allows_a_new_one(tmp_path):
    """An older box kept one alert per (subject, rule) in the table itself: the table is rebuilt
    once, every alert (and its id) kept; a withdrawn alert then leaves room for a new one, a
    live one does not."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table alerts (id integer primary key, subject text not null,"
                     " rule text not null, level text not null, state text not null,"
                     " detail text not null, opened_at text not null, updated_at text not null,"
                     " case_no text, dept_code text, card text, card_due text, cleared_at text,"
                     "\n    unique(subject, rule))")
        conn.execute("create index alerts_case on alerts(case_no)")
        conn.executemany("insert into alerts (id, subject, rule, level, state, detail, opened_at,"
                         " updated_at, case_no) values (?, ?, '程序异常', 'red', ?, 'd', 't', 't',"
                         " ?)", [(7, "case:A", "withdrawn", "A"), (9, "case:B", "open", "B")])
    with Store(path, box_id="440605-01") as store:
        rows = store.query("select id, subject, state, liability from alerts order by id")
        assert [(r["id"], r["subject"], r["state"]) for r in rows] == \
            [(7, "case:A", "withdrawn"), (9, "case:B", "open")]
        indexes = {r["name"] for r in store.query(
            "select name from sqlite_master where type = 'index' and tbl_name = 'alerts'")}
        assert {"alerts_case", "alerts_live"} <= indexes

        def insert(tx, subject):
            tx.conn.execute("insert into alerts (subject, rule, level, state, detail, opened_at,"
                            " updated_at) values (?, '程序异常', 'red', 'open', 'd', 't', 't')",
                            (subject,))
        store.write(lambda tx: insert(tx, "case:A"))  # after the withdrawn one: a new alert
        with pytest.raises(sqlite3.IntegrityError):
            store.write(lambda tx: insert(tx, "case:B"))  # beside a live one: refused
    with Store(path, box_id="440605-01") as store:  # once only
        assert store.query("select count(*) as n from alerts")[0]["n"] == 3
