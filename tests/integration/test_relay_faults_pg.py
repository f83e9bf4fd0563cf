"""Relay faults with the hub on PostgreSQL: real hub, receiver and box processes.

- Two receivers share one database; the box lists both. kill -9 the one it uses while it is
  draining: the box fails over to the other, and the hub holds every record exactly once.
- PostgreSQL itself restarts while a box drains: the receiver reconnects, nothing is lost or
  applied twice, and the hash chain holds.
"""

from __future__ import annotations

import pytest

from tests.integration.relay_harness import Deployment, wait_all_arrived, wait_for
from tests.integration.relay_checks import assert_hub_holds_exactly
from tests.pgcluster import Cluster


def _check_exactly_once_and_chain(deployment: Deployment, box) -> None:
    hub = deployment.hub
    assert_hub_holds_exactly(hub, box)
    assert hub.tamper_alerts() == []
    assert hub.query("select count(*) from missing_ranges") == [(0,)]
    # The views were built once per record too: every case event folded once.
    assert hub.query("select count(*) from hub_case_events") == hub.query(
        "select count(*) from records where kind = 'case_event'")


@pytest.fixture
def pg_deployment(tmp_path, pg_url):
    deployment = Deployment(tmp_path, database=pg_url)
    yield deployment
    deployment.close()


SLOW_DRAIN = {"batch_size": 10, "window": 1}


@pytest.mark.timeout(300)  # PostgreSQL applies more slowly than SQLite on a busy machine
def test_a_receiver_killed_mid_stream_and_the_box_fails_over(pg_deployment):
    deployment = pg_deployment
    hub, second = deployment.hub, deployment.add_receiver()
    # Small batches and a short window keep the drain long enough to be cut in the middle.
    box = deployment.add_box(hub_endpoints=[hub.endpoint, second.endpoint], **SLOW_DRAIN)
    box.start()
    assert box.post_events(3000) == 3000
    # Only the first receiver is up, so the box drains into it; it is killed as soon as the
    # first records land (asking the box which endpoint it uses took longer than the drain).
    hub.start()
    wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start", interval=0.01)
    hub.process.kill()
    used = hub.endpoint
    held, made = hub.count(box.box_id), box.chain_seq()
    print(f"\nreceiver {used} killed with {held} of {made} records applied")
    assert 0 < held < made, "the receiver must be killed mid-drain"
    second.start()

    assert box.post_events(300) == 300  # the stream goes on
    wait_all_arrived(hub, box, timeout=150)
    status = box.status()
    assert status["hub_endpoint"] != used and status["hub_connected"]
    if not hub.process.alive:
        hub.start()  # 'hub status' and the pages need no receiver; the test's helpers do not
    _check_exactly_once_and_chain(deployment, box)


@pytest.mark.timeout(300)
def test_postgresql_restarted_mid_stream(tmp_path, pg_server):  # pg_server: fail, not skip, in CI
    cluster = Cluster.create(durable=True)  # a server of its own to restart
    deployment = Deployment(tmp_path / "deployment", database=cluster.url)
    try:
        hub, box = deployment.hub, deployment.add_box(**SLOW_DRAIN)
        box.start()
        assert box.post_events(3000) == 3000
        made = box.chain_seq()
        hub.start()
        wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start",
                 interval=0.01)
        cluster.restart("immediate")  # a crash and recovery, not a polite shutdown
        held = hub.count(box.box_id)
        print(f"\nPostgreSQL restarted with {held} of {made} records applied")
        assert held < made, "PostgreSQL must restart mid-drain"
        assert box.post_events(300) == 300
        wait_all_arrived(hub, box, timeout=150)
        assert hub.process.alive
        _check_exactly_once_and_chain(deployment, box)
    finally:
        deployment.close()
        cluster.destroy()
