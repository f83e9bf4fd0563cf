"""Key rotation: a box gets new keys, the hub enrolls them for the same box id, the old ones go.

The box makes a new identity (same box id, district and name) and a **rotation request**: its
old and new public records, signed with the OLD Ed25519 key. The hub accepts it only if that
signature verifies against the keys the box is enrolled with now, so only the holder of the
current keys can rotate them, and a request cannot be replayed after the next rotation.

- Online (``--hub-dir``): the request is enrolled at once, then the new keys replace the old.
- Offline: the request is written to ``rotate-request.json`` and the new keys replace the old
  at once; the hub refuses the box's connection until the operator runs
  ``hallwatch hub enroll-rotation --config hub.toml rotate-request.json``.

Nothing queued is lost either way: the outbox is keyed by seq, not by key. The running relay
notices the new identity file, reconnects with the new keys and sends everything the hub has
not acknowledged; the hub applies each (box, seq) once, so the chain stays continuous.

Request format (a signed document, ``standard.envelope.sign_document``)::

    {"version": 1, "kind": "box-key-rotation", "doc_version": 1,
     "payload": {"box_id", "requested_at", "old": {box public record}, "new": {...}},
     "signature": base64 Ed25519 by the old sign key}

Example::

    result = rotate_box(Path("/etc/hallwatch/box.toml"), hub_dir=Path("/srv/hub"))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sqlite3
from pathlib import Path

from edge.config import BoxConfig, load_box_config
from edge.storeschema import get_meta
from hub.config import load_hub_config
from standard import envelope, identity
from standard.rotation import RotationError, enroll_rotation, request_payload, rotation_request

REQUEST_FILE = "rotate-request.json"


@dataclasses.dataclass(frozen=True)
class RotationResult:
    box_id: str
    old_fingerprint: str
    new_fingerprint: str
    request_file: Path | None  # offline: what to take to the hub
    enrolled: bool  # online: the hub already has the new keys


# --- on the box --------------------------------------------------------------------------


def _identity_path(config: BoxConfig) -> Path:
    return config.path(config.relay.identity if config.relay else identity.BOX_IDENTITY_FILE)


def _earlier_request_waits(config: BoxConfig, request_file: Path) -> bool:
    """True if an offline request exists and the hub has not answered since it was made."""
    if not request_file.exists():
        return False
    requested_at = request_payload(identity.read_json_file(request_file), str(request_file)).get(
        "requested_at", "1970-01-01T00:00:00+00:00")
    heard_at = None
    if config.db_path.exists():
        conn = sqlite3.connect(f"file:{config.db_path}?mode=ro", uri=True, timeout=5)
        try:
            heard_at = get_meta(conn, "relay_heard_at")
        except sqlite3.DatabaseError:
            heard_at = None
        finally:
            conn.close()
    answered = heard_at is not None and dt.datetime.fromisoformat(heard_at) > \
        dt.datetime.fromisoformat(requested_at)
    if answered:
        request_file.unlink()  # the hub talked to the new keys: that request is done
    return not answered


def _same_owner(path: Path, like: Path) -> None:
    """Run as root on an installed box, keep the keys readable by the service's user."""
    if os.geteuid() == 0:
        info = like.stat()
        os.chown(path, info.st_uid, info.st_gid)


def rotate_box(config_path: Path, *, hub_dir: Path | None = None, force: bool = False,
               now: dt.datetime | None = None) -> RotationResult:
    """Make new keys, enroll them (online) or write the request (offline), retire the old."""
    config = load_box_config(config_path)
    key_path = _identity_path(config)
    old = identity.load_box_identity(key_path)
    request_file = config.path(REQUEST_FILE)
    if not force and _earlier_request_waits(config, request_file):
        raise RotationError(
            f"{request_file} is waiting for the hub: take it to the hub operator (hallwatch hub "
            "enroll-rotation) first; rotating again now would lock the box out (--force to "
            "rotate anyway)")
    hub_config = load_hub_config(Path(hub_dir) / "hub.toml") if hub_dir else None
    new = identity.new_box_identity(old.box_id, old.district_code, old.name)
    request = rotation_request(old, new, now)
    pending = key_path.with_name(f"{key_path.name}.new")
    identity.save_identity(new, pending, force=True)  # the new secret is never only in memory
    _same_owner(pending, key_path)
    try:
        if hub_config is not None:
            enroll_rotation(hub_config, request, now=now)
        else:
            identity.write_public_file(request_file, request)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, key_path)  # the old keys are gone; the relay picks the new ones up
    return RotationResult(old.box_id, envelope.fingerprint(old.sign_public),
                          envelope.fingerprint(new.sign_public),
                          None if hub_config is not None else request_file,
                          hub_config is not None)
