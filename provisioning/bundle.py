"""A box folder in one file, to carry on a USB stick; its secrets sealed with an install code.

The box has no key of its own before it is installed, so the secrets cannot be encrypted to
it. Instead ``make_bundle`` draws a random one-time **install code** (100 bits, 20 Crockford
base-32 characters in groups of four), prints it once and keeps it nowhere. The code reaches
the technician by another path (phone, SMS, paper), never on the stick. A lost stick then
reveals no key: the secret part is sealed with ChaCha20-Poly1305 under
``scrypt(code, salt, n=2**15, r=8, p=1)``; every public byte of the bundle (box.toml, profile,
catalogue, calendar, the KDF parameters) is the AEAD's associated data, so nothing in the file
can be changed without the code either. What is sealed: everything under ``keys/`` (box keys,
platform token, the hub's public keys).

File format (JSON, ``"version": 1``)::

    {"version": 1, "kind": "hallwatch-box-bundle", "box_id", "district_code", "name",
     "created_at", "files": [{"path", "sha256", "data": base64}],
     "secret": {"kdf": {"name": "scrypt", "n", "r", "p", "salt"}, "aead": "ChaCha20-Poly1305",
                "nonce", "ciphertext"}}

The sealed plaintext is ``{"files": [{"path", "data"}]}`` in canonical JSON.

Example::

    path, code = make_bundle(Path("/srv/box1"), Path("/media/usb/440605-01.hwb"))
    bundle = open_bundle(path, code)          # on the box, code typed by the technician
    [f.path for f in bundle.files]            # ['box.toml', 'catalogue.json', 'keys/...', ...]
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import secrets
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from edge.config import load_box_config
from standard import identity
from standard.configfile import ConfigError
from standard.envelope import canonical_json

BUNDLE_VERSION = 1
BUNDLE_KIND = "hallwatch-box-bundle"
SECRET_DIR = "keys"
SCRYPT_PARAMS = {"n": 2**15, "r": 8, "p": 1}  # 32 MiB, a fraction of a second on a Pi 4
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
CODE_GROUPS, CODE_GROUP_LENGTH = 5, 4  # 20 characters, 100 bits
CODE_LENGTH = CODE_GROUPS * CODE_GROUP_LENGTH
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


class BundleError(Exception):
    """A bundle cannot be made, read or opened."""


class WrongInstallCode(BundleError):
    """The install code does not open the bundle (mistyped, or the bundle was changed)."""


@dataclasses.dataclass(frozen=True)
class BundleFile:
    path: str  # relative, POSIX, inside the box folder
    data: bytes
    secret: bool


@dataclasses.dataclass(frozen=True)
class Bundle:
    box_id: str
    district_code: str
    name: str
    created_at: str
    files: list[BundleFile]

    def file(self, path: str) -> BundleFile:
        for item in self.files:
            if item.path == path:
                return item
        raise BundleError(f"the bundle has no {path}")


# --- the install code ----------------------------------------------------------------------


def new_install_code() -> str:
    """A fresh random code, e.g. ``7KQ4-M2XD-9PRT-H3VW-C8JN``."""
    text = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(text[i:i + CODE_GROUP_LENGTH] for i in range(0, CODE_LENGTH, CODE_GROUP_LENGTH))


def normalize_code(text: str) -> str:
    """The code as typed -> its 20 characters: case, spaces and dashes do not matter, and the
    look-alikes O/I/L are read as 0/1/1.

    >>> normalize_code("7kq4 m2xd-9prt-h3vw-c8jn")
    '7KQ4M2XD9PRTH3VWC8JN'
    """
    cleaned = "".join(text.split()).replace("-", "").upper()
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    wrong = sorted({ch for ch in cleaned if ch not in CODE_ALPHABET})
    if wrong or len(cleaned) != CODE_LENGTH:
        raise WrongInstallCode(
            f"an install code is {CODE_LENGTH} letters and digits in groups of four, e.g. "
            "7KQ4-M2XD-9PRT-H3VW-C8JN" + (f" (not {''.join(wrong)!r})" if wrong else
                                          f" (got {len(cleaned)})"))
    return cleaned


def _key(code: str, kdf: dict) -> bytes:
    try:
        salt = base64.b64decode(kdf["salt"], validate=True)
        scrypt = Scrypt(salt=salt, length=32, n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"the bundle's key derivation parameters are invalid: {exc}") from None
    return scrypt.derive(normalize_code(code).encode("ascii"))


# --- making a bundle -----------------------------------------------------------------------


def _relative(path_text: str, what: str) -> str:
    path = PurePosixPath(path_text)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BundleError(f"box.toml: {what} = {path_text!r} must be a path inside the box "
                          "folder (relative, no '..') to go into a bundle")
    return str(path)


def box_files(box_dir: Path) -> list[BundleFile]:
    """The files a box needs, as its box.toml names them; keys/ and the secrets are secret."""
    try:
        config = load_box_config(Path(box_dir) / "box.toml")
    except ConfigError as exc:
        raise BundleError(str(exc)) from None
    if config.relay is None:
        raise BundleError(f"{box_dir}/box.toml has no [relay]: the box is not enrolled yet "
                          "(provision box --hub-dir, or provision accept on the offline path)")
    identity.load_box_identity(config.path(config.relay.identity))  # 0600 and whole
    named = {"box.toml": "box.toml", "catalogue": config.catalogue,
             "calendar_overrides": config.calendar_overrides, "profile": config.profile,
             "platform_token_file": config.platform_token_file,
             "relay.identity": config.relay.identity, "relay.hub_public": config.relay.hub_public}
    secret_names = {"platform_token_file", "relay.identity"}
    files: dict[str, BundleFile] = {}
    for what, path_text in named.items():
        if path_text is None:
            continue
        relative = _relative(path_text, what)
        try:
            data = config.path(relative).read_bytes()
        except OSError as exc:
            raise BundleError(f"{config.path(relative)}: cannot read {what}: "
                              f"{exc.strerror}") from None
        secret = what in secret_names or PurePosixPath(relative).parts[0] == SECRET_DIR
        if relative in files:  # one file named twice: secret if either name says so
            secret = secret or files[relative].secret
        files[relative] = BundleFile(relative, data, secret)
    return list(files.values())


def make_bundle(box_dir: Path, out: Path, *, force: bool = False,
                now: dt.datetime | None = None) -> tuple[Path, str]:
    """Write the bundle file; returns its path and the install code (shown once, kept nowhere)."""
    out = Path(out)
    if out.exists() and not force:
        raise BundleError(f"{out} already exists; use --force to overwrite it")
    files = box_files(Path(box_dir))
    config = load_box_config(Path(box_dir) / "box.toml")
    box = identity.load_box_identity(config.path(config.relay.identity))
    code = new_install_code()
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    document = {
        "version": BUNDLE_VERSION, "kind": BUNDLE_KIND, "box_id": box.box_id,
        "district_code": box.district_code, "name": box.name,
        "created_at": moment.isoformat(timespec="seconds"),
        "files": [{"path": f.path, "sha256": hashlib.sha256(f.data).hexdigest(),
                   "data": base64.b64encode(f.data).decode("ascii")}
                  for f in files if not f.secret],
        "secret": {"kdf": {"name": "scrypt", **SCRYPT_PARAMS,
                           "salt": base64.b64encode(secrets.token_bytes(16)).decode("ascii")},
                   "aead": "ChaCha20-Poly1305",
                   "nonce": base64.b64encode(secrets.token_bytes(12)).decode("ascii")},
    }
    sealed = canonical_json({"files": [{"path": f.path, "data": base64.b64encode(f.data)
                                        .decode("ascii")} for f in files if f.secret]})
    aead = ChaCha20Poly1305(_key(code, document["secret"]["kdf"]))
    nonce = base64.b64decode(document["secret"]["nonce"])
    ciphertext = aead.encrypt(nonce, sealed, _associated_data(document))
    document["secret"]["ciphertext"] = base64.b64encode(ciphertext).decode("ascii")
    identity._atomic_write(out, canonical_json(document) + b"\n", 0o600)
    return out, code


def _associated_data(document: dict) -> bytes:
    """Everything in the bundle but the ciphertext: changing any of it fails the AEAD."""
    unsealed = {**document, "secret": {k: v for k, v in document["secret"].items()
                                       if k != "ciphertext"}}
    return canonical_json(unsealed)


# --- reading a bundle ----------------------------------------------------------------------


def read_bundle(path: Path) -> dict:
    """The bundle document, checked for shape; nothing is decrypted or trusted yet."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BundleError(f"{path}: over {MAX_BUNDLE_BYTES} bytes, not a box bundle")
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BundleError(f"{path}: file not found") from None
    except (UnicodeDecodeError, ValueError):
        raise BundleError(f"{path}: not a hallwatch box bundle (not JSON)") from None
    if not isinstance(document, dict) or document.get("kind") != BUNDLE_KIND:
        raise BundleError(f"{path}: not a hallwatch box bundle")
    if document.get("version") != BUNDLE_VERSION:
        raise BundleError(f"{path}: bundle version {document.get('version')!r} is not "
                          f"{BUNDLE_VERSION}; use the hallwatch version that made it")
    secret = document.get("secret")
    if not isinstance(document.get("files"), list) or not isinstance(secret, dict):
        raise BundleError(f"{path}: the bundle is damaged (files or secret part missing)")
    return document


def _decoded(entries: object, where: str, secret: bool) -> list[BundleFile]:
    files = []
    try:
        for entry in entries:
            relative = _relative(entry["path"], "path")
            files.append(BundleFile(relative, base64.b64decode(entry["data"], validate=True),
                                    secret))
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: a file entry is damaged: {exc}") from None
    return files


def open_bundle(path: Path, code: str) -> Bundle:
    """Verify and decrypt with the install code; raises WrongInstallCode or BundleError."""
    document = read_bundle(path)
    secret = document["secret"]
    try:
        nonce = base64.b64decode(secret["nonce"], validate=True)
        ciphertext = base64.b64decode(secret["ciphertext"], validate=True)
        aead = ChaCha20Poly1305(_key(code, secret["kdf"]))
        plaintext = aead.decrypt(nonce, ciphertext, _associated_data(document))
    except InvalidTag:
        raise WrongInstallCode(f"{path}: the install code does not open this bundle: check it "
                               "character by character (or the bundle file was changed)") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: the bundle's secret part is damaged: {exc}") from None
    files = _decoded(document["files"], str(path), secret=False)
    for entry, item in zip(document["files"], files):
        if hashlib.sha256(item.data).hexdigest() != entry.get("sha256"):
            raise BundleError(f"{path}: {item.path} does not match its checksum")
    files += _decoded(json.loads(plaintext)["files"], str(path), secret=True)
    paths = [item.path for item in files]
    if len(set(paths)) != len(paths) or "box.toml" not in paths:
        raise BundleError(f"{path}: the bundle lists a file twice or has no box.toml")
    return Bundle(document.get("box_id", ""), document.get("district_code", ""),
                  document.get("name", ""), document.get("created_at", ""), files)


def install_code_hint() -> str:
    """What a technician sees when asked for the code."""
    return f"{CODE_GROUPS} groups of {CODE_GROUP_LENGTH}, e.g. 7KQ4-M2XD-9PRT-H3VW-C8JN"


__all__ = ["Bundle", "BundleError", "BundleFile", "WrongInstallCode", "box_files",
           "install_code_hint", "make_bundle", "new_install_code", "normalize_code",
           "open_bundle", "read_bundle"]
