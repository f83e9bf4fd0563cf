"""Benchmark: sealing and opening batches of 500 JSON records (~300 bytes each).

Run from the repository root: ``python -m bench.bench_seal``. Prints figures only; nothing
here asserts (timed assertions do not belong in tests). The ratio compares the envelope
(zlib + ChaCha20-Poly1305 + Ed25519) with a bare ChaCha20-Poly1305 encrypt of the same
plaintext, measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
import zlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from standard.envelope import GENESIS, Opener, Sealer, canonical_json, chain_hash, nonce_for

RECORDS = 500
RUNS = 200
BOX_ID = "440605-01"
EVENTS = ("受理", "承办", "审核", "批准", "办结")
NAMES = ("李敏", "陈静", "黄伟", "梁芳")


def make_records(rng: random.Random, count: int) -> list[dict]:
    """Case events and ratings shaped like the box's outbox rows, hash-chained."""
    records, prev = [], GENESIS
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    for seq in range(1, count + 1):
        body = {
            "seq": seq, "kind": "case_event", "event_id": f"NH-{rng.randrange(10**6):06d}",
            "case_no": f"NH2026{rng.randrange(10**6):06d}",
            "item_code": f"440605-JY-{rng.randrange(300):03d}",
            "dept_code": "NHSCJ", "event_type": rng.choice(EVENTS), "window_no": rng.randint(1, 40),
            "occurred_at": (start + dt.timedelta(seconds=seq * 37)).isoformat(),
            "actor": {"id": f"S{rng.randrange(200):03d}", "name": rng.choice(NAMES)},
        }
        body["prev_hash"] = prev.hex()
        prev = chain_hash(prev, canonical_json(body))
        records.append(body)
    return records


def median_seconds(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    rng = random.Random(20261102)
    plaintext = json.dumps(make_records(rng, RECORDS), ensure_ascii=False).encode("utf-8")
    box_seal, hub_seal = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    box_sign = Ed25519PrivateKey.generate()
    box_seal_public, box_sign_public = box_seal.public_key(), box_sign.public_key()
    sealer = Sealer(box_seal, hub_seal.public_key(), box_sign, BOX_ID)
    opener = Opener(hub_seal)
    header = {"first_seq": 1, "last_seq": RECORDS, "count": RECORDS}
    counters = iter(range(1, 10**9))

    frames = sealer.seal(header, plaintext, next(counters))
    opener.open(frames, box_seal_public, box_sign_public)  # warm the key cache
    wire = sum(len(frame) for frame in frames)
    print(f"batch: {RECORDS} records, {len(plaintext)} bytes JSON "
          f"({len(plaintext) / RECORDS:.0f} a record), "
          f"{wire} bytes on the wire ({wire / len(plaintext):.0%})")

    seal = median_seconds(lambda: sealer.seal(header, plaintext, next(counters)), RUNS)
    open_ = median_seconds(lambda: opener.open(frames, box_seal_public, box_sign_public), RUNS)
    raw_aead = ChaCha20Poly1305(os.urandom(32))
    raw = median_seconds(lambda: raw_aead.encrypt(nonce_for(1), plaintext, b""), RUNS)
    compress = median_seconds(lambda: zlib.compress(plaintext, 1), RUNS)
    sign = median_seconds(lambda: box_sign.sign(frames[0] + frames[1]), RUNS)

    figures = (("seal+sign", seal), ("verify+open", open_), ("raw ChaCha20-Poly1305", raw),
               ("of which zlib level 1", compress), ("of which Ed25519 sign", sign))
    for label, seconds in figures:
        print(f"{label:>22}: {seconds * 1e3:7.3f} ms a batch, median of {RUNS}  "
              f"({RECORDS / seconds:,.0f} records/s)")
    print(f"envelope / raw AEAD: seal {seal / raw:.1f}x, open {open_ / raw:.1f}x")


if __name__ == "__main__":
    main()
