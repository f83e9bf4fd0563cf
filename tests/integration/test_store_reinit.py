"""Issue 15 item 1: a box never starts over by itself, and a re-initialised box is not lost.

Real hub and box processes (tests/integration/relay_harness.py): the box's database is
emptied, removed or replaced the way an unlucky operator would, and the test checks what the
box says, what the technician's command does and what reaches the hub.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.integration.relay_harness import (
    all_arrived,
    run_cli,
    wait_all_arrived,
    wait_for,
)


def relayed_box(deployment, events: int = 300):
    """A hub and a box that has relayed ``events`` platform events (and its alerts)."""
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    assert box.post_events(events) == events
    waited = wait_all_arrived(hub, box)
    box.stop()
    # The box may have made and relayed another record between the wait and its stop (a
    # scheduled rule pass as its clock moves): the tests compare with what the hub holds now.
    made = hub.acked(box.box_id)
    assert made >= waited and hub.distinct_seqs(box.box_id) == (made, made, made)
    return hub, box, made


def wipe(box, how: str) -> None:
    for suffix in ("-wal", "-shm"):
        box.db_path.with_name(box.db_path.name + suffix).unlink(missing_ok=True)
    if how == "empty":
        box.db_path.write_bytes(b"")  # truncate -s 0 data/box.db
    elif how == "missing":
        box.db_path.unlink()
    else:
        box.db_path.write_bytes(b"this is not a database" * 100)


def refused_start(box) -> str:
    with pytest.raises(AssertionError, match="exited with 78"):
        box.start()
    return box.process.output()


@pytest.mark.parametrize("how", ["empty", "missing", "garbage"])
def test_a_lost_database_is_an_error_naming_the_file_and_the_fix(deployment, how):
    hub, box, made = relayed_box(deployment, events=50)
    wipe(box, how)
    output = refused_start(box)
    assert str(box.db_path) in output and "hallwatch edge reinit" in output
    assert "备份" in output  # restore from a backup is named first
    # Nothing was made in its place, and the hub is untouched.
    assert box.db_path.exists() == (how != "missing")
    assert hub.distinct_seqs(box.box_id)[2] == made


def test_reinit_keeps_the_old_file_tells_the_hub_and_continues_after_its_sequence(deployment):
    hub, box, made = relayed_box(deployment)
    wipe(box, "empty")
    refused_start(box)

    plan = run_cli("edge", "reinit", "--config", box.config_path)
    assert plan.returncode == 1 and "--confirm" in plan.stdout  # nothing done without it
    done = run_cli("edge", "reinit", "--config", box.config_path, "--confirm",
                   "--reason", "SD card replaced")
    assert done.returncode == 0, done.stderr
    kept = list(box.db_path.parent.glob("box.db.reinit-*"))
    assert kept and kept[0].stat().st_size == 0  # the old (empty) file, kept
    log = (box.db_path.parent / "reinit.log").read_text(encoding="utf-8")
    assert json.loads(log.splitlines()[-1])["reason"] == "SD card replaced"

    box.start()
    assert box.post_events(40) == 40
    wait_all_arrived(hub, box)  # every record, once, contiguous: nothing taken for a duplicate
    first_new = hub.query("select kind, body from records where box_id = ? and seq = ?",
                          (box.box_id, made + 1))
    assert first_new and first_new[0][0] == "store_reinit"
    assert json.loads(first_new[0][1])["body"]["reason"] == "SD card replaced"
    assert box.chain_seq() > made + 40
    kinds = [kind for _, _, _, kind in hub.tamper_alerts()]
    assert kinds == ["reinit"]  # an integrity alert, and no false tamper or gap alert
    status = box.status()
    assert status["acked_seq"] <= status["last_seq"] and status["backlog"] >= 0
    assert status["rebase_pending"] is False


def test_a_box_that_started_over_without_the_command_never_takes_the_hubs_sequence(deployment):
    hub, box, made = relayed_box(deployment)
    wipe(box, "missing")
    (box.dir / "box.store.json").unlink()  # the marker gone too: the box cannot know
    box.start()
    assert box.post_events(5) == 5  # the platform's records are still kept on the box
    wait_for(lambda: box.status()["hub_ahead"] == made, 15, what="the box to see the hub ahead",
             detail=box.status)
    status = box.status()
    assert status["acked_seq"] == 0 and status["backlog"] == status["last_seq"] > 0
    assert hub.distinct_seqs(box.box_id)[2] == made  # nothing sent to be lost as a duplicate
    wait_for(lambda: "reset" in [kind for *_, kind in hub.tamper_alerts()], 15,
             what="the hub's reset alert")
    with sqlite3.connect(f"file:{box.db_path}?mode=ro", uri=True) as db:
        alerts = db.execute("select rule, level from alerts where subject = 'device:relay'")
        assert alerts.fetchall() == [("序号异常", "red")]

    box.stop()
    done = run_cli("edge", "reinit", "--config", box.config_path, "--confirm")
    assert done.returncode == 0, done.stderr
    box.start()
    assert box.post_events(10) == 10
    wait_for(lambda: all_arrived(hub, box), 30, what="the re-initialised box's records",
             detail=lambda: (box.status(), hub.distinct_seqs(box.box_id)))


def test_the_hub_never_starts_over_by_itself_either(deployment):
    hub, box, made = relayed_box(deployment, events=50)
    hub.stop()
    db = hub.config.db_path
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(b"")
    with pytest.raises(AssertionError, match="exited with 78"):
        hub.start()
    output = hub.process.output()
    assert str(db) in output and "hallwatch hub reinit" in output and "备份" in output
    assert db.stat().st_size == 0  # nothing made in its place

    done = run_cli("hub", "reinit", "--config", hub.config_path, "--confirm",
                   "--reason", "disk replaced")
    assert done.returncode == 0, done.stderr
    assert list(db.parent.glob("hub.db.reinit-*"))
    hub.start()
    box.start()
    assert box.post_events(10) == 10
    # The box's new records reach the new hub; what the box had pruned is shown as lost with
    # the old database, not as a gap on the box.
    wait_for(lambda: hub.distinct_seqs(box.box_id)[2] == box.chain_seq(), 30,
             what="the new records at the new hub", detail=lambda: hub.distinct_seqs(box.box_id))
