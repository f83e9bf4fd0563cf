"""The box or the hub killed (kill -9) in the middle of a drain, with real ``hub serve`` and
``edge serve`` processes on 127.0.0.1: each resumes without loss or duplicates, and the box's
nonce counters never repeat across restarts.

What each test asserts is what an operator would see: the hub's records (once per box and
sequence number), ``hub status`` and ``edge status``.

The relay fault tests are split over test_relay_flow, test_relay_kills, test_relay_refusals
and test_relay_repair (one xdist worker runs a module; together they took five minutes).
"""

from __future__ import annotations

import pytest

from edge.relay import Relay, RelaySettings
from edge.relayoutbox import NONCE_BLOCK
from edge.store import Store
from standard import identity
from tests.integration.relay_checks import assert_hub_holds_exactly
from tests.integration.relay_harness import wait_all_arrived, wait_for

# edge status and hub status are commands that take seconds each to start on a busy machine
# (4-6 s at a load average of 13): a test that runs a dozen needs more than 90 s there.
pytestmark = pytest.mark.timeout(180)


# -- box killed mid-batch -----------------------------------------------------------------
# Batches of 200, at most 8 in flight: the hub cannot hold the whole backlog in one group
# commit before the kill (with the default 4,000 records a batch, two batches could be committed
# together on a busy machine and the drain be over before the test saw it start).
MID_DRAIN = {"batch_size": 200, "window": 8}


def test_box_killed_while_draining_resumes_without_loss_or_duplicates(deployment):
    hub, box = deployment.hub, deployment.add_box(**MID_DRAIN)
    box.start()  # the hub is down: the backlog builds up on the box
    assert box.post_events(6000) == 6000
    made = box.chain_seq()
    hub.start()
    wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start", interval=0.01)
    box.kill()
    held = hub.count(box.box_id)
    print(f"\nbox killed with {held} of {made} records at the hub")
    assert 0 < held < made, "the box must be killed mid-drain"

    box.start()
    wait_all_arrived(hub, box, timeout=40)
    assert_hub_holds_exactly(hub, box)


# -- hub killed mid-apply -----------------------------------------------------------------
def test_hub_killed_while_applying_resumes_without_loss_or_duplicates(deployment):
    hub, box = deployment.hub, deployment.add_box(**MID_DRAIN)
    box.start()
    assert box.post_events(6000) == 6000
    made = box.chain_seq()
    hub.start()
    wait_for(lambda: hub.count(box.box_id) > 0, 30, what="the drain to start", interval=0.01)
    hub.kill()
    held = hub.count(box.box_id)
    print(f"\nhub killed with {held} of {made} records applied")
    assert 0 < held < made, "the hub must be killed mid-drain"

    hub.start()  # at once: the box's session may well survive the restart
    wait_all_arrived(hub, box, timeout=40)
    assert_hub_holds_exactly(hub, box)

# -- nonce counter ------------------------------------------------------------------------
def test_nonce_counters_never_repeat_across_relay_restarts(deployment):
    box = deployment.add_box()
    hub_public = identity.load_hub_public(box.dir / identity.BOX_HUB_PUBLIC_FILE)
    used: list[int] = []
    for _ in range(3):  # three "boots" of the box on the same database
        store = Store(box.db_path, box_id=box.box_id).open()
        try:
            relay = Relay(store, box.identity, hub_public, deployment.hub.endpoint,
                          RelaySettings())
            counters = [relay.counter() for _ in range(NONCE_BLOCK + 5)]
        finally:
            store.close()
        assert counters == sorted(set(counters))
        assert not used or counters[0] > max(used)
        used += counters
    assert len(used) == len(set(used))
