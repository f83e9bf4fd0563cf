"""Identities, key files and enrollment records for the hub and the boxes.

Each identity holds three separate key pairs: CurveZMQ (transport), X25519 (batch
sealing) and Ed25519 (signing). Files are JSON with ``"version": 1``:

- ``keys/hub.identity.json`` / ``keys/box.identity.json``: secret, mode 0600, dir 0700;
- ``hub.public.json``: what boxes need (curve, seal and sign publics, endpoint);
- ``<boxes_dir>/<box_id>.json`` at the hub: an enrolled box's public record (the hub's
  register of boxes is ``standard/boxregistry.py``);
- ``enroll-request.json`` / an approval: the offline enrollment path.

The running box and hub load their keys from here; creating hub and box folders is the
technicians' job (``provisioning/enrollment.py``).

Example (reads files, so not a doctest)::

    identity = load_box_identity(Path("/srv/box1/keys/box.identity.json"))
    identity.box_id  # '440605-01'
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any, Callable, TypeVar

import zmq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from zmq.utils import z85

from standard import envelope
from standard.districts import district_name
from standard.files import private_dir, write_private

FILE_VERSION = 1
HUB_PUBLIC_FILE = "hub.public.json"
BOX_IDENTITY_FILE = "keys/box.identity.json"
BOX_HUB_PUBLIC_FILE = "keys/hub.public.json"
PLATFORM_TOKEN_FILE = "keys/platform.token"
REQUEST_FILE = "enroll-request.json"
PROFILE_FILE = "profile.toml"
CALENDAR_FILE = "calendar.json"
APPROVAL_KIND = "enroll-approval"
BOX_ID_PATTERN = re.compile(r"[0-9A-Za-z\-_.]{1,64}")  # as edge.config.BoxConfig.box_id

K = TypeVar("K")


class IdentityError(Exception):
    """A key file, public record or enrollment is missing, unreadable or invalid."""


class IdentityExists(IdentityError):
    """A key or config file already exists and would be overwritten."""


class InsecureKeyFile(IdentityError):
    """A secret key file is readable by other users."""


class BadApproval(IdentityError):
    """An enrollment approval does not verify or is for another box."""


@dataclasses.dataclass(frozen=True)
class Secrets:
    curve_public: bytes  # Z85, as zmq's CURVE socket options take it
    curve_secret: bytes
    seal_private: X25519PrivateKey
    sign_private: Ed25519PrivateKey

    @property
    def seal_public(self) -> X25519PublicKey:
        return self.seal_private.public_key()

    @property
    def sign_public(self) -> Ed25519PublicKey:
        return self.sign_private.public_key()


@dataclasses.dataclass(frozen=True)
class HubIdentity(Secrets):
    pass


@dataclasses.dataclass(frozen=True)
class BoxIdentity(Secrets):
    box_id: str
    district_code: str
    name: str


@dataclasses.dataclass(frozen=True)
class HubPublic:
    curve_public: bytes
    seal_public: X25519PublicKey
    sign_public: Ed25519PublicKey
    endpoint: str

    @property
    def fingerprint(self) -> str:
        return envelope.fingerprint(self.sign_public)


@dataclasses.dataclass(frozen=True)
class BoxPublic:
    box_id: str
    district_code: str
    name: str
    curve_public: bytes
    seal_public: X25519PublicKey
    sign_public: Ed25519PublicKey


# --- file helpers ------------------------------------------------------------------------


def _json_bytes(doc: dict) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_json_file(path: Path) -> dict:
    """A hallwatch JSON file of this ``FILE_VERSION``; IdentityError names the file otherwise."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IdentityError(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise IdentityError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FILE_VERSION:
        raise IdentityError(f"{path}: not a version {FILE_VERSION} hallwatch file")
    return doc


def text_field(doc: dict, name: str, where: object) -> str:
    """``doc[name]``, which must be non-empty text; IdentityError names ``where`` and the field."""
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise IdentityError(f"{where}: field {name!r} is missing or not text")
    return value


def _refuse_existing(paths: list[Path]) -> None:
    for path in paths:
        if path.exists():
            raise IdentityExists(f"{path} already exists; use --force to overwrite it")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (O_EXCL: never over an existing file)."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` whole: readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    _write_new(tmp, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_secret(path: Path, data: bytes, force: bool) -> None:
    """Write a 0600 file in a 0700 folder; it is never readable by others, even briefly."""
    private_dir(path.parent, tighten=True)
    if force:
        write_private(path, data)
        return
    try:
        _write_new(path, data, 0o600)
    except FileExistsError:
        raise IdentityExists(f"{path} already exists; use --force to overwrite it") from None


def write_public_file(path: Path, doc: dict) -> None:
    """Replace a public (0644) JSON file whole."""
    _atomic_write(path, _json_bytes(doc), 0o644)


# --- identities --------------------------------------------------------------------------


def _new_secrets() -> dict:
    curve_public, curve_secret = zmq.curve_keypair()
    return {
        "curve_public": curve_public,
        "curve_secret": curve_secret,
        "seal_private": X25519PrivateKey.generate(),
        "sign_private": Ed25519PrivateKey.generate(),
    }


def new_hub_identity() -> HubIdentity:
    return HubIdentity(**_new_secrets())


def _check_box_id(box_id: str, where: str = "") -> None:
    if not BOX_ID_PATTERN.fullmatch(box_id):
        raise IdentityError(f"{where}box id {box_id!r}: use 1-64 letters, digits, '-', '_' or '.'")


def new_box_identity(box_id: str, district_code: str, name: str) -> BoxIdentity:
    _check_box_id(box_id)
    district_name(district_code)  # raises UnknownDistrict
    return BoxIdentity(**_new_secrets(), box_id=box_id, district_code=district_code, name=name)


def save_identity(identity: HubIdentity | BoxIdentity, path: Path, force: bool = False) -> None:
    """Write a secret identity file (0600); refuses to overwrite unless ``force``."""
    doc: dict[str, Any] = {"version": FILE_VERSION, "kind": "hub-identity"}
    if isinstance(identity, BoxIdentity):
        doc = {"version": FILE_VERSION, "kind": "box-identity", "box_id": identity.box_id,
               "district_code": identity.district_code, "name": identity.name}
    doc.update({
        "curve_public": identity.curve_public.decode("ascii"),
        "curve_secret": identity.curve_secret.decode("ascii"),
        "seal_private": envelope.key_to_text(identity.seal_private),
        "seal_public": envelope.key_to_text(identity.seal_public),
        "sign_private": envelope.key_to_text(identity.sign_private),
        "sign_public": envelope.key_to_text(identity.sign_public),
    })
    _write_secret(Path(path), _json_bytes(doc), force)


def _z85_key(text: str) -> bytes:
    try:
        if len(z85.decode(text.encode("ascii"))) == 32:
            return text.encode("ascii")
    except (ValueError, UnicodeEncodeError, KeyError, IndexError):
        pass
    raise envelope.BadKey("CURVE key: expected 40 characters of Z85")


def _key(doc: dict, name: str, where: object, decode: Callable[[str], K]) -> K:
    try:
        return decode(text_field(doc, name, where))
    except envelope.BadKey as exc:
        raise IdentityError(f"{where}: {name}: {exc}") from None


def _load_secret(path: Path, kind: str) -> tuple[dict, dict]:
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise IdentityError(f"{path}: file not found") from None
    if mode & 0o077:
        raise InsecureKeyFile(
            f"{path} has mode {mode:04o}: a secret key file must be readable by its owner only. "
            f"Fix: chmod 600 {path}"
        )
    doc = read_json_file(path)
    if doc.get("kind") != kind:
        raise IdentityError(f"{path}: is a {doc.get('kind')!r} file, expected {kind!r}")
    keys = {
        "curve_public": _key(doc, "curve_public", path, _z85_key),
        "curve_secret": _key(doc, "curve_secret", path, _z85_key),
        "seal_private": _key(doc, "seal_private", path, envelope.x25519_private_from_text),
        "sign_private": _key(doc, "sign_private", path, envelope.ed25519_private_from_text),
    }
    # The publics are stored for reading by eye; a mismatch means a damaged or spliced file.
    expected = {
        "curve_public": zmq.curve_public(keys["curve_secret"]).decode("ascii"),
        "seal_public": envelope.key_to_text(keys["seal_private"].public_key()),
        "sign_public": envelope.key_to_text(keys["sign_private"].public_key()),
    }
    for name, value in expected.items():
        if doc.get(name) != value:
            raise IdentityError(f"{path}: {name} does not match its private key (damaged file?)")
    return doc, keys


def load_hub_identity(path: Path) -> HubIdentity:
    """Read ``hub.identity.json``; raises InsecureKeyFile if it is not 0600."""
    return HubIdentity(**_load_secret(path, "hub-identity")[1])


def load_box_identity(path: Path) -> BoxIdentity:
    """Read ``box.identity.json``; raises InsecureKeyFile if it is not 0600."""
    doc, keys = _load_secret(path, "box-identity")
    return BoxIdentity(
        **keys,
        box_id=text_field(doc, "box_id", path),
        district_code=text_field(doc, "district_code", path),
        name=text_field(doc, "name", path),
    )


# --- public records ----------------------------------------------------------------------


def hub_public_record(identity: HubIdentity, endpoint: str) -> dict:
    return {
        "version": FILE_VERSION,
        "curve_public": identity.curve_public.decode("ascii"),
        "seal_public": envelope.key_to_text(identity.seal_public),
        "sign_public": envelope.key_to_text(identity.sign_public),
        "endpoint": endpoint,
    }


def _hub_public_from(doc: dict, where: object) -> HubPublic:
    return HubPublic(
        curve_public=_key(doc, "curve_public", where, _z85_key),
        seal_public=_key(doc, "seal_public", where, envelope.x25519_public_from_text),
        sign_public=_key(doc, "sign_public", where, envelope.ed25519_public_from_text),
        endpoint=text_field(doc, "endpoint", where),
    )


def load_hub_public(path: Path) -> HubPublic:
    """Read ``hub.public.json`` (the box's copy is ``keys/hub.public.json``)."""
    return _hub_public_from(read_json_file(path), path)


def box_public_record(box: BoxPublic | BoxIdentity) -> dict:
    """A box's public record: what an enrollment request carries."""
    return {
        "version": FILE_VERSION,
        "box_id": box.box_id,
        "district_code": box.district_code,
        "name": box.name,
        "curve_public": box.curve_public.decode("ascii"),
        "seal_public": envelope.key_to_text(box.seal_public),
        "sign_public": envelope.key_to_text(box.sign_public),
    }


def box_public_from(doc: dict, where: object) -> BoxPublic:
    """A box's public record read back (``box_public_record``'s inverse), checked."""
    box_id = text_field(doc, "box_id", where)
    _check_box_id(box_id, f"{where}: ")
    return BoxPublic(
        box_id=box_id,
        district_code=text_field(doc, "district_code", where),
        name=text_field(doc, "name", where),
        curve_public=_key(doc, "curve_public", where, _z85_key),
        seal_public=_key(doc, "seal_public", where, envelope.x25519_public_from_text),
        sign_public=_key(doc, "sign_public", where, envelope.ed25519_public_from_text),
    )
