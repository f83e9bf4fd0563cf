"""Request bodies and files into records: (index, raw text) pairs, each to be judged alone.

A body is a JSON array or NDJSON. The array is cut into its items *as they were sent* (each
item's own text, never re-encoded), so an item with something odd in it (a lone surrogate
escape such as ``"\\ud800"``, 1,000 levels of nesting, a 5,000-digit number) is one record to
refuse, not a crash of the whole request. NDJSON is split on ``\\n`` only: U+2028, U+2029 and
U+0085 are legal inside JSON strings and never end a line (``str.splitlines`` would cut
there). A record that is not valid UTF-8 is handed on as ``bytes`` so that it can be refused
and quarantined byte for byte.

Only a body that cannot be cut into records at all (empty, not JSON, an array with broken
syntax) raises ``BodyError``. Each record is then judged alone (``judge_record``: never raises
for anything a sender can put in it) and a refused one is a ``Rejection``, kept with its raw
form as text, or base64 when it is not valid UTF-8 (``kept_form``). The box's intakes
(edge/ingest.py) and the hub's 12345 intake (hub/complaint_intake.py) share all of this.

Example::

    split_body(b'[{"event_id": "A"}, {"event_id": "B"}]')
    # [(0, '{"event_id": "A"}'), (1, '{"event_id": "B"}')]
    split_body('{"event_id": "A"}\\n{"name": "甲\\u2028乙"}'.encode())
    # [(0, '{"event_id": "A"}'), (1, '{"name": "甲\\u2028乙"}')]
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from standard.problems import RECORD, field_problems
from standard.records import MAX_RECORD_CHARS

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"

# A raw record: its text, or its bytes when they are not valid UTF-8.
RawRecord = tuple[int, "str | bytes"]


class BodyError(ValueError):
    """The request body is not JSON or NDJSON at all."""


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
# What matters to find where a value ends without parsing it: strings, brackets, the rest.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|[,:]|[^\s"\[\]{},:]+')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def split_body(body: bytes, *, single_object: bool = False) -> list[RawRecord]:
    """Cut a JSON array or NDJSON body into (index, raw record) pairs.

    With ``single_object`` a body that is one JSON object, however it is laid out over lines,
    is one record (the evaluations API takes a single pretty-printed object too).
    Raises BodyError when the body is not JSON in any of these forms.
    """
    if body.startswith(BOM):
        body = body[len(BOM):]
    stripped = body.lstrip()
    if not stripped.strip():
        raise BodyError("请求体为空 (empty body: send a JSON array or NDJSON)")
    if stripped.startswith(b"["):
        return split_array(stripped)
    if single_object and stripped.startswith(b"{"):
        whole = _single_object(stripped)
        if whole is not None:
            return [(0, whole)]
    lines = split_lines(body)
    if not any(_opens_object(raw) for _, raw in lines):
        raise BodyError("请求体不是 JSON 数组或 NDJSON (body is neither a JSON array nor NDJSON)")
    return lines


def split_lines(body: bytes) -> list[RawRecord]:
    """NDJSON: one record per ``\\n``-terminated line (index = line number, from 0).

    Blank lines are skipped; a line that is not UTF-8 is kept as bytes.
    """
    records: list[RawRecord] = []
    for index, line in enumerate(body.split(b"\n")):
        if not line.strip():
            continue
        line = line.removesuffix(b"\r")
        try:
            records.append((index, line.decode("utf-8")))
        except UnicodeDecodeError:
            records.append((index, line))
    return records


def split_array(body: bytes) -> list[RawRecord]:
    """A JSON array's items, each as the text it was sent as (``body`` starts with ``[``).

    Bytes that are not UTF-8 only spoil the item they are in; broken JSON syntax between
    the items spoils the body (there is no telling where the next item starts).
    """
    try:
        text, clean = body.decode("utf-8"), True
    except UnicodeDecodeError:
        text, clean = body.decode("utf-8", errors="surrogateescape"), False
    items: list[RawRecord] = []
    at = _SPACE.match(text, 1).end()
    if text.startswith("]", at):
        return _end_of_array(text, at, items)
    while True:
        end = _value_end(text, at)
        raw = text[at:end]
        if not clean and not encodes(raw):
            items.append((len(items), raw.encode("utf-8", errors="surrogateescape")))
        else:
            items.append((len(items), raw))
        at = _SPACE.match(text, end).end()
        if text.startswith(",", at):
            at = _SPACE.match(text, at + 1).end()
        elif text.startswith("]", at):
            return _end_of_array(text, at, items)
        else:
            raise _syntax_error(text, at, "expected ',' or ']' after an item")


def _end_of_array(text: str, at: int, items: list[RawRecord]) -> list[RawRecord]:
    rest = text[at + 1:]
    if rest.strip(" \t\n\r"):
        raise _syntax_error(text, at + 1, "extra data after the array")
    return items


def _value_end(text: str, at: int) -> int:
    """Where the JSON value starting at ``at`` ends.

    The C scanner does it fast; for what it refuses to build (nesting deeper than Python's
    recursion limit, an integer longer than Python converts) a scan of the tokens finds the
    end instead, and the record's own validation says what is wrong with it.
    """
    try:
        return _DECODER.raw_decode(text, at)[1]
    except json.JSONDecodeError as exc:
        raise _syntax_error(text, exc.pos, exc.msg) from None
    except (RecursionError, ValueError):
        return _scan_value_end(text, at)


def _scan_value_end(text: str, at: int) -> int:
    number = _NUMBER.match(text, at)
    if number:
        return number.end()
    depth = 0
    for token in _TOKENS.finditer(text, at):
        kind = token.group()[0]
        if kind in "[{":
            depth += 1
        elif kind in "]}":
            depth -= 1
            if depth < 0:
                break
        if depth == 0:
            return token.end()
    raise _syntax_error(text, at, "an item never ends")


def _syntax_error(text: str, at: int, why: str) -> BodyError:
    line = text.count("\n", 0, at) + 1
    return BodyError(f"请求体不是有效的 JSON (body is not valid JSON: {why}: line {line}, "
                     f"character {at + 1})")


def _single_object(body: bytes) -> str | bytes | None:
    """The body when it is exactly one JSON value, else None (perhaps NDJSON): its text, or
    its bytes when they are not valid UTF-8 (one record to refuse, not one per line)."""
    text = body.decode("utf-8", errors="surrogateescape")
    try:
        end = _value_end(text, 0)
    except BodyError:
        return None
    if text[end:].strip(" \t\n\r"):
        return None
    return text if encodes(text) else body


def _opens_object(raw: str | bytes) -> bool:
    return raw.lstrip()[:1] in ("{", b"{")


# -- judging one record ---------------------------------------------------------------------
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


def refused(index: int, raw: str | bytes, message: str, field: str = RECORD) -> Rejection:
    return Rejection(index, [{"field": field, "message": message}], raw)


def judge_record(index: int, raw: str | bytes, validate_json: Callable[..., Any],
                 max_chars: int = MAX_RECORD_CHARS) -> Any:
    """``validate_json(raw, strict=True)``, or a Rejection saying why the record is refused.

    Never raises for anything a sender can put in a record (pydantic's JSON parser refuses
    nesting deeper than its limit as a ``json_invalid`` problem, named by standard/problems.py).
    """
    if isinstance(raw, bytes):
        return refused(index, raw, "不是 UTF-8 编码的文本，原始字节已保存 "
                                   "(not UTF-8 text; the raw bytes are kept)")
    if len(raw) > max_chars:
        return refused(index, raw, f"记录过长 (longer than {max_chars} characters)")
    try:
        return validate_json(raw, strict=True)
    except ValidationError as exc:
        return Rejection(index, field_problems(exc), raw)
    except Exception as exc:  # a bug in a validator: refuse this record, keep the others
        log.exception("record %s could not be validated", index)
        return refused(index, raw, f"记录无法处理 (cannot be processed: {type(exc).__name__})")


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


def encodes(text: str) -> bool:
    """Whether ``text`` can be stored as UTF-8 (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- files --------------------------------------------------------------------------------
def file_records(path: Path) -> Iterator[RawRecord]:
    """(index, raw record) for each record in ``path``, by its format.

    ``.csv`` is CSV; a file whose first non-blank character is ``[`` is a JSON array;
    anything else is NDJSON, read line by line (split on ``\\n`` only) so that a large export
    is never held whole. Raises BodyError for a file that is not JSON or CSV at all.
    """
    if path.suffix.lower() == ".csv":
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BodyError(f"CSV 文件不是 UTF-8 编码 (the CSV file is not UTF-8: {exc})") from None
        yield from csv_records(text)
        return
    with path.open("rb") as handle:
        head = handle.read(4096)
        if head.startswith(BOM):
            head = head[len(BOM):]
        if head.lstrip().startswith(b"["):
            yield from split_array((head + handle.read()).lstrip())
            return
        handle.seek(0)
        for index, line in enumerate(handle):  # binary lines end at b"\n" only
            if index == 0 and line.startswith(BOM):
                line = line[len(BOM):]
            if line.strip():
                line = line.rstrip(b"\n").removesuffix(b"\r")
                try:
                    yield index, line.decode("utf-8")
                except UnicodeDecodeError:
                    yield index, line


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
                record[name] = _small_int(record[name])
        yield index, json.dumps(record, ensure_ascii=False)


def _small_int(text: str) -> int | str:
    """An integer column's value; text left as text when too long to be a number here."""
    return int(text) if len(text.strip()) <= 18 else text
