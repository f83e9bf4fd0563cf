"""Messages between a box (DEALER) and the hub (ROUTER), as ZeroMQ multipart frames.

The first frame names the message; the rest is either a sealed batch (three frames, see
:mod:`standard.envelope`) or one frame of JSON with a ``version`` field. Never pickle.

Box → hub::

    [b"hello", {"version": 1, "box_id", "last_seq", "acked_seq", "backlog", "configs": {kind: n}}]
               optional after ``edge reinit``: "rebase": true, "store_id"
    [b"batch", header, ciphertext, signature]   header: first_seq, last_seq, from_seq, count

A batch's plaintext (before compression and sealing) is framed, so that neither end parses or
escapes a record to carry it: ``b"HWF1"``, the record count ``n`` (4 bytes, big-endian), ``n``
record lengths (4 bytes each), ``n`` chain hashes (32 bytes each), then the ``n`` record texts
back to back (UTF-8 JSON, exactly the bytes the hash chain covers). A hub also reads the first
release's form, a JSON array of ``[record_text, hash_hex]``, from boxes not yet upgraded.
    [b"ping",  {"version": 1, "box_id", "last_seq", "backlog"}]
    [b"config-ack", {"version": 1, "box_id", "kind", "doc_version", "ok", "error"}]
    [b"snapshot", {"version": 1, "box_id", "request_id", "window_no", "taken_at",
                   "jpeg": base64 or null, "error": null or why (Chinese)}]

Hub → box::

    [b"ack",    {"version": 1, "acked_seq", "applied": [first, last]}]
    [b"nack",   {"version": 1, "first_seq", "last_seq", "reason"}]
    [b"pong",   {"version": 1, "acked_seq"}]
               answering a hello with "rebase": also "rebase": {"base_seq", "chain_hash"}
    [b"resend", {"version": 1, "from_seq"}]
    [b"config", signed document (see standard.envelope.sign_document)]
    [b"snapshot-request", signed document of kind "snapshot_request", doc_version = request
                          id, payload {"request_id", "box_id", "window_no", "requested_by",
                          "expires_at"}]
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

WIRE_VERSION = 1

HELLO = b"hello"
BATCH = b"batch"
PING = b"ping"
CONFIG_ACK = b"config-ack"
ACK = b"ack"
NACK = b"nack"
PONG = b"pong"
RESEND = b"resend"
CONFIG = b"config"
SNAPSHOT_REQUEST = b"snapshot-request"
SNAPSHOT = b"snapshot"
SNAPSHOT_REQUEST_KIND = "snapshot_request"  # the signed document's kind
MAX_SNAPSHOT_BYTES = 1024 * 1024  # a snapshot's JPEG, decoded; the hub refuses bigger ones

BOX_MESSAGES = frozenset({HELLO, BATCH, PING, CONFIG_ACK, SNAPSHOT})
HUB_MESSAGES = frozenset({ACK, NACK, PONG, RESEND, CONFIG, SNAPSHOT_REQUEST})
MAX_JSON_BYTES = 16 * 1024 * 1024


class WireError(ValueError):
    """A message is malformed: wrong frame count, unknown type or bad JSON."""


def encode(kind: bytes, body: dict[str, Any]) -> list[bytes]:
    """``[kind, json]`` frames for a JSON message."""
    payload = {"version": WIRE_VERSION, **body}
    return [kind, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()]


def decode_json(frames: list[bytes], what: bytes) -> dict[str, Any]:
    """The JSON body of a one-frame message, checked for size, shape and version."""
    if len(frames) != 1:
        raise WireError(f"{what.decode()} has {len(frames)} body frames, expected 1")
    if len(frames[0]) > MAX_JSON_BYTES:
        raise WireError(f"{what.decode()} body is over {MAX_JSON_BYTES} bytes")
    try:
        body = json.loads(frames[0])
    except (UnicodeDecodeError, ValueError):
        raise WireError(f"{what.decode()} body is not JSON") from None
    if not isinstance(body, dict):
        raise WireError(f"{what.decode()} body is not a JSON object")
    if body.get("version") != WIRE_VERSION:
        raise WireError(f"{what.decode()} version {body.get('version')!r} is not {WIRE_VERSION}")
    return body


FRAMED = b"HWF1"
HASH_BYTES = 32


def batch_plaintext(records: Sequence[tuple[str | bytes, bytes]]) -> bytes:
    """Records as sealed in a batch, framed (see the module's docstring): one join, no escaping.

    >>> parse_batch_plaintext(batch_plaintext([(b'{"seq":1}', bytes(32))]))[0][0]
    b'{"seq":1}'
    """
    texts = [text if isinstance(text, bytes) else text.encode() for text, _ in records]
    digests = [digest for _, digest in records]
    if any(len(digest) != HASH_BYTES for digest in digests):
        raise ValueError("a chain hash is 32 bytes")
    count = len(texts)
    return b"".join((FRAMED, struct.pack(f">I{count}I", count, *map(len, texts)),
                     *digests, *texts))


def parse_batch_plaintext(plaintext: bytes) -> list[tuple[bytes, bytes]]:
    """``[(record_text_utf8, hash)]`` from a framed plaintext, or from the first release's JSON."""
    if plaintext[:1] == b"[":
        return _parse_json_plaintext(plaintext)
    size = len(plaintext)
    if plaintext[:4] != FRAMED or size < 8:
        raise WireError("batch plaintext is neither framed (HWF1) nor a JSON array")
    (count,) = struct.unpack_from(">I", plaintext, 4)
    hashes_at = 8 + 4 * count
    texts_at = hashes_at + HASH_BYTES * count
    if texts_at > size:
        raise WireError(f"batch plaintext announces {count} records but is {size} bytes")
    lengths = struct.unpack_from(f">{count}I", plaintext, 8)
    if texts_at + sum(lengths) != size:
        raise WireError("batch plaintext's record lengths do not add up to its size")
    out = []
    position, digest_at = texts_at, hashes_at
    for length in lengths:
        out.append((plaintext[position:position + length],
                    plaintext[digest_at:digest_at + HASH_BYTES]))
        position += length
        digest_at += HASH_BYTES
    return out


def _parse_json_plaintext(plaintext: bytes) -> list[tuple[bytes, bytes]]:
    try:
        items = json.loads(plaintext)
        return [(text.encode(), bytes.fromhex(digest)) for text, digest in items]
    except (ValueError, TypeError, AttributeError) as exc:
        raise WireError(f"batch plaintext is not a list of [record, hash]: {exc}") from None
