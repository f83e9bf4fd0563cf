"""A write transaction on the store's writer thread: the database plus the outbox.

:class:`Tx` is what every ``Store.write`` job receives (edge/store.py runs it under its own
savepoint). :meth:`Tx.emit` queues a record for the hub *in that transaction*: it takes the
next sequence number and extends the hash chain, and :meth:`Tx.flush` writes the rows before
the job's savepoint is released, so a record is committed with its outbox row or neither
exists. A transaction of records that a sender can send again may be refused for the outbox
quota (:meth:`Tx.limit_outbox`, ``StoreFull``); the box's own rows never are.

Example::

    def note(tx: Tx) -> int:
        tx.conn.execute("insert into meta values ('greeting', 'hello')")
        return tx.emit("note", {"text": "hello"})   # the record's sequence number

    seq = store.write(note)
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from edge.outboxrefs import REF_KINDS
from edge.outboxrows import OutboxRow, insert_outbox, record_json
from edge.storeschema import OUTBOX_BYTES, get_meta, set_meta
from standard.envelope import chain_hash

# Records a sender can send again (the platform's, the channels') may fill the outbox quota
# only up to this share; the rest is kept for the box's own rows (alerts, notices, key
# presses), which are never refused.
SENDERS_SHARE = 0.8


class StoreError(Exception):
    """The store could not complete a write."""


class StoreFull(StoreError):
    """The disk or the store's quota is full; nothing new is accepted until space returns."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class ChainHead:
    seq: int
    hash: bytes


class Tx:
    """A write transaction on the writer thread: the database plus the outbox."""

    def __init__(self, db: sqlite_utils.Database, head: ChainHead, now: dt.datetime,
                 outbox_quota: int | None = None, memo: dict[str, Any] | None = None):
        self.db = db
        self.head = head
        self.now = now
        self.outbox_quota = outbox_quota
        # What a module keeps between transactions about rows it wrote (ingest's case facts,
        # edge/casefold.py): the writer's own, emptied whenever the database may differ from
        # it (a rolled-back job, another connection's commit), so it only ever saves a read.
        self.memo: dict[str, Any] = {} if memo is None else memo
        self._limited = False
        self._created: str | None = None
        self._pending: list[OutboxRow] = []
        self._pending_bytes = 0

    def limit_outbox(self) -> None:
        """Refuse this transaction (StoreFull) if its outbox rows would take the outbox past
        the senders' share of the quota (``senders_limit``).

        For records a sender can send again later (the platform's, the channels'); alerts,
        notices and key presses are never refused for the quota.
        """
        self._limited = True

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def emit(self, kind: str, body: dict[str, Any]) -> int:
        """Queue a record for the hub in this transaction; returns its sequence number."""
        return self.emit_json(kind, record_json(body))

    def emit_many(self, kind: str, bodies: Iterable[dict[str, Any]]) -> None:
        """``emit`` for many records of one kind, in order."""
        self.emit_json_many(kind, [record_json(body) for body in bodies])

    def emit_json(self, kind: str, body_json: str) -> int:
        """``emit`` for a body that is already JSON text (saves encoding it twice).

        The record text is what the hash chain covers; the hub stores and re-hashes exactly
        these bytes, so it only has to be valid JSON, not sorted.
        """
        self.emit_json_many(kind, [body_json])
        return self.head.seq

    def emit_each(self, records: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """``emit`` for many ``(kind, body)`` records of mixed kinds, in order (a rule pass's
        audit entries and alerts, interleaved as they happened), in one loop."""
        self._append((kind, record_json(body), None, None) for kind, body in records)

    def emit_json_many(self, kind: str, bodies: Iterable[str],
                       refs: Iterable[str | None] | None = None,
                       kept: Iterable[str] | None = None) -> None:
        """``emit_json`` for many records of one kind, in order (one loop, no call per record).

        ``refs``: what each record refers to instead of copying its body, written in this
        transaction (edge/outboxrefs.py): for "case_event" the ``case_events`` event id whose
        stored body is the very text, for "notice" the notice's id with ``kept``, the pieces
        of its body around the notice's stored strings (a ref of None: the row keeps the
        whole text). The hash and the quota count the whole record text either way: the
        bytes the relay will send.
        """
        if refs is not None and kind not in REF_KINDS:
            raise ValueError(f"{kind} records cannot refer to their bodies ({REF_KINDS})")
        if refs is None:
            rows = zip(itertools.repeat(kind), bodies, itertools.repeat(None),
                       itertools.repeat(None))
        elif kept is None:  # nothing of the body kept on the row (a platform event)
            rows = ((kind, body, ref, "") for body, ref in zip(bodies, refs, strict=True))
        else:
            rows = ((kind, body, ref, stored)
                    for body, ref, stored in zip(bodies, refs, kept, strict=True))
        self._append(rows)

    def _append(self, rows: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """Chain and queue ``(kind, body text, ref, what the row keeps)`` records."""
        seq, digest = self.head.seq, self.head.hash
        created = self._created or iso(self.now)
        self._created = created
        pending = self._pending
        size = 0
        heads: dict[str, str] = {}
        for kind, body_json, ref, stored in rows:
            head = heads.get(kind)
            if head is None:
                head = heads[kind] = f',"kind":"{kind}","at":"{created}","body":'
            seq += 1
            record = f'{{"seq":{seq}{head}{body_json}}}'
            encoded = record.encode("utf-8")
            size += len(encoded)
            digest = chain_hash(digest, encoded)
            pending.append((seq, kind, record if ref is None else stored, digest, created, ref,
                            len(encoded)))
        self._pending_bytes += size
        self.head = ChainHead(seq, digest)

    def flush(self) -> None:
        if self._pending:
            used = int(get_meta(self.conn, OUTBOX_BYTES, "0")) + self._pending_bytes
            if self._limited and self.outbox_quota is not None:
                limit = senders_limit(self.outbox_quota)
                if used > limit:
                    raise StoreFull(f"发件队列已满（中心长时间未确认），请稍后重试 (outbox: "
                                    f"{used} bytes would pass {limit}, the senders' share of "
                                    f"the {self.outbox_quota}-byte quota)")
            insert_outbox(self.conn, self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            set_meta(self.conn, OUTBOX_BYTES, str(used))
            set_meta(self.conn, "chain_seq", str(self.head.seq))
            set_meta(self.conn, "chain_hash", self.head.hash.hex())


def senders_limit(quota: int) -> int:
    """Outbox bytes up to which records from outside senders are taken."""
    return int(quota * SENDERS_SHARE)
