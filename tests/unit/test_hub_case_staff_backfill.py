"""The staff index (``hub_case_staff``) of the cases stored before migration 15 is filled
online, on both engines (hub/projections/staffbackfill.py): the migration only creates the
table and marks the fill pending, so a hub with millions of stored events starts at once;
the job fills, batch by batch, exactly the rows the write path projects; it resumes where a
stopped process left it; two processes filling at once take each batch once and leave no
gap; meanwhile 办件监察 says so, and ``hub status`` shows the progress.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from click.testing import CliRunner

from hallwatch.cli import main
from hallwatch.hubsim import SimBox, feed
from hub.projections.staffbackfill import KEY, StaffBackfill, fill_all, pending, run_batch
from hub.store import HubStore
from hub.storage.migrations import migrate
from standard.records import LOCAL_TZ
from tests.hubkit import add_users, dashboard_on, sign_in
from web.hub import create_app

NOW = dt.datetime(2026, 11, 20, 10, tzinfo=LOCAL_TZ)
NOTICE = "经办人索引正在建立"


@pytest.fixture
def hub(tmp_path, hub_database):
    """Some 40 cases in two districts, their staff projected by the write path; then the
    database put back as migration 14 left it, with events and records stored."""
    dashboard = dashboard_on(tmp_path / "hub", hub_database, NOW)
    store = dashboard.data.store
    for code in ("440605", "440606"):
        box = SimBox(f"{code}-01", code)
        feed(store, box, box.history(dt.date(2026, 11, 2), 14, 2, today=NOW.date()))
    dashboard.projected = _staff(store)
    assert len({row[2] for row in dashboard.projected}) >= 30
    with store.transaction() as conn:
        conn.execute("drop table hub_case_staff")
        conn.execute("delete from schema_migrations where version = 15")
    yield dashboard
    store.close()


def _staff(store) -> list[tuple]:
    return sorted((row["who"], row["district_code"], row["case_no"]) for row in store.query(
        "select s.who, s.district_code, c.case_no from hub_case_staff s"
        " join hub_cases c on c.id = s.case_id"))


def _another(store, hub_database) -> HubStore:
    """The same database as another process opens it (not open yet)."""
    return HubStore(store.path if store.path else hub_database)


def test_migration_15_marks_the_fill_and_the_job_fills_the_projected_rows(hub):
    store = hub.data.store
    assert migrate(store.engine) == [15]
    assert _staff(store) == []             # the migration read no record
    progress = pending(store)
    assert progress is not None and progress.percent == 0
    seen = []
    while (progress := run_batch(store.engine, batch=7)) is not None:
        seen.append(progress.percent)
        assert set(_staff(store)) < set(hub.projected)   # a part, nothing else
    assert seen == sorted(seen) and len(seen) >= 4 and seen[-1] < 100
    assert _staff(store) == hub.projected  # exactly what the write path gives
    assert pending(store) is None
    assert not store.query("select 1 from hub_meta where key = ?", (KEY,))
    assert run_batch(store.engine) is None


def test_a_new_hub_has_nothing_to_fill(tmp_path, hub_database):
    dashboard = dashboard_on(tmp_path / "new", hub_database, NOW)
    try:
        assert pending(dashboard.data.store) is None
    finally:
        dashboard.data.store.close()


def test_a_stopped_fill_resumes_where_it_stopped(hub, hub_database):
    store = hub.data.store
    migrate(store.engine)
    stop = threading.Event()
    reached = []

    def report(progress):
        reached.append(progress)
        if len(reached) == 2:
            stop.set()   # the process stops between two batches

    assert fill_all(store.engine, stop=stop, report=report, batch=5) is False
    half = _staff(store)
    assert 0 < len(half) < len(hub.projected) and pending(store) == reached[-1]
    again = _another(store, hub_database)    # another process, later
    again.open()
    try:
        assert fill_all(again.engine) is True
    finally:
        again.close()
    assert _staff(store) == hub.projected and pending(store) is None


def test_two_processes_filling_at_once_take_each_batch_once(hub, hub_database):
    store = hub.data.store
    migrate(store.engine)
    claimed: dict[int, list[int]] = {0: [], 1: []}
    stores = [_another(store, hub_database), _another(store, hub_database)]
    for each in stores:
        each.open()
    start = threading.Barrier(2)

    def fill(n):
        start.wait(timeout=10)
        while (progress := run_batch(stores[n].engine, batch=2)) is not None:
            if progress.claimed:
                claimed[n].append(progress.done)

    threads = [threading.Thread(target=fill, args=(n,)) for n in (0, 1)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for each in stores:
            each.close()
    marks = claimed[0] + claimed[1]
    ids = [row["id"] for row in store.query("select id from hub_cases order by id")]
    # each batch of two cases filled once, by one of them (the last one, which deletes the
    # mark, returns None: "done")
    assert sorted(marks) == ids[1::2][:-1]
    print("batches filled by each process:", len(claimed[0]), len(claimed[1]))
    assert _staff(store) == hub.projected  # and none left out
    assert pending(store) is None


def test_the_hub_service_fills_in_the_background(hub):
    store = hub.data.store
    migrate(store.engine)
    service = StaffBackfill(store, pause=0)
    service.start()
    service._thread.join(timeout=60)
    assert not service._thread.is_alive()
    assert _staff(store) == hub.projected


def test_the_case_page_and_hub_status_say_the_index_is_being_built(hub, tmp_path):
    store = hub.data.store
    migrate(store.engine)
    run_batch(store.engine, batch=10)
    percent = pending(store).percent
    passwords = add_users(hub)
    app = create_app(hub, {"TESTING": True}, announce=lambda *first: None)
    signed = sign_in(app, "nanhai", passwords["nanhai"])
    page = signed.client.get("/cases?q=S001").get_data(as_text=True)
    assert f"{NOTICE}（已完成 {percent}%），较早的办件可能暂未列出" in page
    config = str(tmp_path / "hub" / "hub.toml")
    status = CliRunner().invoke(main, ["hub", "status", "--config", config])
    assert status.exit_code == 0, status.output
    assert f"staff index (hub_case_staff) backfill: {percent}%" in status.output
    done = CliRunner().invoke(main, ["hub", "migrate", "--config", config, "--backfill"])
    assert done.exit_code == 0, done.output
    assert "staff index backfill: done" in done.output
    assert _staff(store) == hub.projected
    assert NOTICE not in signed.client.get("/cases?q=S001").get_data(as_text=True)
    status = CliRunner().invoke(main, ["hub", "status", "--config", config])
    assert "backfill" not in status.output


def test_a_batch_that_fails_moves_no_mark(hub, monkeypatch):
    """The mark moves in the batch's transaction: a process dying in the middle of a batch
    (here: its insert fails after the mark was moved) leaves the batch to be done again."""
    from hub.projections import staffbackfill

    store = hub.data.store
    migrate(store.engine)
    run_batch(store.engine, batch=5)
    before, rows = pending(store), _staff(store)
    monkeypatch.setattr(staffbackfill, "backfill_sql", lambda postgres: "select no_such_column")
    with pytest.raises(Exception):
        run_batch(store.engine, batch=5)
    assert pending(store) == before and _staff(store) == rows
    monkeypatch.undo()
    assert fill_all(store.engine) and _staff(store) == hub.projected
