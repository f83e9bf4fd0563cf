"""The hub's register of enrolled boxes: one public record per box, enrolled, listed, revoked.

Each enrolled box is ``<boxes_dir>/<box_id>.json`` at the hub (JSON, ``"version": 1``): its
public record (``standard/identity.py``) plus when it was enrolled and whether it is revoked.
The hub loads the register to know whose batches to open; the technicians' commands enroll and
revoke (``provisioning/enrollment.py``, ``hallwatch hub boxes``), key rotation replaces a
box's keys (``standard/rotation.py``).

Example (reads files, so not a doctest)::

    enrolled = enroll_box(hub_config, box_public_record(box))
    load_enrolled(hub_config)["440605-01"].revoked   # False
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Protocol

from standard.identity import (
    BOX_ID_PATTERN,
    BoxPublic,
    IdentityError,
    box_public_from,
    box_public_record,
    read_json_file,
    text_field,
    write_public_file,
)


class BoxRegistry(Protocol):
    """Where the hub keeps enrolled boxes (the hub's config): ``path(boxes_dir)``."""

    boxes_dir: str

    def path(self, value: str) -> Path: ...


class EnrollmentConflict(IdentityError):
    """The box id is already enrolled with other keys, or revoked."""


class NotEnrolled(IdentityError):
    """No box with this id is enrolled at the hub."""


@dataclasses.dataclass(frozen=True)
class EnrolledBox(BoxPublic):
    enrolled_at: str
    revoked: bool
    revoked_at: str | None = None


def load_enrolled_file(path: Path) -> EnrolledBox:
    """One box's record at the hub (``<boxes_dir>/<box_id>.json``); its name must be its id."""
    doc = read_json_file(path)
    box = box_public_from(doc, path)
    if path.stem != box.box_id:
        raise IdentityError(f"{path}: holds box {box.box_id!r}, not {path.stem!r}")
    return EnrolledBox(**vars(box), enrolled_at=text_field(doc, "enrolled_at", path),
                       revoked=doc.get("revoked") is True, revoked_at=doc.get("revoked_at"))


def save_enrolled(hub_config: BoxRegistry, box: EnrolledBox) -> None:
    """Write the box's record whole (readers see the old file or the new one)."""
    doc = box_public_record(box) | {"enrolled_at": box.enrolled_at, "revoked": box.revoked}
    if box.revoked_at:
        doc["revoked_at"] = box.revoked_at
    write_public_file(boxes_dir(hub_config) / f"{box.box_id}.json", doc)


def boxes_dir(hub_config: BoxRegistry) -> Path:
    """The folder of the hub's enrolled boxes."""
    return hub_config.path(hub_config.boxes_dir)


def utc_stamp(now: dt.datetime | None) -> str:
    """``now`` (or the time now) in UTC to the second, as the records keep it."""
    moment = now or dt.datetime.now(dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def same_keys(a: BoxPublic, b: BoxPublic) -> bool:
    """True when two public records carry the same box and keys."""
    return box_public_record(a) == box_public_record(b)


def enroll_box(hub_config: BoxRegistry, record: dict, *, force: bool = False,
               now: dt.datetime | None = None) -> EnrolledBox:
    """Enroll a box's public record; enrolling the same keys again is a no-op.

    Refuses (EnrollmentConflict) a box id already enrolled with other keys or revoked,
    unless ``force``.
    """
    box = box_public_from(record, "box public record")
    path = boxes_dir(hub_config) / f"{box.box_id}.json"
    if path.exists() and not force:
        existing = load_enrolled_file(path)
        if existing.revoked:
            raise EnrollmentConflict(f"box {box.box_id} is revoked; use --force to enroll it again")
        if not same_keys(existing, box):
            raise EnrollmentConflict(
                f"box {box.box_id} is already enrolled with other keys; use --force to replace them"
            )
        return existing
    enrolled = EnrolledBox(**vars(box), enrolled_at=utc_stamp(now), revoked=False)
    save_enrolled(hub_config, enrolled)
    return enrolled


def load_enrolled(hub_config: BoxRegistry) -> dict[str, EnrolledBox]:
    """Every enrolled box by id, revoked ones included (check ``.revoked``)."""
    folder = boxes_dir(hub_config)
    if not folder.is_dir():
        raise IdentityError(f"{folder}: boxes folder not found; run 'provision hub-init' first")
    boxes = (load_enrolled_file(path) for path in sorted(folder.glob("*.json")))
    return {box.box_id: box for box in boxes}


def list_enrolled(hub_config: BoxRegistry) -> list[EnrolledBox]:
    return list(load_enrolled(hub_config).values())


def revoke_box(
    hub_config: BoxRegistry, box_id: str, *, now: dt.datetime | None = None
) -> EnrolledBox:
    """Mark a box revoked: the hub then refuses its batches."""
    path = boxes_dir(hub_config) / f"{box_id}.json"
    if not BOX_ID_PATTERN.fullmatch(box_id) or not path.exists():
        raise NotEnrolled(f"box {box_id!r} is not enrolled at {boxes_dir(hub_config)}")
    box = load_enrolled_file(path)
    if not box.revoked:
        box = dataclasses.replace(box, revoked=True, revoked_at=utc_stamp(now))
        save_enrolled(hub_config, box)
    return box


def next_box_id(hub_config: BoxRegistry, district_code: str) -> str:
    """``<district>-NN``: one more than the boxes already enrolled for the district."""
    enrolled = load_enrolled(hub_config)
    number = sum(box.district_code == district_code for box in enrolled.values()) + 1
    while f"{district_code}-{number:02d}" in enrolled:
        number += 1
    return f"{district_code}-{number:02d}"
