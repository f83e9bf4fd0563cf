"""Sealed, signed batches and signed documents: the envelope of the exchange standard.

A batch travels as three frames ``[header, ciphertext, signature]``:

- ``header`` is canonical JSON (see ``canonical_json``) with at least ``version``,
  ``box_id``, ``nonce`` (hex) and ``zip``, plus the caller's fields (``first_seq``...);
- ``ciphertext`` is ChaCha20-Poly1305 over the zlib-compressed plaintext, with the header
  bytes as associated data, under a key derived by X25519 (box seal key x hub seal key)
  and HKDF-SHA256;
- ``signature`` is Ed25519 by the box's sign key over
  ``b"hallwatch-batch-v1\\0" + header + ciphertext``, so the hub can prove origin.

Example::

    >>> box_seal, hub_seal = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    >>> box_sign = Ed25519PrivateKey.generate()
    >>> sealer = Sealer(box_seal, hub_seal.public_key(), box_sign, "440605-01")
    >>> frames = sealer.seal({"first_seq": 1, "last_seq": 1}, b"[...]", counter=1)
    >>> Opener(hub_seal).open(frames, box_seal.public_key(), box_sign.public_key())[1]
    b'[...]'

The counter must never repeat for one (box, hub) key pair: the box persists it before use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import zlib
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ENVELOPE_VERSION = 1
BATCH_CONTEXT = b"hallwatch-batch-v1"
SIGNATURE_PREFIX = BATCH_CONTEXT + b"\0"
GENESIS = bytes(32)
RESERVED_HEADER_FIELDS = frozenset({"version", "box_id", "nonce", "zip"})
# A header is a few hundred bytes; anything near this is junk, not a batch.
MAX_HEADER_BYTES = 64 * 1024

AnyKey = X25519PrivateKey | X25519PublicKey | Ed25519PrivateKey | Ed25519PublicKey


class EnvelopeError(Exception):
    """A sealed batch, signed document or key could not be used."""


class BadSignature(EnvelopeError):
    """The signature does not verify against the sender's key."""


class BadCiphertext(EnvelopeError):
    """The ciphertext does not decrypt (tampered, or sealed for another key)."""


class BadHeader(EnvelopeError):
    """The header (or document fields) is missing, malformed or of an unknown version."""


class BadKey(EnvelopeError):
    """A key's text is not valid base64 of the right length."""


# --- canonical JSON and the hash chain ---------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    """The one byte form signed and hashed everywhere: sorted keys, no spaces, UTF-8.

    >>> canonical_json({"b": 1, "a": "南海"})
    b'{"a":"\\xe5\\x8d\\x97\\xe6\\xb5\\xb7","b":1}'
    """
    return _CANONICAL.encode(obj).encode("utf-8")


# One encoder for every call: json.dumps with options builds a new one each time.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)


def chain_hash(prev_hash: bytes, record_bytes: bytes) -> bytes:
    """Hash of a record in the chain: ``sha256(prev_hash + record_bytes)``; start from GENESIS."""
    return hashlib.sha256(prev_hash + record_bytes).digest()


def nonce_for(counter: int, prefix: bytes = b"\0\0\0\0") -> bytes:
    """12-byte AEAD nonce: a 4-byte key epoch prefix then the counter, 8 bytes big-endian.

    >>> nonce_for(1).hex()
    '000000000000000000000001'
    """
    if len(prefix) != 4:
        raise ValueError(f"nonce prefix must be 4 bytes, got {len(prefix)}")
    if not 0 <= counter < 2**64:
        raise ValueError(f"nonce counter must be in [0, 2**64), got {counter}")
    return prefix + counter.to_bytes(8, "big")


# --- keys as text ------------------------------------------------------------------------


def key_to_text(key: AnyKey) -> str:
    """Raw key bytes as standard base64 text (for JSON key files)."""
    if isinstance(key, (X25519PrivateKey, Ed25519PrivateKey)):
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    else:
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _raw_from_text(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadKey(f"{what}: not valid base64") from None
    if len(raw) != 32:
        raise BadKey(f"{what}: expected 32 bytes, got {len(raw)}")
    return raw


def x25519_private_from_text(text: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_raw_from_text(text, "X25519 private key"))


def x25519_public_from_text(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(_raw_from_text(text, "X25519 public key"))


def ed25519_private_from_text(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw_from_text(text, "Ed25519 private key"))


def ed25519_public_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_raw_from_text(text, "Ed25519 public key"))


def _public_raw(key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public_key: X25519PublicKey | Ed25519PublicKey) -> str:
    """First 16 hex digits of sha256 of the raw public key, for people to compare by eye."""
    return hashlib.sha256(_public_raw(public_key)).hexdigest()[:16]


# --- batches -----------------------------------------------------------------------------


def derive_batch_key(
    own_private: X25519PrivateKey,
    peer_public: X25519PublicKey,
    box_id: str,
    box_seal_public: X25519PublicKey,
    hub_seal_public: X25519PublicKey,
) -> bytes:
    """The 32-byte ChaCha20-Poly1305 key both ends derive for one box.

    The info binds the context, the box id and both public keys, so a key is never
    shared between boxes or reused after either side changes keys.
    """
    try:
        shared = own_private.exchange(peer_public)
    except ValueError:
        raise BadKey(f"X25519 exchange failed for box {box_id} (invalid public key)") from None
    info = (
        BATCH_CONTEXT + b"\0" + box_id.encode("utf-8") + b"\0"
        + _public_raw(box_seal_public) + _public_raw(hub_seal_public)
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


class Sealer:
    """Seals and signs batches for one box; build it once, the key is derived once.

    Counters must increase within one Sealer: a repeated counter would reuse a nonce.
    """

    def __init__(
        self,
        box_seal_private: X25519PrivateKey,
        hub_seal_public: X25519PublicKey,
        box_sign_private: Ed25519PrivateKey,
        box_id: str,
        *,
        nonce_prefix: bytes = b"\0\0\0\0",
    ) -> None:
        nonce_for(0, nonce_prefix)  # validates the prefix now, not at the first batch
        self.box_id = box_id
        self._sign_private = box_sign_private
        self._prefix = nonce_prefix
        box_seal_public = box_seal_private.public_key()
        key = derive_batch_key(
            box_seal_private, hub_seal_public, box_id, box_seal_public, hub_seal_public
        )
        self._aead = ChaCha20Poly1305(key)
        self._last_counter = -1
        self._lock = threading.Lock()

    def seal(self, header_fields: dict, plaintext: bytes, counter: int) -> list[bytes]:
        """Compress, encrypt and sign ``plaintext``: returns ``[header, ciphertext, signature]``."""
        reserved = RESERVED_HEADER_FIELDS & header_fields.keys()
        if reserved:
            raise ValueError(f"header fields {sorted(reserved)} are set by the envelope")
        with self._lock:
            if counter <= self._last_counter:
                raise ValueError(
                    f"nonce counter {counter} is not above the last one used ({self._last_counter})"
                )
            nonce = nonce_for(counter, self._prefix)
            self._last_counter = counter
        header = canonical_json(
            {**header_fields, "version": ENVELOPE_VERSION, "box_id": self.box_id,
             "nonce": nonce.hex(), "zip": "zlib"}
        )
        ciphertext = self._aead.encrypt(nonce, zlib.compress(plaintext, 1), header)
        signature = self._sign_private.sign(SIGNATURE_PREFIX + header + ciphertext)
        return [header, ciphertext, signature]


def _frames_as_bytes(frames: list[bytes]) -> tuple[bytes, bytes, bytes]:
    if not isinstance(frames, (list, tuple)) or len(frames) != 3:
        count = len(frames) if isinstance(frames, (list, tuple)) else type(frames).__name__
        raise BadHeader(f"a batch has 3 frames [header, ciphertext, signature], got {count}")
    try:
        # memoryview takes bytes and zmq.Frame alike, and refuses an int (bytes(5) would not).
        header, ciphertext, signature = (memoryview(frame).tobytes() for frame in frames)
    except TypeError:
        raise BadHeader("batch frames must be bytes") from None
    return header, ciphertext, signature


def _parse_header(header_bytes: bytes) -> dict:
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise BadHeader(f"header is {len(header_bytes)} bytes, over the {MAX_HEADER_BYTES} limit")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadHeader("header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise BadHeader("header is not a JSON object")
    if header.get("version") != ENVELOPE_VERSION:
        raise BadHeader(f"header version {header.get('version')!r} is not {ENVELOPE_VERSION}")
    box_id = header.get("box_id")
    if not isinstance(box_id, str) or not box_id:
        raise BadHeader("header has no box_id")
    nonce = header.get("nonce")
    if not isinstance(nonce, str) or len(nonce) != 24:
        raise BadHeader(f"header nonce of box {box_id} is not 24 hex digits")
    try:
        bytes.fromhex(nonce)
    except ValueError:
        raise BadHeader(f"header nonce of box {box_id} is not 24 hex digits") from None
    if header.get("zip") != "zlib":
        raise BadHeader(f"header zip {header.get('zip')!r} of box {box_id} is not 'zlib'")
    # Only one byte form is signed, so frames cannot be re-split or re-spaced.
    if canonical_json(header) != header_bytes:
        raise BadHeader(f"header of box {box_id} is not in canonical JSON form")
    return header


class Opener:
    """Verifies and opens batches at the hub; derived keys are cached per box."""

    def __init__(
        self, hub_seal_private: X25519PrivateKey, *, max_plaintext_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self._seal_private = hub_seal_private
        self._seal_public = hub_seal_private.public_key()
        self._max_plaintext = max_plaintext_bytes
        self._aeads: dict[tuple[str, bytes], ChaCha20Poly1305] = {}

    def peek_header(self, frames: list[bytes]) -> dict:
        """The header, parsed but NOT verified: only to look up which box claims to send it."""
        return _parse_header(_frames_as_bytes(frames)[0])

    def _aead_for(self, box_id: str, box_seal_public: X25519PublicKey) -> ChaCha20Poly1305:
        # Keyed by the public key too: a re-enrolled box must not get its old key.
        cache_key = (box_id, _public_raw(box_seal_public))
        aead = self._aeads.get(cache_key)
        if aead is None:
            key = derive_batch_key(
                self._seal_private, box_seal_public, box_id, box_seal_public, self._seal_public
            )
            aead = self._aeads[cache_key] = ChaCha20Poly1305(key)
        return aead

    def open(
        self,
        frames: list[bytes],
        box_seal_public: X25519PublicKey,
        box_sign_public: Ed25519PublicKey,
    ) -> tuple[dict, bytes]:
        """Verify the signature, then decrypt and decompress: returns ``(header, plaintext)``.

        Replays open fine: rejecting an already applied (box, seq) is the hub's job.
        """
        header_bytes, ciphertext, signature = _frames_as_bytes(frames)
        header = _parse_header(header_bytes)
        box_id = header["box_id"]
        try:
            box_sign_public.verify(signature, SIGNATURE_PREFIX + header_bytes + ciphertext)
        except InvalidSignature:
            raise BadSignature(f"signature does not verify for box {box_id}") from None
        nonce = bytes.fromhex(header["nonce"])
        try:
            aead = self._aead_for(box_id, box_seal_public)
            compressed = aead.decrypt(nonce, ciphertext, header_bytes)
        except InvalidTag:
            raise BadCiphertext(f"ciphertext does not decrypt for box {box_id}") from None
        return header, self._decompress(compressed, box_id)

    def _decompress(self, compressed: bytes, box_id: str) -> bytes:
        inflater = zlib.decompressobj()
        try:
            plaintext = inflater.decompress(compressed, self._max_plaintext)
        except zlib.error:
            raise BadCiphertext(f"plaintext of box {box_id} is not valid zlib data") from None
        if inflater.unconsumed_tail or not inflater.eof:
            raise BadCiphertext(
                f"plaintext of box {box_id} is truncated or over {self._max_plaintext} bytes"
            )
        return plaintext


# --- signed documents (hub -> box config pushes) -----------------------------------------


def sign_document(payload: dict, kind: str, version: int, sign_private: Ed25519PrivateKey) -> dict:
    """Wrap ``payload`` in a signed document; the signature covers everything else.

    >>> key = Ed25519PrivateKey.generate()
    >>> doc = sign_document({"items": []}, "catalogue", 3, key)
    >>> verify_document(doc, key.public_key(), kind="catalogue")
    {'items': []}
    """
    doc = {"version": ENVELOPE_VERSION, "kind": kind, "doc_version": version, "payload": payload}
    signature = sign_private.sign(canonical_json(doc))
    return {**doc, "signature": base64.b64encode(signature).decode("ascii")}


def verify_document(doc: dict, sign_public: Ed25519PublicKey, kind: str | None = None) -> dict:
    """Return the payload of a signed document, or raise BadSignature / BadHeader.

    Pass ``kind`` so a document signed for one purpose cannot be used for another.
    """
    if not isinstance(doc, dict):
        raise BadHeader("a signed document is a JSON object")
    if doc.get("version") != ENVELOPE_VERSION:
        raise BadHeader(f"document version {doc.get('version')!r} is not {ENVELOPE_VERSION}")
    missing = {"kind", "doc_version", "payload", "signature"} - doc.keys()
    if missing:
        raise BadHeader(f"document is missing {sorted(missing)}")
    try:
        signature = base64.b64decode(doc["signature"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadSignature(f"signature of {doc['kind']!r} document is not base64") from None
    unsigned = {key: value for key, value in doc.items() if key != "signature"}
    try:
        sign_public.verify(signature, canonical_json(unsigned))
    except (InvalidSignature, TypeError, ValueError):
        raise BadSignature(
            f"signature does not verify for {doc['kind']!r} document version {doc['doc_version']}"
        ) from None
    if kind is not None and doc["kind"] != kind:
        raise BadHeader(f"document kind is {doc['kind']!r}, expected {kind!r}")
    return doc["payload"]
