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
from tests.hubkit import CASE, Clock, joint_case, open_dashboard, write_hub_folder

pytestmark = pytest.mark.timeout(60)


def waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("select count(*) from pg_stat_activity where datname ="
                            " current_database() and wait_event_type = 'Lock'").fetchone()[0] > 0


def refresh_until_it_waits(url: str, store, ctx) -> tuple[threading.Thread, dict[str, object]]:
    """Start a refresh pass on a thread and return once it waits on a row lock; the outcome
    gets ``changed`` (rows the pass changed) or ``error``."""
    outcome: dict[str, object] = {}

    def refresh() -> None:
        try:
            outcome["changed"] = refresh_lights(store, ctx)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcome["error"] = exc

    thread = threading.Thread(target=refresh)
    thread.start()
    deadline = dt.datetime.now() + dt.timedelta(seconds=20)
    while not waiting_on_a_lock(url):
        assert dt.datetime.now() < deadline, "the refresher never waited on a row"
        assert thread.is_alive(), outcome
    return thread, outcome


@pytest.fixture
def hub(tmp_path, pg_url):
    """(store, projection context, clock) of a hub on PostgreSQL, its clock at 2026-11-20."""
    folder = tmp_path / "hub"
    write_hub_folder(folder, pg_url)
    clock = Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ))
    dashboard = open_dashboard(folder, clock)
    try:
        yield dashboard.data.store, dashboard.context, clock
    finally:
        dashboard.data.store.close()


def test_a_deadlocked_refresh_is_run_again_and_the_pass_completes(hub, pg_url):
    store, ctx, clock = hub
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
    with psycopg.connect(pg_url) as receiver:
        receiver.execute("set deadlock_timeout = '60s'")
        receiver.execute("update hub_cases set reasons = reasons where id = %s", (second,))
        # the refresher holds `first` and waits on `second`
        thread, outcome = refresh_until_it_waits(pg_url, store, ctx)
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


def test_a_joint_case_rewritten_by_a_receiver_meanwhile_is_left_to_it(hub, pg_url):
    """The refresher rewrites a joint case's shares while a receiver, not yet committed, has
    rewritten them with a newer event: it waits for the receiver and leaves the case to it.
    Before, it read the case without waiting, then its insert met the receiver's new share
    rows ("duplicate key ... hub_case_shares_pkey") and the pass ended ("refreshing lights
    failed", the province run of 3 December)."""
    store, ctx, _ = hub
    box = SimBox("440605-01", "440605")
    feed(store, box, joint_case(box))
    refresh_lights(store, ctx)
    shares = store.query("select count(*) as n from hub_case_shares where case_no = ?",
                         (CASE,))[0]["n"]
    assert shares >= 2
    with psycopg.connect(pg_url) as receiver:  # a newer event: the case and its shares
        receiver.execute("update hub_cases set last_seq = last_seq + 1 where case_no = %s",
                         (CASE,))
        receiver.execute("create temporary table kept as select * from hub_case_shares"
                         " where case_no = %s", (CASE,))
        receiver.execute("delete from hub_case_shares where case_no = %s", (CASE,))
        receiver.execute("insert into hub_case_shares select * from kept")
        thread, outcome = refresh_until_it_waits(pg_url, store, ctx)
        receiver.commit()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert store.query("select count(*) as n from hub_case_shares where case_no = ?",
                       (CASE,))[0]["n"] == shares
