"""The quarantine table: every record the box refused, with why and its raw bytes kept safely.

Raw text is kept as it came; bytes that are not valid UTF-8 (or text that cannot be encoded,
such as a lone surrogate) are kept as base64 with ``encoding = 'base64'``, so nothing a
platform sends can fail the write that keeps it.

Example::

    store.write(lambda tx: quarantine(tx, [Rejection(3, [{"field": "(record)",
                                                           "message": "不是有效的 JSON"}], raw)],
                                      "http"))
"""

from __future__ import annotations

from edge.store import Store
from edge.storetx import Tx, iso
from standard.bodies import Rejection, kept_form, safe_text

__all__ = ["MAX_BODY_KEPT", "Rejection", "kept_form", "quarantine", "quarantine_body",
           "safe_text"]

MAX_BODY_KEPT = 1_000_000  # bytes of an unparsable body kept in quarantine


def quarantine(tx: Tx, rejected: list[Rejection], source: str) -> None:
    """Keep the refused records in this transaction."""
    if rejected:
        rows = []
        for r in rejected:
            text, encoding = kept_form(r.raw)
            rows.append((iso(tx.now), safe_text(source), r.index,
                         safe_text(r.reason), text, encoding))
        tx.conn.executemany(
            "insert into quarantine (received_at, source, position, reason, raw, encoding) "
            "values (?, ?, ?, ?, ?, ?)", rows)


def quarantine_body(store: Store, body: bytes, source: str, reason: str) -> None:
    """Keep a body that could not be cut into records at all."""
    rejection = Rejection(-1, [{"field": "(body)", "message": reason}], body[:MAX_BODY_KEPT])
    store.write(lambda tx: quarantine(tx, [rejection], source))
