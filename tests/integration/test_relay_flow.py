"""The relay's normal flow and a hub outage, with real ``hub serve`` and ``edge serve``
processes on 127.0.0.1: every record reaches the hub once, as the bytes the box hashed, and
after an outage the backlog drains while live records go first.

What each test asserts is what an operator would see: the hub's records (once per box and
sequence number), ``hub status`` and ``edge status``.

The relay fault tests are split over test_relay_flow, test_relay_kills, test_relay_refusals
and test_relay_repair (one xdist worker runs a module; together they took five minutes).
"""

from __future__ import annotations

import time

import pytest

from tests.integration.relay_checks import assert_hub_holds_exactly, edge_settled, link_noted_lost
from tests.integration.relay_harness import wait_all_arrived, wait_for

# edge status and hub status are commands that take seconds each to start on a busy machine
# (4-6 s at a load average of 13): a test that runs a dozen needs more than 90 s there.
pytestmark = pytest.mark.timeout(180)


# -- normal flow --------------------------------------------------------------------------
def test_posted_records_reach_the_hub_exactly_once(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    assert box.post_events(400) == 400
    made = wait_all_arrived(hub, box, timeout=20)
    assert made >= 400  # case events, plus the alerts the rules raised on them
    assert_hub_holds_exactly(hub, box)

# -- hub outage ---------------------------------------------------------------------------
def test_hub_outage_backlog_drains_and_live_records_go_first(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    box.post_events(200)
    wait_all_arrived(hub, box)
    edge_settled(box, 1)

    hub.stop()
    stopped = time.monotonic()
    assert box.post_events(200) == 200  # the hall keeps working
    # When the box noticed is read from its database, as often as needed; an edge status
    # command takes seconds to start on a busy machine, so polling it measured the test.
    wait_for(lambda: link_noted_lost(box), 30, interval=0.02, what="the box to note the loss")
    noticed = time.monotonic() - stopped
    wait_for(lambda: not box.status()["hub_connected"], 30, interval=0.1,
             what="edge status to show the hub lost")
    first_backlog = box.status()["backlog"]
    assert box.post_events(5000) == 5000
    second_backlog = box.status()["backlog"]
    print(f"\nhub loss shown by edge status after {noticed:.1f} s; "
          f"backlog {first_backlog} then {second_backlog}")
    assert 0 < first_backlog < second_backlog

    hub.start()
    before = hub.count(box.box_id)
    wait_for(lambda: hub.count(box.box_id) > before, 45, interval=0.02,
             what="the box to reconnect")
    live_seq = box.post_live_case()
    posted = time.monotonic()
    wait_for(lambda: hub.has_seq(box.box_id, live_seq), 30, interval=0.01,
             what="the live record at the hub")
    latency = time.monotonic() - posted
    still_draining = hub.acked(box.box_id) < live_seq
    print(f"live record at the hub {latency:.2f} s after its post; "
          f"backlog still draining: {still_draining} (hub acked {hub.acked(box.box_id)}, "
          f"live seq {live_seq})")
    wait_all_arrived(hub, box, timeout=60)
    assert_hub_holds_exactly(hub, box)

def test_rows_by_reference_reach_the_hub_as_the_bytes_the_box_hashed(deployment):
    """Outbox rows that refer to the box's stored events and notices (issue 17,
    edge/outboxrefs.py) reach a real hub as the very bytes hashed, chain unbroken, once each."""
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    assert box.post_events(400) == 400  # 20 days of history: overdue cases draw cards
    made = wait_all_arrived(hub, box, timeout=60)
    referring = dict(box.query("select kind, count(*) from outbox where ref is not null"
                               " group by kind"))
    assert referring.get("case_event") == 400 and referring.get("notice", 0) > 0
    # The box goes on judging as its clock moves, so a later alert may follow: compare the
    # records both sides held when the wait ended.
    sent = box.query("select seq, kind, cast(body as blob), hash from outbox_records"
                     " where seq <= ? order by seq", (made,))
    held = hub.query("select seq, kind, cast(body as blob), hash from records"
                     " where box_id = ? and seq <= ? order by seq", (box.box_id, made))
    assert len(sent) == made and held == sent
    assert hub.tamper_alerts() == []
    assert hub.status()[box.box_id]["chain"] == "ok"
