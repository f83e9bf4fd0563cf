"""The hub's light refresher and a receiver's transaction deadlock on PostgreSQL: the refresher,
picked as the loser, runs its small transaction again and the pass completes (before, the
whole pass failed with "refreshing lights failed", seen in bench_hub_province's full run).

The receiver is played by a second connection that holds one case's row and then asks for
another that the refresher holds: a real deadlock, which PostgreSQL breaks by aborting the
transaction that checks first (the refresher: its deadlock_timeout is the server's 1 s, the
other's is 60 s).
"""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest

from hallwatch.hubsim import SimBox, feed
from hub.projections.lights import refresh_lights
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

pytestmark = pytest.mark.timeout(60)


def waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("select count(*) from pg_stat_activity where datname ="
                            " current_database() and wait_event_type = 'Lock'").fetchone()[0] > 0


def test_a_deadlocked_refresh_is_run_again_and_the_pass_completes(tmp_path, pg_url):
    folder = tmp_path / "hub"
    write_hub_folder(folder, pg_url)
    clock = Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ))
    dashboard = open_dashboard(folder, clock)
    store, ctx = dashboard.data.store, dashboard.context
    try:
        box = SimBox("440605-01", "440605")
        day = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)
        cases = [{"case_no": f"NH-OPEN-{n}", "item": {"item_code": "440605-WJJ-003",
                                                       "dept_code": "440605WJJ"}}
                 for n in (1, 2)]
        feed(store, box, [box._event(case, "受理", day) for case in cases])
        refresh_lights(store, ctx)
        before = {row["id"]: row["remaining"] for row in store.query(
            "select id, remaining from hub_cases where is_open = 1 order by id")}
        first, second = sorted(before)

        clock.at = dt.datetime(2026, 11, 24, 10, 0, tzinfo=LOCAL_TZ)  # two working days on
        outcome: dict[str, object] = {}
        with psycopg.connect(pg_url) as receiver:
            receiver.execute("set deadlock_timeout = '60s'")
            receiver.execute("update hub_cases set reasons = reasons where id = %s", (second,))

            def refresh() -> None:
                try:
                    outcome["changed"] = refresh_lights(store, ctx)
                except Exception as exc:  # noqa: BLE001 - the test reports it
                    outcome["error"] = exc

            thread = threading.Thread(target=refresh)
            thread.start()
            deadline = dt.datetime.now() + dt.timedelta(seconds=20)
            while not waiting_on_a_lock(pg_url):  # the refresher holds `first`, waits on `second`
                assert dt.datetime.now() < deadline, "the refresher never waited on the row"
                assert thread.is_alive(), outcome
            # Now ask for `first`: a deadlock, and the refresher (checking after 1 s) loses.
            receiver.execute("update hub_cases set reasons = reasons where id = %s", (first,))
            receiver.commit()
            thread.join(timeout=30)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["changed"] == 2
        after = {row["id"]: row["remaining"] for row in store.query(
            "select id, remaining from hub_cases where is_open = 1 order by id")}
        assert all(after[key] == before[key] - 2 for key in before), (before, after)
    finally:
        store.close()
