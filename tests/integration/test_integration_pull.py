"""The 中间库 pull on real databases (SQLite and PostgreSQL): every row stored exactly once,
even across a kill -9 of a running ``hallwatch edge serve`` between read and commit."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from edge.integration import INTEGRATION_SCHEMA, Mapping, RowMapper, Sink, source_states
from edge.integration.pull import DatabasePull, DatabaseReader
from edge.integration.worker import SourceWorker
from edge.store import Store
from edge.supervision import SUPERVISION_SCHEMA
from hallwatch.exchange import MAPPING_FILE, Exchange
from hallwatch.sim import Platform
from standard.configfile import load_toml
from tests.boxes import start_box, write_box_folder

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def exchange_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    url = request.getfixturevalue("pg_url")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "box" / "box.db", box_id="440607-01")
    store.extra_schema += [SUPERVISION_SCHEMA, INTEGRATION_SCHEMA]
    yield store.open()
    store.close()


def history(days: int, per_day: int) -> list[dict]:
    return list(Platform("440607").backlog(START, days, per_day))


def pull_for(url: str, store: Store, batch_size: int, **reader) -> DatabasePull:
    reader = reader or {"table": "t_bj_hjxx", "watermark": "xh"}
    return DatabasePull("zjk", DatabaseReader(url, **reader),
                        RowMapper(load_toml(MAPPING_FILE, Mapping)), Sink(store),
                        batch_size=batch_size)


def counts(store: Store) -> dict:
    return store.query("select (select count(*) from case_events) as events,"
                       " (select count(*) from quarantine) as quarantined")[0]


def test_every_row_is_stored_once_with_its_watermark(exchange_url, store):
    exchange = Exchange(exchange_url)
    exchange.create()
    total = exchange.insert(history(5, 20))
    pull = pull_for(exchange_url, store, batch_size=64)
    polls = 0
    while (outcome := pull.poll()).behind:
        polls += 1
    assert polls == total // 64  # full batches, then the rest
    assert counts(store) == {"events": total, "quarantined": 0}
    (state,) = source_states(store)
    assert (state.rows_read, state.accepted, state.watermark) == (total, total, str(total))
    # New rows at the platform: only they are read.
    more = exchange.insert(Platform("440607", seed=1).backlog(START, 1, 5))
    assert not pull.poll().behind and counts(store)["events"] == total + more
    assert pull.poll().read == 0 and source_states(store)[0].rows_read == total + more
    pull.close()
    exchange.close()


def test_a_bad_row_is_quarantined_with_the_platform_row_and_the_watermark_moves_on(
        exchange_url, store):
    exchange = Exchange(exchange_url)
    exchange.create()
    events = history(1, 3)
    exchange.insert(events)
    with exchange.engine.begin() as conn:
        conn.execute(sa.text("update t_bj_hjxx set hjdm = '99' where xh = 2"))
    pull = pull_for(exchange_url, store, batch_size=100)
    outcome = pull.poll()
    assert outcome.rejected == 1 and counts(store) == {"events": len(events) - 1,
                                                       "quarantined": 1}
    (kept,) = store.query("select source, reason, raw from quarantine")
    assert kept["source"] == "中间库 zjk"
    assert 'codes.event_type' in kept["reason"] and '"99"' in kept["reason"]
    assert json.loads(kept["raw"])["xh"] == "2"  # the platform's own row, to find and fix
    assert source_states(store)[0].watermark == str(len(events))
    pull.close()


def test_rows_sharing_a_watermark_value_are_never_split_between_batches(exchange_url, store):
    """An update-time watermark: many rows share one second; batches smaller than that."""
    exchange = Exchange(exchange_url)
    exchange.create()
    events = history(2, 10)
    exchange.insert(events)
    with exchange.engine.begin() as conn:  # five distinct times for all rows
        conn.execute(sa.text("update t_bj_hjxx set yj = cast(xh % 5 as varchar(10))"))
    pull = pull_for(exchange_url, store, batch_size=3, table="t_bj_hjxx", watermark="yj")
    while pull.poll().behind:
        pass
    assert counts(store)["events"] == len(events)
    assert source_states(store)[0].rows_read == len(events)  # none read twice
    pull.close()


def test_a_query_source_reads_through_the_platform_view(exchange_url, store):
    exchange = Exchange(exchange_url)
    exchange.create()
    total = exchange.insert(history(2, 6))
    pull = pull_for(exchange_url, store, batch_size=500, watermark="XH",
                    query="select * from t_bj_hjxx where hjdm <> '31';")
    pull.poll()
    fees = sum(1 for e in history(2, 6) if e["event_type"] == "收费")
    assert counts(store)["events"] == total - fees
    pull.close()


@pytest.fixture
def closed_port():
    """A port of 127.0.0.1 that refuses connections for the whole test: bound, never listening,
    so no other process (a test's PostgreSQL or hub on the other worker) can take it, as one
    could a port found free and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_an_unreachable_database_backs_off_and_raises_an_alert(store, closed_port):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/exchange"
    worker = SourceWorker(pull_for(url, store, batch_size=10), store, store.clock,
                          interval=1.0, max_backoff=5.0, alert_after=2)
    assert [worker.run_once() for _ in range(4)] == [2.0, 4.0, 5.0, 5.0]
    (state,) = source_states(store)
    assert state.failures == 4 and "OperationalError" in state.last_error
    (alert,) = store.query("select rule, level, state, detail from alerts")
    assert alert["rule"] == "数据源中断" and alert["state"] == "open"
    assert "zjk" in alert["detail"] and "连续 2 次" in alert["detail"]
    worker.stop()


def test_the_database_coming_back_resolves_the_alert(tmp_path, store):
    url = f"sqlite:///{tmp_path / 'later' / 'exchange.db'}"  # the folder does not exist yet
    worker = SourceWorker(pull_for(url, store, batch_size=10), store, store.clock,
                          interval=1.0, max_backoff=60.0, alert_after=1)
    assert worker.run_once() == 2.0
    (tmp_path / "later").mkdir()
    exchange = Exchange(url)
    exchange.create()
    exchange.insert(history(1, 2))
    assert worker.run_once() == 1.0
    assert store.query("select state from alerts")[0]["state"] == "resolved"
    assert source_states(store)[0].failures == 0 and counts(store)["events"] > 0
    worker.stop()


# -- a real box killed with SIGKILL in the middle of the pull --------------------------------
def box_counts(db: Path) -> tuple[int, int]:
    """(events stored, rows_read committed with the watermark), as another process sees them."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        events = conn.execute("select count(*) from case_events").fetchone()[0]
        try:
            read = conn.execute("select coalesce(sum(rows_read), 0) from integration_sources"
                                ).fetchone()[0]
        except sqlite3.OperationalError:
            read = 0
    return events, read


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        threading.Event().wait(0.05)  # another process's database file: look again
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_between_read_and_commit_then_restart_gives_exact_counts(exchange_url, tmp_path):
    exchange = Exchange(exchange_url)
    exchange.create()
    total = exchange.insert(history(60, 40))
    exchange.close()
    folder = tmp_path / "box"
    write_box_folder(folder, "440607", sources=[{
        "name": "zjk", "kind": "database", "url": exchange_url, "table": "t_bj_hjxx",
        "watermark": "xh", "batch_size": 100, "interval_seconds": 0.5,
        "mapping_file": str(MAPPING_FILE)}])
    db = folder / "data" / "box.db"
    box = start_box(folder)
    try:
        wait_for(lambda: box_counts(db)[0] > total // 4, 120, "a quarter of the rows")
        os.kill(box.process.pid, signal.SIGKILL)  # mid-pull: a batch read, not yet committed
        box.process.wait(timeout=10)
    finally:
        if box.process.poll() is None:
            box.process.kill()
    events, read = box_counts(db)
    assert 0 < events < total, "the kill came after the pull had finished"
    assert read == events  # what was committed is exactly what the watermark says was read
    box = start_box(folder)
    try:
        wait_for(lambda: box_counts(db)[0] >= total, 180, "every row after the restart")
        status = subprocess.run([sys.executable, "-m", "hallwatch", "edge", "status", "--config",
                                 str(folder / "box.toml"), "--json"], capture_output=True,
                                text=True, timeout=60, check=True)
    finally:
        box.stop()
    assert box_counts(db) == (total, total)  # no row skipped, none read twice
    (feed,) = json.loads(status.stdout)["sources"]
    assert feed["name"] == "zjk" and feed["rows_read"] == total and feed["duplicates"] == 0
    assert feed["watermark"] == str(total) and feed["rejected"] == 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("select count(*) from quarantine").fetchone()[0] == 0
