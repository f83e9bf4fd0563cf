"""What the relay fault tests check and share: the ``deployment`` of a hub and its boxes
(tests/integration/relay_harness.py) is a fixture in conftest.py; these helpers read what an
operator would see, the box's and the hub's databases and ``edge status`` / ``hub status``.
"""

from __future__ import annotations

import sqlite3

from tests.integration.relay_harness import wait_for


def box_meta(box) -> dict[str, str]:
    """The box's own notes of its chain and link, which ``edge status`` reads."""
    return dict(box.query("select key, value from meta where key in"
                          " ('chain_seq', 'relay_acked_seq', 'relay_connected')"))


def edge_settled(box, made: int):
    """``edge status`` once the box says everything up to ``made`` is acked and it is online."""
    def on_disk() -> bool:  # waited for by reading the file, then asked of the command
        meta = box_meta(box)
        return (meta.get("relay_connected") == "1"
                and int(meta.get("relay_acked_seq", 0)) >= made
                and meta.get("relay_acked_seq") == meta.get("chain_seq"))
    wait_for(on_disk, 30, what=f"{box.box_id} to note every record acked", detail=box_meta)

    def settled():
        status = box.status()
        return status if (status["backlog"] == 0 and status["acked_seq"] >= made
                          and status["hub_connected"]) else None
    return wait_for(settled, 15, what=f"edge status of {box.box_id}: backlog 0, connected",
                    interval=0.2, detail=box.status)


def assert_hub_holds_exactly(hub, box) -> None:
    """``hub status`` shows every record once, all acked, chain ok; the box agrees."""
    def on_disk() -> bool:  # waited for by reading the database, then asked of the command
        rows = hub.query("select record_count, last_seq, contiguous_seq from boxes"
                         " where box_id = ?", (box.box_id,))
        return bool(rows) and rows[0] == (box.chain_seq(),) * 3
    wait_for(on_disk, 30, what="the hub to hold every record of the box")

    def consistent():
        row = hub.status()[box.box_id]
        made = box.chain_seq()
        return row if row["records"] == row["last_seq"] == row["acked_seq"] == made else None
    row = wait_for(consistent, 15, what="hub status to match the box", interval=0.2,
                   detail=lambda: (hub.status(), box.chain_seq()))
    assert row["chain"] == "ok"
    # The box may make another record after the wait (a scheduled rule pass as its clock
    # moves), so what the hub held then is checked: each once, none missing, none twice.
    held = row["records"]
    assert hub.distinct_seqs(box.box_id, up_to=held) == (held, held, held)
    rows, distinct, _ = hub.distinct_seqs(box.box_id)
    assert rows == distinct
    assert edge_settled(box, held)["last_seq"] >= held


def link_noted_lost(box) -> bool:
    """The box has written down that it lost the hub (the state ``edge status`` reads)."""
    return box_meta(box).get("relay_connected") == "0"


def queue_while_hub_down(hub, box, events: int) -> None:
    hub.stop()
    wait_for(lambda: link_noted_lost(box), 30, what="the box to notice the hub is down")
    assert box.post_events(events) == events


def restore_backup(hub, box_id: str, keep: int) -> None:
    """The stopped hub's database as a backup would have it: the box's records up to ``keep``."""
    with sqlite3.connect(hub.config.db_path) as db:
        (digest,) = db.execute("select hash from records where box_id = ? and seq = ?",
                               (box_id, keep)).fetchone()
        db.execute("delete from records where box_id = ? and seq > ?", (box_id, keep))
        db.execute("update boxes set contiguous_seq = ?, chain_seq = ?, chain_hash = ?,"
                   " last_seq = ?, record_count = ? where box_id = ?",
                   (keep, keep, digest, keep, keep, box_id))
    db.close()
