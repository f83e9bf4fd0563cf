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

import base64
from dataclasses import dataclass
from typing import Any

from edge.store import Store, Tx, iso

MAX_BODY_KEPT = 1_000_000  # bytes of an unparsable body kept in quarantine


@dataclass
class Rejection:
    """One refused record: its index in the request or file, what is wrong, its raw form."""

    index: int
    errors: list[dict[str, str]]
    raw: str | bytes
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "errors": self.errors}

    @property
    def reason(self) -> str:
        return "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)


def kept_form(raw: str | bytes) -> tuple[str, str]:
    """(text, encoding) to store for a raw record: UTF-8 text as it is, anything else base64."""
    if isinstance(raw, str):
        try:
            raw.encode("utf-8")
            return raw, "utf-8"
        except UnicodeEncodeError:
            raw = raw.encode("utf-8", errors="surrogatepass")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def safe_text(text: str) -> str:
    """``text`` with anything UTF-8 cannot hold written as a backslash escape (reasons, names)."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


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
