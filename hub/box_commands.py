"""Commands queued in the store for boxes (``hub resend``, a snapshot request from the pages),
sent by the receiver to each box that is connected, once (hub/receiver.py's housekeeping).

Example::

    send_pending(store, identity.sign_private, connected_box_ids, receiver.send_to)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from standard import wire
from standard.envelope import sign_document

log = logging.getLogger("hub.receiver")


def send_pending(store, sign_private: Ed25519PrivateKey, connected: set[str],
                 send_to: Callable[[str, list[bytes]], None]) -> None:
    """Each pending command of a connected box sent and marked done (one the hub cannot send
    is dropped with an error, not retried every second)."""
    for command in store.pending_commands():
        if command["box_id"] not in connected:
            continue  # sent when the box is next connected
        try:
            frames = command_frames(sign_private, command["box_id"], command["kind"],
                                    json.loads(command["body"]))
        except ValueError as exc:
            log.error("command %s for box %s dropped: %s", command["id"], command["box_id"],
                      exc)
        else:
            send_to(command["box_id"], frames)
            log.info("sent box %s: %s %s", command["box_id"], command["kind"], command["body"])
        store.command_done(command["id"])


def command_frames(sign_private: Ed25519PrivateKey, box_id: str, kind: str,
                   body: dict) -> list[bytes]:
    """The message a queued command becomes; ValueError for one the hub cannot send."""
    if kind == "resend" and isinstance(body.get("from_seq"), int):
        return wire.encode(wire.RESEND, body)
    if kind == "snapshot" and isinstance(body.get("request_id"), int):
        doc = sign_document({**body, "box_id": box_id}, wire.SNAPSHOT_REQUEST_KIND,
                            body["request_id"], sign_private)
        return [wire.SNAPSHOT_REQUEST, json.dumps(doc, ensure_ascii=False).encode()]
    raise ValueError(f"unknown command {kind!r} {body}")
