"""The relay's work on the outbox table: reading rows to send, recording the hub's acks.

The relay (edge/relay.py) keeps the link; what it does to the store is here, each a function
over a connection or a write transaction (``Tx``, edge/storetx.py):

- ``read_rows``: the records from a sequence on, as hashed (never re-encoded);
- ``reserve_nonces``: a block of nonce counters, on disk before any of it is used;
- ``record_ack``: the hub's cumulative ack, the quota it frees and the pruning past retention;
- ``renumber``: after ``hallwatch edge reinit`` (edge/reinit.py), every unsent row renumbered
  to follow the hub's last sequence for this box, chained from the hub's last hash.

Example::

    with store.read() as db:
        rows = read_rows(db.conn, 1, None, limit=4000)
    store.write(lambda tx: record_ack(tx, 120, dt.timedelta(days=7)))
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from edge.outboxrows import insert_outbox
from edge.storeschema import OUTBOX_BYTES, get_meta, set_meta
from edge.storeschema import ROW_BYTES
from edge.storetx import Tx, iso
from standard.envelope import GENESIS, chain_hash

REBASE = "rebase"  # meta: "pending" after edge reinit (edge/reinit.py)
NONCE_BLOCK = 1024


class OutboxBroken(Exception):
    """An outbox row's record cannot be read as it was hashed (what it refers to is gone)."""


def read_rows(conn: sqlite3.Connection, start: int, stop: int | None, *,
              limit: int) -> list[tuple[int, bytes, bytes]]:
    """Up to ``limit`` records ``(seq, text, hash)`` from ``start`` (to ``stop``), in order."""
    # The record text as hashed, as bytes: framed as is (standard/wire.py), never
    # re-encoded. Some rows refer to what the store keeps anyway (edge/outboxrefs.py).
    sql = "select seq, cast(body as blob), hash from outbox_records where seq >= ?"
    params: list = [start]
    if stop is not None:
        sql += " and seq <= ?"
        params.append(stop)
    sql += " order by seq limit ?"
    params.append(limit)
    rows = conn.execute(sql, params).fetchall()
    for seq, body, _ in rows:
        if body is None:  # its event is gone: never send what the chain does not cover
            raise OutboxBroken(f"outbox record {seq} refers to a row the store no longer "
                               "has; relaying stops here")
    return rows


def reserve_nonces(tx: Tx) -> int:
    """The first of ``NONCE_BLOCK`` nonce counters now reserved on disk for this process."""
    start = int(get_meta(tx.conn, "relay_nonce_next", "1"))
    set_meta(tx.conn, "relay_nonce_next", str(start + NONCE_BLOCK))
    return start


def record_ack(tx: Tx, acked_seq: int, retention: dt.timedelta) -> None:
    """Note the hub's cumulative ack, free its rows' quota, prune rows older than retention."""
    before = int(get_meta(tx.conn, "relay_acked_seq", "0"))
    freed = tx.conn.execute(
        f"select coalesce(sum({ROW_BYTES}), 0) from outbox"
        " where seq > ? and seq <= ?", (before, acked_seq)).fetchone()[0]
    used = int(get_meta(tx.conn, OUTBOX_BYTES, "0"))
    set_meta(tx.conn, OUTBOX_BYTES, str(max(used - freed, 0)))
    set_meta(tx.conn, "relay_acked_seq", str(acked_seq))
    # Old rows are at the front: find the first one to keep rather than scan every
    # acked row on each ack (that made a long drain quadratic). If the clock stepped
    # back, rows after a young one wait for it: more is kept, never less.
    keep = tx.conn.execute(
        "select seq from outbox where seq <= ? and created_at >= ? order by seq limit 1",
        (acked_seq, iso(tx.now - retention))).fetchone()
    tx.conn.execute("delete from outbox where seq < ?",
                    (keep[0] if keep else acked_seq + 1,))


def renumber(tx: Tx, hub_acked: int, base: int, start: bytes = GENESIS) -> int:
    """Renumber every row (none was sent) to follow ``base``, chained from ``start``.

    Returns the rows moved; 0 when no rebase is pending (another call did it already).
    """
    if get_meta(tx.conn, REBASE) != "pending":
        return 0
    rows = tx.conn.execute(  # the record text, and what the row itself keeps
        "select r.seq, r.kind, r.body, r.created_at, r.ref, o.body from outbox_records r"
        " join outbox o on o.seq = r.seq order by r.seq").fetchall()
    digest, moved, size = start, [], 0
    for seq, kind, body, created, ref, kept in rows:
        if body is None:
            raise OutboxBroken(f"outbox record {seq} refers to a row the store no "
                               "longer has")
        head = f'{{"seq":{seq},'
        text = f'{{"seq":{seq + base},' + body[len(head):]
        encoded = text.encode("utf-8")
        digest = chain_hash(digest, encoded)
        size += len(encoded)
        moved.append((seq + base, kind, kept if ref is not None else text, digest,
                      created, ref, len(encoded)))
    tx.conn.execute("delete from outbox")
    insert_outbox(tx.conn, moved)
    set_meta(tx.conn, "chain_seq", str(moved[-1][0] if moved else base))
    set_meta(tx.conn, "chain_hash", digest.hex())
    set_meta(tx.conn, "relay_acked_seq", str(hub_acked))
    set_meta(tx.conn, OUTBOX_BYTES, str(size))
    set_meta(tx.conn, "rebased", json.dumps({"base_seq": base, "hub_acked": hub_acked,
                                             "at": iso(tx.now)}))
    tx.conn.execute("delete from meta where key = ?", (REBASE,))
    return len(moved)
