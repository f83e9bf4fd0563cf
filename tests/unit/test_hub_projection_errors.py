"""A record is noted as not projected (``hub_projection_errors``) only for what its body
causes. A deadlock or a lost server while it is projected record by record is raised, so the
batch runs again whole (hub/storage/retry.py) or goes unacknowledged and is sent again.

Before, the careful path noted such errors like a bad body and skipped the record's views
for good: the province run's single PostgreSQL receiver noted a case event's
``DeadlockDetected`` so.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from hallwatch.hubsim import SimBox
from hub.projections import guarded
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder


def test_a_deadlock_while_projecting_a_record_is_raised_not_noted(tmp_path):
    write_hub_folder(tmp_path / "hub")
    dashboard = open_dashboard(tmp_path / "hub", Clock())
    store, ctx = dashboard.data.store, dashboard.context
    try:
        box = SimBox("440605-01", "440605")
        record = box.record("rating", {"id": 1}, dt.datetime(2026, 11, 20, 9, tzinfo=LOCAL_TZ))[0]

        def deadlocked(ctx, conn, box_id, record) -> None:
            raise psycopg.errors.DeadlockDetected("deadlock detected")

        def bad_body(ctx, conn, box_id, record) -> None:
            raise KeyError("level")

        with pytest.raises(psycopg.errors.DeadlockDetected):
            with store.transaction() as conn:
                guarded(ctx, "rating", deadlocked).careful(conn, box.box_id, record)
        assert store.query("select count(*) as n from hub_projection_errors")[0]["n"] == 0

        with store.transaction() as conn:  # a bad body is still noted, and the batch goes on
            guarded(ctx, "rating", bad_body).careful(conn, box.box_id, record)
        errors = store.query("select kind, error from hub_projection_errors")
        assert [(row["kind"], row["error"]) for row in errors] == [("rating", "KeyError: 'level'")]
    finally:
        store.close()
