"""Platform rows into the store, by the same road as HTTP records (edge/ingest.py).

Each row is mapped (``edge/integration/mapping.py``) into a standard record; the record is then
validated and stored by ``edge.ingest.ingest_texts``: the same strict validation, the same
quarantine, the same outbox. A row the mapping cannot fill is quarantined too, with the
platform's row as its raw text and the reason naming the mapping key to fix.

``extra`` runs inside the store transaction that commits the rows: the 中间库 pull moves its
watermark there, so the rows and the watermark are committed together or not at all.

Example::

    sink = Sink(store)
    result = load_rows(sink, RowMapper(mapping), enumerate(rows), source="db:nh-zjk")
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping as RowLike, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge.ingest import (
    CHUNK,
    ConflictHook,
    IngestHook,
    IngestResult,
    Rejection,
    ingest_texts,
    quarantine,
)
from edge.integration.mapping import MappingRefused, RowMapper, plain_text
from edge.store import Store
from edge.storetx import StoreFull, Tx
from standard.records import CaseEvent, CatalogueItem


class SourceRefused(Exception):
    """The box takes no platform records now (outbox or disk full); the rows wait."""


@dataclass
class Sink:
    """Where mapped rows go: the store, the box's ingest and conflict hooks, its rule check.

    ``refusing`` returns why platform records must wait (its ``message``), or None;
    ``catalogue`` the catalogue in force (joint cases' departments).
    """

    store: Store
    hooks: Sequence[IngestHook] = ()
    on_conflicts: Sequence[ConflictHook] = ()
    after_ingest: Callable[[Iterable[str]], None] = lambda case_nos: None
    refusing: Callable[[], Any] = lambda: None
    catalogue: Callable[[], RowLike[str, CatalogueItem] | None] = lambda: None


@dataclass
class Loaded:
    """What one load did: the ingest result plus the newest occurred_at stored (UTC ISO)."""

    result: IngestResult = field(default_factory=IngestResult)
    newest_at: str | None = None
    stored: int = 0  # new events committed so far (known inside the transaction)


def raw_row(row: RowLike[str, Any]) -> str:
    """The platform's row as JSON text (kept in quarantine when it cannot be mapped)."""
    return json.dumps({str(k): (None if v is None else plain_text(v)) for k, v in row.items()},
                      ensure_ascii=False)


def map_rows(mapper: RowMapper, rows: Iterable[tuple[int, RowLike[str, Any]]]
             ) -> tuple[list[tuple[int, str]], list[Rejection]]:
    """(records as JSON text, rejections) for the rows, each keeping its position."""
    records: list[tuple[int, str]] = []
    refused: list[Rejection] = []
    for index, row in rows:
        try:
            record = mapper.record(row)
        except MappingRefused as exc:
            refused.append(Rejection(index, [{"field": p["field"], "message": p["message"]}
                                             for p in exc.problems], raw_row(row)))
            continue
        records.append((index, json.dumps(record, ensure_ascii=False)))
    return records, refused


def load_rows(sink: Sink, mapper: RowMapper, rows: Iterable[tuple[int, RowLike[str, Any]]], *,
              source: str, extra: Callable[[Tx, Loaded], None] | None = None,
              one_transaction: bool = False) -> Loaded:
    """Map, validate and store ``rows``; ``extra(tx, loaded)`` commits with them.

    ``one_transaction``: every row in one transaction (a 中间库 batch, at most CHUNK rows);
    otherwise files are committed in chunks as ``hallwatch edge ingest`` does. The outbox is
    never let past its quota (as for HTTP requests).
    Raises SourceRefused when the box refuses platform records (nothing is stored).
    """
    why = sink.refusing()
    if why:
        raise SourceRefused(getattr(why, "message", why))
    records, refused = map_rows(mapper, rows)
    if one_transaction and len(records) > CHUNK:
        raise ValueError(f"a batch of {len(records)} rows does not fit one transaction "
                         f"(at most {CHUNK})")
    loaded = Loaded()
    for rejection in refused:
        rejection.source = source
    pending_refused = list(refused)

    def commit_extras(tx: Tx, fresh: list[CaseEvent]) -> None:
        if pending_refused:  # the first transaction keeps the mapping's refusals
            quarantine(tx, pending_refused, source)
            pending_refused.clear()
        loaded.stored += len(fresh)
        newest = max((e.occurred_at for e in fresh), default=None)
        if newest is not None:
            text = newest.astimezone(dt.timezone.utc).isoformat()
            loaded.newest_at = max(loaded.newest_at or text, text)
        if extra is not None:
            extra(tx, loaded)

    try:
        if records:
            loaded.result = ingest_texts(
                sink.store, records, source=source, hooks=(*sink.hooks, commit_extras),
                on_conflicts=sink.on_conflicts, catalogue=sink.catalogue(),
                whole=one_transaction, limit_outbox=True)
        else:
            sink.store.write(lambda tx: commit_extras(tx, []))
    except StoreFull as exc:  # nothing of this load was committed: the rows wait
        raise SourceRefused(str(exc)) from None
    loaded.result.rejected[:0] = refused
    sink.after_ingest(loaded.result.cases)
    return loaded
