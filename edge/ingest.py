"""Platform ingest: judge each record on its own, keep every byte, commit a request whole.

A body is cut into records (``standard/bodies.py``); each record is validated and encoded on its
own, so one bad record is one rejection, named by its index, never a failed request. Valid
records are committed (with their outbox rows) before anyone is told they were accepted;
refused ones go to the ``quarantine`` table with the reason and the raw bytes
(``edge/quarantine.py``), in the same transaction. A request is one transaction: wholly
committed or wholly refused (a full disk or outbox), so a platform's retry of the same body is
harmless. Files are committed in chunks; running the same file again is harmless too.

A record whose ``event_id`` was received before is an identical duplicate (harmless, counted)
or, when its content differs, a *conflict*: quarantined with the reason "与已接收记录内容不同",
counted apart, and handed to the conflict hooks (a data-quality alert). Well-formed but
anomalous records (a stage out of order, a refusal without a reason) are accepted and flagged
by the deadline engine, because they are what happened.

Example::

    result = ingest_texts(store, [(0, '{"event_id": ...}')], source="http", whole=True)
    result.accepted, result.conflicts, [r.as_dict() for r in result.rejected]
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from edge import backlog
from edge.casefold import CaseBatch, facts_cache
from edge.memory import give_back
from edge.quarantine import Rejection, quarantine, quarantine_body
from edge.store import Store
from edge.storetx import Tx, iso
from standard.bodies import BodyError, RawRecord, csv_records, judge_record, split_body
from standard.bodies import refused as _refused
from standard.deadlines import apply_event
from standard.fastrecords import FastEvent, read_event
from standard.records import MAX_RECORD_CHARS, TERMINAL_EVENTS, CaseEvent, CatalogueItem
from standard.shares import participants

log = logging.getLogger(__name__)

MAX_RAW_CHARS = MAX_RECORD_CHARS  # one record; longer is refused before parsing (judge_record)
CHUNK = 5_000  # records per transaction (ingest_texts' default; a 中间库 batch at most)
# Records per transaction for `edge ingest`: a commit (its fsync) and a case's facts rewritten
# once for more events. Two chunks are in memory at once, about 1.5 KB a record.
FILE_CHUNK = 20_000
REFOLD_CHUNK = 1_000  # cases refolded (and their facts held) at a time
CONFLICT_REASON = "与已接收记录内容不同"

__all__ = [
    "CONFLICT_REASON", "BodyError", "Conflict", "ConflictHook", "IngestHook", "IngestResult",
    "Rejection", "csv_records", "ingest_texts", "judge_record", "quarantine", "quarantine_body",
    "refold_cases", "split_body", "validate",
]

# An accepted event: the common shape read by msgspec, or the pydantic model (same attributes).
Event = CaseEvent | FastEvent
# Called inside the ingest transaction with the newly accepted events, so that whatever a
# module derives from them (a window armed for rating, say) commits with the events or not at all.
IngestHook = Callable[[Tx, list[Event]], None]


@dataclass
class Conflict:
    """A record re-sent under a known ``event_id`` with different content."""

    index: int
    event_id: str  # the record's id: its event_id, or an evaluation's evaluation_id
    fields: list[str]
    raw: str
    id_field: str = "event_id"

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, self.id_field: self.event_id, "fields": self.fields}

    def rejection(self) -> Rejection:
        fields = ", ".join(self.fields)
        return Rejection(self.index, [{"field": self.id_field, "message":
                                       f"{CONFLICT_REASON}：{fields} (differs from the record "
                                       f"already received under this {self.id_field}: {fields})"}],
                         self.raw)


# Called in the same transaction with the conflicts found (a data-quality alert, say).
ConflictHook = Callable[[Tx, list[Conflict]], None]


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    cases: set[str] = field(default_factory=set)
    item_codes: set[str] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.conflicts.extend(other.conflicts)
        self.cases |= other.cases
        self.item_codes |= other.item_codes

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "conflicts": len(self.conflicts),
            "conflicting": [c.as_dict() for c in self.conflicts],
            "rejected": [r.as_dict() for r in self.rejected],
        }


# -- judging one record ---------------------------------------------------------------------
# CaseEvent.model_validate_json without its Python wrapper: the same strict schema, about 15%
# less time a record.
_validate_json = CaseEvent.__pydantic_validator__.validate_json
_dump_json = CaseEvent.__pydantic_serializer__.to_json  # model_dump_json, likewise


@dataclass
class Judged:
    """A record that passed: the event, the JSON text stored and relayed, the raw text."""

    index: int
    event: Event
    body: str
    raw: str


def validate(index: int, raw: str | bytes) -> Event | Rejection:
    """Validate one raw record, returning the event or a Rejection naming each bad field."""
    outcome = judge(index, raw)
    return outcome if isinstance(outcome, Rejection) else outcome.event


def judge(index: int, raw: str | bytes) -> Judged | Rejection:
    """Validate and encode one record (the encoding is what is stored, so it is checked here).

    The common shape goes by msgspec (standard/fastrecords.py); whatever it leaves, good or
    bad, the pydantic model judges, so the verdicts and the messages are the model's.
    """
    if isinstance(raw, str) and len(raw) <= MAX_RAW_CHARS:
        fast = read_event(raw)
        if fast is not None:
            return Judged(index, fast[0], fast[1], raw)
    outcome = judge_record(index, raw, _validate_json)
    if isinstance(outcome, Rejection):
        return outcome
    try:
        body = _dump_json(outcome, exclude_none=True).decode("utf-8")
    except Exception as exc:  # noqa: BLE001 - whatever it is, this record cannot be kept
        return _refused(index, raw, f"记录无法编码 (cannot be encoded: {exc})")
    return Judged(index, outcome, body, raw)  # type: ignore[arg-type]


# -- storing --------------------------------------------------------------------------------
def ingest_texts(store: Store, records: Iterable[RawRecord], *, source: str,
                 hooks: Sequence[IngestHook] = (), on_conflicts: Sequence[ConflictHook] = (),
                 catalogue: Mapping[str, CatalogueItem] | None = None,
                 whole: bool = False, limit_outbox: bool = False,
                 chunk_size: int | None = None) -> IngestResult:
    """Judge and store records; returns what was accepted, duplicated, conflicting, refused.

    ``whole``: all of them in one transaction (a request). Otherwise in chunks of
    ``chunk_size`` (``CHUNK`` when None),
    each one transaction, the next chunk judged while the writer commits the previous one (at
    most two chunks in memory). ``catalogue`` tells which departments take part in a joint
    case (their events fold into their own shares). ``limit_outbox``: refuse (StoreFull)
    rather than let the outbox pass its quota.
    """
    total = IngestResult()
    options = _Options(source, hooks, on_conflicts, catalogue, limit_outbox)
    if whole:
        result, future = _submit_chunk(store, list(records), options)
        _collect(total, (result, future))
        return total
    pending: tuple[IngestResult, Future] | None = None
    chunk: list[RawRecord] = []
    size = chunk_size or CHUNK

    def flush(chunk: list[RawRecord]) -> None:
        nonlocal pending
        submitted = _submit_chunk(store, chunk, options)
        if pending is not None:
            _collect(total, pending)
        pending = submitted

    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    if pending is not None:
        _collect(total, pending)
    return total


def _collect(total: IngestResult, pending: tuple[IngestResult, Future]) -> None:
    result, future = pending
    future.result(timeout=300)  # re-raises StoreFull and friends
    total.add(result)


@dataclass(frozen=True)
class _Options:
    source: str
    hooks: Sequence[IngestHook]
    on_conflicts: Sequence[ConflictHook]
    catalogue: Mapping[str, CatalogueItem] | None
    limit_outbox: bool


def _submit_chunk(store: Store, chunk: list[RawRecord], options: _Options
                  ) -> tuple[IngestResult, Future]:
    judged: list[Judged] = []
    result = IngestResult()
    for index, raw in chunk:
        outcome = judge(index, raw)
        if isinstance(outcome, Rejection):
            outcome.source = options.source
            result.rejected.append(outcome)
        else:
            judged.append(outcome)

    def apply(tx: Tx) -> None:
        if options.limit_outbox:
            tx.limit_outbox()
        fresh = store_events(tx, judged, result, options.catalogue)
        quarantine(tx, result.rejected + [c.rejection() for c in result.conflicts],
                   options.source)
        for hook in options.hooks:
            hook(tx, fresh)
        if result.conflicts:
            for conflict_hook in options.on_conflicts:
                conflict_hook(tx, result.conflicts)

    return result, store.submit(apply, bulk=True)  # people's writes go first


def store_events(tx: Tx, judged: list[Judged], result: IngestResult,
                 catalogue: Mapping[str, CatalogueItem] | None = None) -> list[Event]:
    """Insert new events, fold them into their cases' facts, queue them for the hub and mark
    their cases to be judged (edge/backlog.py), all in the caller's transaction.

    Returns the events that were new (not seen before by ``event_id``). A known ``event_id``
    is a duplicate when the content is the same, a conflict in ``result`` when it is not.
    """
    conn = tx.conn
    known = _known_bodies(conn, [j.event.event_id for j in judged])
    fresh: list[Judged] = []
    for item in judged:
        event_id = item.event.event_id
        if event_id not in known:
            known[event_id] = item.body
            fresh.append(item)
            continue
        differing = differing_fields(known[event_id], item)
        if differing:
            result.conflicts.append(Conflict(item.index, event_id, differing, item.raw))
        else:
            result.duplicates += 1
    if not fresh:
        return []
    batch = CaseBatch(conn, list(dict.fromkeys(j.event.case_no for j in fresh)),
                      _joint_lookup(catalogue), facts_cache(tx.memo))
    stored: list[Judged] = []
    for item in fresh:
        try:
            batch.fold(item.event)
        except Exception as exc:  # a bug in the fold: refuse this record, keep the others
            log.exception("event %s could not be folded into its case", item.event.event_id)
            result.rejected.append(_refused(item.index, item.raw,
                                            f"记录无法存储 (cannot be stored: {exc})"))
            continue
        stored.append(item)
    now = iso(tx.now)
    # One statement over a JSON array, not executemany (edge/outboxrows.py says why).
    conn.execute(
        "insert into case_events (event_id, case_no, event_type, occurred_at, received_at, body)"
        " select value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?, value ->> 4"
        " from json_each(?)",
        (now, orjson.dumps([(j.event.event_id, j.event.case_no, j.event.event_type,
                             _occurred_iso(j.event), j.body) for j in stored]).decode("utf-8")))
    # The outbox rows refer to these rows instead of copying their bodies (edge/storeschema.py).
    tx.emit_json_many("case_event", [j.body for j in stored],
                      refs=[j.event.event_id for j in stored])
    touched = batch.write(now)
    backlog.mark(conn, touched)
    result.accepted += len(stored)
    result.cases.update(touched)
    result.item_codes.update(j.event.item_code for j in stored)
    return [j.event for j in stored]


def _joint_lookup(catalogue: Mapping[str, CatalogueItem] | None
                  ) -> Callable[[str], frozenset[str]]:
    """item_code -> its participating departments, each item looked up once per chunk."""
    if not catalogue:
        return lambda code: frozenset()
    cache: dict[str, frozenset[str]] = {}

    def joint(code: str) -> frozenset[str]:
        found = cache.get(code)
        if found is None:
            found = cache[code] = participants(catalogue.get(code))
        return found
    return joint


def refold_cases(tx: Tx, case_nos: list[str], catalogue: Mapping[str, CatalogueItem]) -> None:
    """Fold these cases' facts again from their stored events, in the order they arrived.

    For when the catalogue changes which departments take part in an item: their events move
    between the lead's stages and the shares. The cases are marked to be judged. They are
    written ``REFOLD_CHUNK`` at a time, so a box's first sync over a joint item's whole history
    (50,000 cases at 500,000) never holds all their facts at once (issue 15: memory).
    """
    joint = _joint_lookup(catalogue)
    facts_cache(tx.memo).forget(case_nos)  # rewritten here, not by a CaseBatch
    for start in range(0, len(case_nos), REFOLD_CHUNK):
        chunk = case_nos[start:start + REFOLD_CHUNK]
        rows = []
        for case_no in chunk:
            facts = None
            for (body,) in tx.conn.execute(
                    "select body from case_events where case_no = ? order by rowid", (case_no,)):
                event = _validate_json(body, strict=True)
                facts = apply_event(facts, event, joint(event.item_code))
            if facts is not None:
                is_open = 0 if facts.terminal in TERMINAL_EVENTS else 1
                rows.append((facts.stage, is_open, facts.to_json(), case_no))
        tx.conn.executemany("update cases set stage = ?, is_open = ?, facts = ?"
                            " where case_no = ?", rows)
        backlog.mark(tx.conn, chunk)
        del rows
        give_back()


def differing_fields(known_body: str, item: Judged) -> list[str]:
    """The top-level fields in which a re-sent record differs from the one kept; [] if none.

    Compared as parsed values, so a record kept by an older release (field order, defaults)
    is not a conflict for being written differently.
    """
    if known_body == item.body:
        return []
    before, after = json.loads(known_body), json.loads(item.body)
    if before == after:
        return []
    try:
        if _validate_json(known_body, strict=True) == item.event:
            return []
    except ValidationError:
        pass
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name)) or ["(record)"]


# The id lists go in as one JSON array (json_each), so each lookup is one prepared statement
# whatever the chunk size.
def _known_bodies(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    return dict(conn.execute(
        "select event_id, body from case_events"
        " where event_id in (select value from json_each(?))",
        (orjson.dumps(ids).decode("utf-8"),)))


def _occurred_iso(event: Event) -> str:
    """The event's time as stored: the fast path's text is already ``isoformat()``'s."""
    if isinstance(event, FastEvent):
        return event.occurred_text
    return event.occurred_at.isoformat()
