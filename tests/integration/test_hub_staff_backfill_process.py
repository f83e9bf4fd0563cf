"""A real ``hallwatch hub receive`` process on a database whose staff index migration 15 left
to be filled (hub/projections/staffbackfill.py): it starts receiving at once and fills the
index in the background, on both engines; ``hub status`` shows the progress until then."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import tomli_w
import tomllib

from hallwatch.hubsim import SimBox, feed
from hub.projections.staffbackfill import pending
from hub.storage.migrations import migrate
from tests.hubkit import init_hub_folder, open_dashboard, start_hub_process


def _staff(store) -> list[tuple]:
    return sorted((row["who"], row["district_code"], row["case_no"]) for row in store.query(
        "select s.who, s.district_code, c.case_no from hub_case_staff s"
        " join hub_cases c on c.id = s.case_id"))


def test_a_receiver_starts_at_once_and_fills_the_staff_index(tmp_path, hub_database):
    toml = init_hub_folder(tmp_path / "hub")
    if not isinstance(hub_database, Path):
        values = tomllib.loads(toml.read_text(encoding="utf-8"))
        values["database"] = {"url": hub_database}
        toml.write_text(tomli_w.dumps(values), encoding="utf-8")
    dashboard = open_dashboard(tmp_path / "hub")
    store = dashboard.data.store
    box = SimBox("440605-01", "440605")
    feed(store, box, box.history(dt.date(2026, 11, 2), 14, 3, today=dt.date(2026, 11, 20)))
    projected = _staff(store)
    with store.transaction() as conn:   # as migration 14 left it, events stored
        conn.execute("drop table hub_case_staff")
        conn.execute("delete from schema_migrations where version = 15")
    assert migrate(store.engine) == [15] and pending(store).percent == 0
    with store.transaction() as conn:   # and again: the receiver migrates it at start-up
        conn.execute("drop table hub_case_staff")
        conn.execute("delete from hub_meta where key = 'case_staff_backfill'")
        conn.execute("delete from schema_migrations where version = 15")
    process, lines = start_hub_process(["receive", "--config", str(toml), "--bind",
                                        "tcp://127.0.0.1:0"], "receiving on", timeout=60)
    try:
        deadline = time.monotonic() + 60
        while pending(store) is not None or not store.query(
                "select 1 from schema_migrations where version = 15"):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            threading.Event().wait(0.1)
        assert _staff(store) == projected
    finally:
        process.terminate()
        process.wait(timeout=30)
        store.close()
