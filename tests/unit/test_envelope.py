import json
import os
import zlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from standard.envelope import (
    GENESIS,
    BadCiphertext,
    BadHeader,
    BadKey,
    BadSignature,
    Opener,
    Sealer,
    canonical_json,
    chain_hash,
    ed25519_private_from_text,
    ed25519_public_from_text,
    fingerprint,
    key_to_text,
    nonce_for,
    sign_document,
    verify_document,
    x25519_private_from_text,
    x25519_public_from_text,
)

BOX_ID = "440605-01"


class Box:
    def __init__(self, box_id=BOX_ID):
        self.box_id = box_id
        self.seal = X25519PrivateKey.generate()
        self.sign = Ed25519PrivateKey.generate()

    def sealer(self, hub_seal):
        return Sealer(self.seal, hub_seal.public_key(), self.sign, self.box_id)

    def open_with(self, opener, frames):
        return opener.open(frames, self.seal.public_key(), self.sign.public_key())


@pytest.fixture
def hub_seal():
    return X25519PrivateKey.generate()


@pytest.fixture
def box():
    return Box()


@pytest.fixture
def opener(hub_seal):
    return Opener(hub_seal)


def records(n=5):
    rows = [{"seq": i, "kind": "rating", "level": 5, "window_no": 3} for i in range(n)]
    return json.dumps(rows).encode()


def test_seal_open_round_trip(box, hub_seal, opener):
    plaintext = records()
    fields = {"first_seq": 1, "last_seq": 5, "count": 5}
    frames = box.sealer(hub_seal).seal(fields, plaintext, counter=7)

    assert len(frames) == 3 and all(isinstance(frame, bytes) for frame in frames)
    header, opened = box.open_with(opener, frames)
    assert opened == plaintext
    assert header == {"version": 1, "box_id": BOX_ID, "nonce": nonce_for(7).hex(), "zip": "zlib",
                      "first_seq": 1, "last_seq": 5, "count": 5}
    assert frames[0] == canonical_json(header)


def test_plaintext_is_compressed_and_not_visible(box, hub_seal):
    plaintext = b'{"district":"\xe5\x8d\x97\xe6\xb5\xb7"}' * 500
    _, ciphertext, _ = box.sealer(hub_seal).seal({}, plaintext, counter=1)
    assert len(ciphertext) < len(plaintext) // 10
    assert b"district" not in ciphertext


def test_empty_plaintext_round_trips(box, hub_seal, opener):
    frames = box.sealer(hub_seal).seal({}, b"", counter=0)
    assert box.open_with(opener, frames)[1] == b""


def test_replayed_frames_open_again(box, hub_seal, opener):
    # Replay detection is the hub's job, by (box, seq): the envelope does not keep state.
    frames = box.sealer(hub_seal).seal({"first_seq": 1}, b"x", counter=1)
    assert box.open_with(opener, frames) == box.open_with(opener, list(frames))


def test_tampered_header_is_refused_by_signature(box, hub_seal, opener):
    header, ciphertext, signature = box.sealer(hub_seal).seal({"first_seq": 1}, b"x", counter=1)
    forged = canonical_json({**json.loads(header), "first_seq": 2})
    with pytest.raises(BadSignature, match=f"signature does not verify for box {BOX_ID}"):
        box.open_with(opener, [forged, ciphertext, signature])


def test_tampered_ciphertext_is_refused_by_signature(box, hub_seal, opener):
    header, ciphertext, signature = box.sealer(hub_seal).seal({}, b"x", counter=1)
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(BadSignature):
        box.open_with(opener, [header, flipped, signature])


def test_tampered_signature_is_refused(box, hub_seal, opener):
    header, ciphertext, signature = box.sealer(hub_seal).seal({}, b"x", counter=1)
    with pytest.raises(BadSignature):
        box.open_with(opener, [header, ciphertext, signature[:-1] + bytes([signature[-1] ^ 1])])
    with pytest.raises(BadSignature):
        box.open_with(opener, [header, ciphertext, b"short"])


def test_validly_signed_bad_ciphertext_is_refused_by_aead(box, hub_seal, opener):
    # Signature checks pass (the box signed it) but the AEAD tag does not: BadCiphertext.
    header, ciphertext, _ = box.sealer(hub_seal).seal({}, b"x", counter=1)
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    resigned = box.sign.sign(b"hallwatch-batch-v1\0" + header + flipped)
    with pytest.raises(BadCiphertext, match=f"ciphertext does not decrypt for box {BOX_ID}"):
        box.open_with(opener, [header, flipped, resigned])


def test_wrong_box_keys_are_refused(box, hub_seal, opener):
    frames = box.sealer(hub_seal).seal({}, b"x", counter=1)
    other = Box()
    with pytest.raises(BadSignature):
        opener.open(frames, box.seal.public_key(), other.sign.public_key())
    with pytest.raises(BadCiphertext):
        opener.open(frames, other.seal.public_key(), box.sign.public_key())


def test_sealed_for_another_hub_is_refused(box, opener):
    frames = box.sealer(X25519PrivateKey.generate()).seal({}, b"x", counter=1)
    with pytest.raises(BadCiphertext):
        box.open_with(opener, frames)


def test_box_id_is_bound_into_the_key(box, hub_seal, opener):
    # Same keys, another claimed box id: the derived key differs, so nothing decrypts.
    sealer = Sealer(box.seal, hub_seal.public_key(), box.sign, "440605-99")
    header, ciphertext, _ = sealer.seal({}, b"x", counter=1)
    forged_header = canonical_json({**json.loads(header), "box_id": BOX_ID})
    signature = box.sign.sign(b"hallwatch-batch-v1\0" + forged_header + ciphertext)
    with pytest.raises(BadCiphertext):
        box.open_with(opener, [forged_header, ciphertext, signature])


def test_opener_uses_a_new_key_after_a_box_changes_keys(hub_seal, opener):
    first, second = Box(), Box()  # same box id, re-enrolled with new keys
    first.open_with(opener, first.sealer(hub_seal).seal({}, b"one", counter=1))
    frames = second.sealer(hub_seal).seal({}, b"two", counter=1)
    assert second.open_with(opener, frames)[1] == b"two"


def header_frames(**changes):
    header = {"version": 1, "box_id": "b", "nonce": "00" * 12, "zip": "zlib"} | changes
    return [canonical_json({k: v for k, v in header.items() if v is not None}), b"", b""]


@pytest.mark.parametrize(
    "frames, message",
    [
        ([b"{}", b""], "3 frames"),
        ([5, b"", b""], "must be bytes"),
        (["text", b"", b""], "must be bytes"),
        ([b"not json", b"", b""], "not UTF-8 JSON"),
        ([b"\xff\xfe", b"", b""], "not UTF-8 JSON"),
        ([b"[1]", b"", b""], "not a JSON object"),
        (header_frames(version=2), "version 2"),
        (header_frames(box_id=None), "no box_id"),
        (header_frames(nonce="zz" * 12), "nonce"),
        (header_frames(nonce="00" * 11), "nonce"),
        (header_frames(zip=None), "zip"),
        ([json.dumps(json.loads(header_frames()[0])).encode(), b"", b""], "canonical"),
        ([b"{" + b" " * 70000 + b"}", b"", b""], "over the"),
    ],
)
def test_junk_headers_are_refused(opener, box, frames, message):
    with pytest.raises(BadHeader, match=message):
        opener.peek_header(frames)
    with pytest.raises(BadHeader):
        box.open_with(opener, frames)


def test_peek_header_reads_the_claimed_box_without_keys(box, hub_seal, opener):
    frames = box.sealer(hub_seal).seal({"count": 3}, b"x", counter=1)
    assert opener.peek_header(frames)["box_id"] == BOX_ID
    assert opener.peek_header(frames)["count"] == 3


def test_nonces_are_distinct_and_laid_out_as_prefix_then_counter():
    assert nonce_for(1) == bytes(11) + b"\x01"
    assert nonce_for(2**64 - 1, b"\0\0\0\x05") == b"\0\0\0\x05" + b"\xff" * 8
    assert len({nonce_for(counter) for counter in range(1000)}) == 1000
    with pytest.raises(ValueError):
        nonce_for(-1)
    with pytest.raises(ValueError):
        nonce_for(2**64)
    with pytest.raises(ValueError):
        nonce_for(1, b"\0")


def test_sealer_gives_distinct_nonces_and_refuses_a_repeated_counter(box, hub_seal):
    sealer = box.sealer(hub_seal)
    headers = [json.loads(sealer.seal({}, b"x", counter=c)[0]) for c in (1, 2, 10)]
    assert len({header["nonce"] for header in headers}) == 3
    with pytest.raises(ValueError, match="not above"):
        sealer.seal({}, b"x", counter=10)


def test_sealer_uses_the_nonce_prefix(box, hub_seal, opener):
    sealer = Sealer(box.seal, hub_seal.public_key(), box.sign, BOX_ID, nonce_prefix=b"\0\0\0\x02")
    frames = sealer.seal({}, b"x", counter=1)
    assert json.loads(frames[0])["nonce"] == "000000020000000000000001"
    assert box.open_with(opener, frames)[1] == b"x"


def test_sealer_refuses_reserved_header_fields(box, hub_seal):
    with pytest.raises(ValueError, match="box_id"):
        box.sealer(hub_seal).seal({"box_id": "other"}, b"x", counter=1)


def test_opener_refuses_a_decompression_bomb(box, hub_seal):
    frames = box.sealer(hub_seal).seal({}, bytes(100_000), counter=1)
    with pytest.raises(BadCiphertext, match="over 1000 bytes"):
        box.open_with(Opener(hub_seal, max_plaintext_bytes=1000), frames)


def test_opener_refuses_signed_but_undecompressible_plaintext(box, hub_seal, opener, monkeypatch):
    # A box bug, not an attack: valid signature and tag over data that is not zlib.
    monkeypatch.setattr(zlib, "compress", lambda data, level: b"not zlib")
    frames = box.sealer(hub_seal).seal({}, b"x", counter=1)
    monkeypatch.undo()
    with pytest.raises(BadCiphertext, match="not valid zlib"):
        box.open_with(opener, frames)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": "南海"}]}) == (
        '{"a":[1,{"c":"南海","d":null}],"b":1}'.encode()
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_chain_hash_links_records():
    first = chain_hash(GENESIS, b"record 1")
    second = chain_hash(first, b"record 2")
    assert GENESIS == bytes(32) and len(first) == 32
    assert chain_hash(GENESIS, b"record 1") == first
    assert chain_hash(chain_hash(GENESIS, b"record 1 edited"), b"record 2") != second
    assert chain_hash(GENESIS, b"record 2") != second  # a deleted record breaks the chain


@pytest.fixture
def hub_sign():
    return Ed25519PrivateKey.generate()


def test_signed_document_verifies(hub_sign):
    payload = {"items": [{"code": "440605-JY-001", "name": "食品经营许可", "promised_days": 10}]}
    doc = sign_document(payload, "catalogue", 3, hub_sign)
    assert doc["version"] == 1 and doc["kind"] == "catalogue" and doc["doc_version"] == 3
    # Survives a trip through JSON text, as it travels.
    travelled = json.loads(json.dumps(doc))
    assert verify_document(travelled, hub_sign.public_key(), kind="catalogue") == payload


@pytest.mark.parametrize(
    "change",
    [
        lambda doc: doc["payload"]["items"].append("extra"),
        lambda doc: doc.update(doc_version=4),
        lambda doc: doc.update(kind="calendar"),
        lambda doc: doc.update(signature=doc["signature"][:-4] + "AAA="),
        lambda doc: doc.update(signature="!!! not base64"),
    ],
)
def test_tampered_document_is_refused(hub_sign, change):
    doc = json.loads(json.dumps(sign_document({"items": []}, "catalogue", 3, hub_sign)))
    change(doc)
    with pytest.raises(BadSignature):
        verify_document(doc, hub_sign.public_key())


def test_document_from_another_key_or_kind_is_refused(hub_sign):
    doc = sign_document({"days": []}, "calendar", 1, hub_sign)
    with pytest.raises(BadSignature, match="'calendar' document version 1"):
        verify_document(doc, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(BadHeader, match="expected 'catalogue'"):
        verify_document(doc, hub_sign.public_key(), kind="catalogue")


@pytest.mark.parametrize("doc", [[], {"version": 2}, {"version": 1, "kind": "x", "payload": {}}])
def test_malformed_document_is_refused(hub_sign, doc):
    with pytest.raises(BadHeader):
        verify_document(doc, hub_sign.public_key())


def test_keys_round_trip_as_text():
    seal, sign = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    for key, decode in [
        (seal, x25519_private_from_text),
        (seal.public_key(), x25519_public_from_text),
        (sign, ed25519_private_from_text),
        (sign.public_key(), ed25519_public_from_text),
    ]:
        text = key_to_text(key)
        assert isinstance(text, str) and key_to_text(decode(text)) == text
    assert len(fingerprint(sign.public_key())) == 16
    assert fingerprint(sign.public_key()) != fingerprint(Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    "text, message", [("not base64!", "not valid base64"), ("AAAA", "expected 32 bytes")]
)
def test_bad_key_text_is_refused(text, message):
    with pytest.raises(BadKey, match=message):
        x25519_public_from_text(text)


def test_random_frames_never_crash_with_anything_but_envelope_errors(box, hub_seal, opener):
    frames = box.sealer(hub_seal).seal({}, b"x", counter=1)
    for _ in range(50):
        junk = [os.urandom(len(frame)) for frame in frames]
        with pytest.raises((BadHeader, BadSignature, BadCiphertext)):
            box.open_with(opener, junk)
