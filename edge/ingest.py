"""Platform ingest: parse what a district platform sends, validate it, keep every byte.

Valid records are committed (with their outbox rows) before anyone is told they were
accepted; invalid ones go to the ``quarantine`` table with the reason and the raw text.
Well-formed but anomalous records (a stage out of order, a refusal without a reason) are
accepted and flagged by the deadline engine, because they are what happened.

Example::

    result = ingest_texts(store, [(0, '{"event_id": ...}')], source="http")
    result.accepted, [r.as_dict() for r in result.rejected]
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from edge import backlog
from edge.store import Store, Tx, iso
from standard.deadlines import CaseFacts, apply_event
from standard.problems import field_problems
from standard.records import MAX_RECORD_CHARS, TERMINAL_EVENTS, CaseEvent, CatalogueItem
from standard.shares import participants

MAX_RAW_CHARS = MAX_RECORD_CHARS  # one record; longer is refused before parsing
CHUNK = 5_000  # records per transaction: fewer commits and case rewrites, a short write lock


# Called inside the ingest transaction with the newly accepted events, so that whatever a
# module derives from them (a window armed for rating, say) commits with the events or not at all.
IngestHook = Callable[[Tx, list[CaseEvent]], None]


class BodyError(ValueError):
    """The request body is not JSON or NDJSON at all."""


@dataclass
class Rejection:
    index: int
    errors: list[dict[str, str]]
    raw: str
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "errors": self.errors}

    @property
    def reason(self) -> str:
        return "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    cases: set[str] = field(default_factory=set)
    item_codes: set[str] = field(default_factory=set)

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.cases |= other.cases
        self.item_codes |= other.item_codes

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.as_dict() for r in self.rejected],
        }


# -- parsing ------------------------------------------------------------------------------
def split_body(body: bytes) -> list[tuple[int, str]]:
    """Split a JSON array or NDJSON body into (index, raw JSON text) pairs.

    Raises BodyError when the body is not JSON in either form.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"请求体不是 UTF-8 编码的 JSON (body is not UTF-8: {exc})") from None
    stripped = text.lstrip()
    if not stripped:
        raise BodyError("请求体为空 (empty body: send a JSON array or NDJSON)")
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BodyError(f"请求体不是有效的 JSON (body is not valid JSON: {exc})") from None
        return [(i, json.dumps(item, ensure_ascii=False)) for i, item in enumerate(items)]
    lines = [(i, line) for i, line in enumerate(stripped.splitlines()) if line.strip()]
    if not any(_looks_like_json(line) for _, line in lines):
        raise BodyError("请求体不是 JSON 数组或 NDJSON (body is neither a JSON array nor NDJSON)")
    return lines


def _looks_like_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def csv_records(text: str) -> Iterator[tuple[int, str]]:
    """Turn CSV rows (header = field names; actor as actor_id, actor_name) into JSON text."""
    reader = csv.DictReader(io.StringIO(text))
    for index, row in enumerate(reader):
        record: dict[str, Any] = {}
        for key, value in row.items():
            if key is None:
                record["(extra columns)"] = value
            elif value not in (None, ""):
                record[key] = value
        actor = {k: record.pop(f"actor_{k}") for k in ("id", "name") if f"actor_{k}" in record}
        if actor:
            record["actor"] = actor
        for name in ("window_no", "extension_days", "version"):
            if name in record and record[name].strip().lstrip("-").isdigit():
                record[name] = int(record[name])
        yield index, json.dumps(record, ensure_ascii=False)


# CaseEvent.model_validate_json without its Python wrapper: the same strict schema, about 15%
# less time a record.
_validate_json = CaseEvent.__pydantic_validator__.validate_json
_dump_json = CaseEvent.__pydantic_serializer__.to_json  # model_dump_json, likewise


def validate(index: int, raw: str) -> CaseEvent | Rejection:
    """Validate one raw record, returning the event or a Rejection naming each bad field."""
    return judge_record(index, raw, _validate_json)


def judge_record(index: int, raw: str, validate_json: Callable[..., Any]) -> Any:
    """``validate_json(raw, strict=True)``, or a Rejection for a record too long or invalid."""
    if len(raw) > MAX_RAW_CHARS:
        return Rejection(index, [{"field": "(record)", "message":
                                  f"记录过长 (longer than {MAX_RAW_CHARS} characters)"}],
                         raw[:MAX_RAW_CHARS])
    try:
        return validate_json(raw, strict=True)
    except ValidationError as exc:
        return Rejection(index, field_problems(exc), raw)


# -- storing ------------------------------------------------------------------------------
def ingest_texts(store: Store, records: Iterable[tuple[int, str]], *, source: str,
                 hooks: Sequence[IngestHook] = (),
                 catalogue: Mapping[str, CatalogueItem] | None = None) -> IngestResult:
    """Validate and store records in chunks; every chunk is one transaction.

    The next chunk is validated while the writer commits the previous one, so parsing and
    SQLite overlap; at most two chunks are held in memory. ``catalogue`` tells which
    departments take part in a joint case (their events fold into their own shares).
    """
    total = IngestResult()
    pending: tuple[IngestResult, Future] | None = None
    chunk: list[tuple[int, str]] = []

    def flush(chunk: list[tuple[int, str]]) -> None:
        nonlocal pending
        submitted = _submit_chunk(store, chunk, source, hooks, catalogue)
        if pending is not None:
            _collect(total, pending)
        pending = submitted

    for record in records:
        chunk.append(record)
        if len(chunk) >= CHUNK:
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


def _submit_chunk(store: Store, chunk: list[tuple[int, str]], source: str,
                  hooks: Sequence[IngestHook], catalogue: Mapping[str, CatalogueItem] | None
                  ) -> tuple[IngestResult, Future]:
    events: list[CaseEvent] = []
    result = IngestResult()
    for index, raw in chunk:
        outcome = validate(index, raw)
        if isinstance(outcome, Rejection):
            outcome.source = source
            result.rejected.append(outcome)
        else:
            events.append(outcome)

    def apply(tx: Tx) -> None:
        quarantine(tx, result.rejected, source)
        fresh = store_events(tx, events, result, catalogue)
        for hook in hooks:
            hook(tx, fresh)

    return result, store.submit(apply)


def quarantine(tx: Tx, rejected: list[Rejection], source: str) -> None:
    if rejected:
        tx.conn.executemany(
            "insert into quarantine (received_at, source, position, reason, raw) "
            "values (?, ?, ?, ?, ?)",
            [(iso(tx.now), source, r.index, r.reason, r.raw) for r in rejected],
        )


def quarantine_body(store: Store, body: bytes, source: str, reason: str) -> None:
    """Keep a body that could not be parsed at all."""
    raw = body.decode("utf-8", errors="replace")[:1_000_000]
    store.write(lambda tx: quarantine(tx, [Rejection(-1, [{"field": "(body)",
                                                              "message": reason}], raw)], source))


def store_events(tx: Tx, events: list[CaseEvent], result: IngestResult,
                 catalogue: Mapping[str, CatalogueItem] | None = None) -> list[CaseEvent]:
    """Insert new events, fold them into their cases' facts, queue them for the hub and mark
    their cases to be judged (edge/backlog.py), all in the caller's transaction.

    Returns the events that were new (not seen before by ``event_id``).
    """
    conn = tx.conn
    seen = _existing_ids(conn, [e.event_id for e in events])
    fresh: list[CaseEvent] = []
    for event in events:
        if event.event_id in seen:
            result.duplicates += 1
        else:
            seen.add(event.event_id)
            fresh.append(event)
    if not fresh:
        return fresh
    case_nos = list(dict.fromkeys(e.case_no for e in fresh))
    facts = _load_facts(conn, case_nos)
    now = iso(tx.now)
    bodies = [_dump_json(event, exclude_none=True).decode() for event in fresh]
    joint = _joint_lookup(catalogue)
    for event in fresh:
        facts[event.case_no] = apply_event(facts.get(event.case_no), event,
                                           joint(event.item_code))
    conn.executemany(
        "insert into case_events (event_id, case_no, event_type, occurred_at, received_at, body)"
        " values (?, ?, ?, ?, ?, ?)",
        [(event.event_id, event.case_no, event.event_type, event.occurred_at.isoformat(), now,
          body) for event, body in zip(fresh, bodies)])
    tx.emit_json_many("case_event", bodies)
    conn.executemany(
        "insert into cases (case_no, item_code, dept_code, district_code, case_type, stage,"
        " is_open, facts, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " on conflict(case_no) do update set item_code=excluded.item_code,"
        " dept_code=excluded.dept_code, case_type=excluded.case_type, stage=excluded.stage,"
        " is_open=excluded.is_open, facts=excluded.facts, updated_at=excluded.updated_at",
        [(f.case_no, f.item_code, f.dept_code, f.district_code, f.case_type, f.stage,
          0 if f.terminal in TERMINAL_EVENTS else 1, f.to_json(), now)
         for f in (facts[case_no] for case_no in case_nos)])
    backlog.mark(conn, case_nos)
    result.accepted += len(fresh)
    result.cases.update(case_nos)
    result.item_codes.update(e.item_code for e in fresh)
    return fresh


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
    between the lead's stages and the shares. The cases are marked to be judged.
    """
    joint = _joint_lookup(catalogue)
    rows = []
    for case_no in case_nos:
        facts = None
        for (body,) in tx.conn.execute(
                "select body from case_events where case_no = ? order by rowid", (case_no,)):
            event = _validate_json(body, strict=True)
            facts = apply_event(facts, event, joint(event.item_code))
        if facts is not None:
            is_open = 0 if facts.terminal in TERMINAL_EVENTS else 1
            rows.append((facts.stage, is_open, facts.to_json(), case_no))
    tx.conn.executemany("update cases set stage = ?, is_open = ?, facts = ? where case_no = ?",
                        rows)
    backlog.mark(tx.conn, case_nos)


# The id lists go in as one JSON array (json_each), so each lookup is one prepared statement
# whatever the chunk size.
def _existing_ids(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    return {row[0] for row in conn.execute(
        "select event_id from case_events where event_id in (select value from json_each(?))",
        (json.dumps(ids),))}


def _load_facts(conn: sqlite3.Connection, case_nos: list[str]) -> dict[str, CaseFacts]:
    return {case_no: CaseFacts.from_json(text) for case_no, text in conn.execute(
        "select case_no, facts from cases where case_no in (select value from json_each(?))",
        (json.dumps(case_nos),))}
