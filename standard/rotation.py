"""Key rotation, the hub's side: a box's new keys, vouched for by its old sign key.

The box makes the request (``provisioning/rotate.py``, a technician's command); the hub
verifies it and enrolls the new keys (``hallwatch hub enroll-rotation``). Both sides share
the request's shape, so it lives in the standard.

Example (reads and writes the hub's boxes folder, so not a doctest)::

    box, changed = enroll_rotation(hub_config, Path("rotate-request.json"))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from standard import boxregistry, envelope, identity

ROTATION_KIND = "box-key-rotation"
ROTATIONS_DIR = "rotations"  # at the hub: every accepted request, for the audit


class RotationError(identity.IdentityError):
    """A rotation request is malformed, not signed by the enrolled keys, or not allowed."""


def rotation_request(old: identity.BoxIdentity, new: identity.BoxIdentity,
                     now: dt.datetime | None = None) -> dict:
    """The signed request: new public keys, vouched for by the old sign key."""
    payload = {"box_id": old.box_id, "requested_at": boxregistry.utc_stamp(now),
               "old": identity.box_public_record(old), "new": identity.box_public_record(new)}
    return envelope.sign_document(payload, ROTATION_KIND, 1, old.sign_private)


# --- at the hub --------------------------------------------------------------------------


def request_payload(doc: object, where: str) -> dict:
    payload = doc.get("payload") if isinstance(doc, dict) else None
    if not isinstance(payload, dict) or doc.get("kind") != ROTATION_KIND \
            or not all(isinstance(payload.get(k), dict) for k in ("old", "new")):
        raise RotationError(f"{where}: not a box key rotation request")
    return payload


def enroll_rotation(hub_config: boxregistry.BoxRegistry, request: dict | Path, *,
                    now: dt.datetime | None = None) -> tuple[boxregistry.EnrolledBox, bool]:
    """Verify a rotation request and enroll the new keys; returns (box, changed).

    Enrolling the same request again is a no-op (changed False).
    """
    where = str(request) if isinstance(request, Path) else "rotation request"
    doc = identity.read_json_file(request) if isinstance(request, Path) else request
    payload = request_payload(doc, where)
    box_id = payload.get("box_id")
    if not isinstance(box_id, str) or not identity.BOX_ID_PATTERN.fullmatch(box_id):
        raise RotationError(f"{where}: box id {box_id!r} is not valid")
    path = boxregistry.boxes_dir(hub_config) / f"{box_id}.json"
    if not path.exists():
        raise boxregistry.NotEnrolled(f"box {box_id!r} is not enrolled at "
                                      f"{boxregistry.boxes_dir(hub_config)}")
    enrolled = boxregistry.load_enrolled_file(path)
    if enrolled.revoked:
        raise boxregistry.EnrollmentConflict(f"box {box_id} is revoked: a revoked box cannot "
                                          "rotate its keys (enroll it again instead)")
    new = identity.box_public_from(payload["new"], f"{where}: new")
    if new.box_id != box_id or new.district_code != enrolled.district_code:
        raise RotationError(f"{where}: the new keys are for box {new.box_id} in district "
                            f"{new.district_code}; a rotation keeps box {box_id} in "
                            f"{enrolled.district_code}")
    if boxregistry.same_keys(enrolled, new):
        return enrolled, False  # already rotated by this very request
    try:
        envelope.verify_document(doc, enrolled.sign_public, kind=ROTATION_KIND)
    except envelope.EnvelopeError:
        raise RotationError(f"{where}: not signed by the keys box {box_id} is enrolled with "
                            "(a request made before another rotation, or forged)") from None
    if payload["old"] != identity.box_public_record(enrolled):
        raise RotationError(f"{where}: its old keys are not the ones box {box_id} is "
                            "enrolled with")
    rotated = boxregistry.EnrolledBox(**vars(new), enrolled_at=enrolled.enrolled_at, revoked=False)
    stamp = boxregistry.utc_stamp(now).replace(":", "").replace("+0000", "Z")
    identity.write_public_file(hub_config.path(ROTATIONS_DIR) / f"{box_id}-{stamp}.json",
                           doc)
    boxregistry.save_enrolled(hub_config, rotated)
    return rotated, True
