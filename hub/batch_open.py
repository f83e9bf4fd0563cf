"""Opening a box's batch at the hub: the checks before anything is stored.

In order: the batch claims the box whose CURVE connection carried it, its Ed25519 signature
verifies and it decrypts (standard/envelope.py), its plaintext is framed records
(standard/wire.py), and each record is a JSON object with ascending ``seq`` inside the header's
range. Anything else is :class:`BatchRefused`, naming the batch's range when the header gave
one, so the box can free its slot. The receiver (hub/receiver.py) then hands the batch to its
apply pool (hub/apply_pool.py).

Example::

    batch, first, last = open_batch(opener, enrolled_box, frames)
"""

from __future__ import annotations

import orjson

from hub.store import Batch
from standard import wire
from standard.boxregistry import EnrolledBox
from standard.envelope import EnvelopeError, Opener


class BatchRefused(ValueError):
    """A batch the hub will not apply; ``first``/``last``: its range, as far as known."""

    def __init__(self, reason: str, first: int | None, last: int | None):
        super().__init__(reason)
        self.first = first
        self.last = last


def open_batch(opener: Opener, sender: EnrolledBox, body: list[bytes]
               ) -> tuple[Batch, int, int]:
    """The checked batch and its header's first and last seq; raises BatchRefused."""
    # Unverified, only so that a nack names the batch and the box can free its slot.
    first, last = peek_range(opener, sender, body)
    try:
        header, plaintext = opener.open(body, sender.seal_public, sender.sign_public)
        first, last = int(header["first_seq"]), int(header["last_seq"])
        from_seq = int(header.get("from_seq", first))
        records = parse_records(wire.parse_batch_plaintext(plaintext), from_seq, last)
    except (EnvelopeError, wire.WireError, KeyError, TypeError, ValueError) as exc:
        raise BatchRefused(str(exc), first, last) from exc
    return (Batch(sender.box_id, sender.district_code, records, from_seq,
                  int_or_none(header.get("backlog"))), first, last)


def peek_range(opener: Opener, sender: EnrolledBox, body: list[bytes]
               ) -> tuple[int, int | None]:
    """The first and last seq the batch's header claims, not verified yet (open_batch does
    that); raises BatchRefused for a header that cannot be read or claims another box."""
    first = last = None
    try:
        header = opener.peek_header(body)
        first, last = int_or_none(header.get("first_seq")), int_or_none(header.get("last_seq"))
        if header["box_id"] != sender.box_id:
            raise EnvelopeError(f"batch claims box {header['box_id']} but came over the "
                                f"connection of box {sender.box_id}")
        return int(header["first_seq"]), last
    except (EnvelopeError, KeyError, TypeError, ValueError) as exc:
        raise BatchRefused(str(exc), first, last) from exc


def parse_records(items: list[tuple[bytes | str, bytes]], from_seq: int,
                  last: int) -> list[tuple[dict, str, bytes]]:
    """Each record parsed and checked: a JSON object, ascending seq within the header's range.

    orjson reads a record several times faster than ``json`` (the hub's largest cost per
    record, bench/notes/relay-profile.md); it refuses invalid UTF-8 and NaN, as it should.
    """
    parsed = []
    previous = from_seq - 1
    for raw, digest in items:
        record = orjson.loads(raw)
        text = raw if isinstance(raw, str) else raw.decode("utf-8")
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str) \
                or not isinstance(record.get("at"), str) or "body" not in record:
            raise wire.WireError("a record lacks seq, kind, at or body")
        seq = record.get("seq")
        if not isinstance(seq, int) or not previous < seq <= last:
            raise wire.WireError(f"record seq {seq!r} is out of order or outside {from_seq}-{last}")
        previous = seq
        parsed.append((record, text, digest))
    return parsed


def int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
