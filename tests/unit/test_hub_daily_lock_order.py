"""Two receivers adding to the same daily aggregate rows on PostgreSQL never deadlock: a batch
writes them last and in key order (hub/storage/lastwrites.py). Before, a batch took them in
the order it first touched them, and bench_hub_province's receivers deadlocked on
``hub_case_daily`` and ``hub_rating_daily`` (15 deadlocks in 45 s at 40 boxes).

The other receiver is played by a second connection that, as the receivers now do, takes the
rows in key order: it holds the earlier day's ``hub_rating_daily`` row while the hub applies a
batch whose ratings touch the later day first, then asks for the later day's row. Before the
change the hub held that row already and the two waited in a circle (the second connection,
checking first, was told "deadlock detected"); now the hub waits for the earlier row without
holding the later one, and both commit.
"""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest

from hallwatch.hubsim import SimBox
from hub.projections.supervision import _BUMP_RATING_DAILY
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

pytestmark = pytest.mark.timeout(60)
DISTRICT, DEPT = "440605", "440605WJJ"


def waiting_on_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("select count(*) from pg_stat_activity where datname ="
                            " current_database() and wait_event_type = 'Lock'").fetchone()[0] > 0


def rating(box: SimBox, number: int, day: dt.date) -> tuple:
    at = dt.datetime.combine(day, dt.time(15, 0), LOCAL_TZ)
    stamp = at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    return box.record("rating", {
        "id": number, "rating_uid": f"{box.box_id}-R{number}", "channel": "评价器", "level": 5,
        "case_no": f"NH-{number}", "window_no": 1, "dept_code": DEPT, "armed": True,
        "counted": True, "defaulted": False, "tags": [], "has_contact": False,
        "rated_at": stamp, "recorded_at": stamp}, at)


def hold_daily_row(conn: psycopg.Connection, day: str) -> None:
    """The other receiver's additive upsert of one (day, department) row, not committed."""
    conn.execute(_BUMP_RATING_DAILY.replace("?", "%s"),
                 (day, DISTRICT, DEPT, "WJJ", 0, 0, 0, 0, 0))


def test_receivers_adding_to_the_same_daily_rows_wait_but_never_deadlock(tmp_path, pg_url):
    # The hub's sessions check for deadlocks after 10 s, the other receiver's after 0.1 s: if
    # the two ever wait in a circle, the other receiver is the one told, at once.
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'alter database "{pg_url.rsplit("/", 1)[1]}" set deadlock_timeout = '
                      "'10s'")
    folder = tmp_path / "hub"
    write_hub_folder(folder, pg_url)
    dashboard = open_dashboard(folder, Clock(dt.datetime(2026, 11, 25, 10, 0, tzinfo=LOCAL_TZ)))
    store = dashboard.data.store
    try:
        box = SimBox("440605-01", DISTRICT)
        # The batch touches the later day first: the order it would have locked them in.
        batch = [rating(box, 1, dt.date(2026, 11, 21)), rating(box, 2, dt.date(2026, 11, 20))]
        outcome: dict[str, object] = {}
        with psycopg.connect(pg_url) as other:
            other.execute("set deadlock_timeout = '100ms'")
            hold_daily_row(other, "2026-11-20")

            def apply() -> None:
                try:
                    outcome["applied"] = store.apply_batch(box.box_id, DISTRICT, batch,
                                                           from_seq=1, backlog=0)
                except Exception as exc:  # noqa: BLE001 - the test reports it
                    outcome["error"] = exc

            thread = threading.Thread(target=apply)
            thread.start()
            deadline = dt.datetime.now() + dt.timedelta(seconds=20)
            while not waiting_on_a_lock(pg_url):  # the hub waits for the 20th's row
                assert dt.datetime.now() < deadline, "the hub never waited on the row"
                assert thread.is_alive(), outcome
            hold_daily_row(other, "2026-11-21")  # raised DeadlockDetected before the change
            other.commit()
            thread.join(timeout=30)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["applied"].new == 2
        totals = {row["day"]: row["total"] for row in store.query(
            "select day, total from hub_rating_daily where district_code = ? order by day",
            (DISTRICT,))}
        assert totals == {"2026-11-20": 1, "2026-11-21": 1}
    finally:
        store.close()
