"""Judge a platform's export files exactly as the box would, without storing anything.

``hallwatch standard validate FILE...`` is a thin wrapper around :func:`check_file`. Records go
through the box's own reading (``edge ingest`` for case events, the HTTP intake's split for
evaluations) and its own validators, so the verdicts are the box's, not a copy of its rules.
A record re-using an ``event_id`` (an evaluation's channel and ``evaluation_id``) accepted
earlier in the same run is judged as the box judges a re-send: the same content is a harmless
duplicate, different content a conflict the box refuses ("与已接收记录内容不同").

Example::

    report = check_file(Path("docs/standard/examples/events.ndjson"))
    report.refused, [p.line() for p in report.problems]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.evaluations.intake import split_evaluations, validate_evaluation
from edge.evaluations.ratings import changed_fields, kept_fields, rating_uid
from standard.bodies import BOM
from edge.filefeed import file_records
from edge.ingest import BodyError, Conflict, Rejection, differing_fields, judge
from standard.fields import compatibility_forms, standard_form
from standard.problems import RECORD, field_problems
from standard.records import Catalogue

KINDS = ("auto", "event", "evaluation", "catalogue")


class CheckError(Exception):
    """A file cannot be read as records at all."""


@dataclass
class Problem:
    index: int | None  # the box's record index (None: the whole file)
    field: str
    message: str
    note: bool = False  # accepted, but not in the standard's form

    def line(self) -> str:
        where = "文件 (file)" if self.index is None else f"记录 #{self.index}"
        tag = "提示 (note): " if self.note else ""
        return f"{where}: {tag}{self.field}: {self.message}"


@dataclass
class FileReport:
    path: Path
    kind: str
    records: int = 0
    refused: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(not p.note for p in self.problems)

    def summary(self) -> str:
        if self.kind == "catalogue":
            return (f"事项目录有效：{self.records} 个事项 (catalogue valid: {self.records} items)"
                    if self.ok else "事项目录无效，箱体不会载入 (catalogue invalid: the box refuses it)")
        return (f"{self.records} 条记录，接收 {self.records - self.refused} 条，拒收 {self.refused}"
                f" 条 ({self.records} records: {self.records - self.refused} accepted,"
                f" {self.refused} refused)")


@dataclass
class Accepted:
    """What the box would hold after the records judged so far: re-sends are compared with it."""

    events: dict[str, Any] = field(default_factory=dict)  # event_id -> edge.ingest.Judged
    ratings: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> kept fields

    def conflict(self, index: int, raw: str, outcome: Any) -> Rejection | None:
        """None for a new record or an identical re-send; else the box's conflict refusal."""
        if hasattr(outcome, "body"):  # a case event (edge.ingest.Judged)
            event_id = outcome.event.event_id
            if event_id not in self.events:
                self.events[event_id] = outcome
                return None
            fields = differing_fields(self.events[event_id].body, outcome)
            found = Conflict(index, event_id, fields, raw) if fields else None
        else:  # an evaluation
            uid = rating_uid(outcome)
            if uid not in self.ratings:
                self.ratings[uid] = kept_fields(outcome)
                return None
            fields = list(changed_fields(self.ratings[uid], outcome))
            found = Conflict(index, outcome.evaluation_id, fields, raw,
                             id_field="evaluation_id") if fields else None
        return found.rejection() if found else None


def check_file(path: Path, kind: str = "auto", accepted: Accepted | None = None) -> FileReport:
    """The box's verdict on every record of ``path`` (JSON array, NDJSON, CSV or a catalogue).

    ``accepted``: the records of earlier files in the same run (one box receiving them in
    turn); a new :class:`Accepted` when not given.
    """
    path = Path(path)
    try:
        data = path.read_bytes().removeprefix(BOM)
    except OSError as exc:
        raise CheckError(f"{path}: 无法读取 (cannot read: {exc})") from None
    # Records keep their bytes, as the box keeps them: a line that is not UTF-8 is one refused
    # record, not a file that cannot be read. The text is for guessing the kind.
    text = data.decode("utf-8", errors="replace")
    if kind == "auto":
        kind = _guess_kind(path, text)
    report = FileReport(path, kind)
    if kind == "catalogue":
        _check_catalogue(data, report)
        return report
    try:
        records = _records(path, data, kind)
    except (BodyError, json.JSONDecodeError) as exc:
        report.problems.append(Problem(None, "(body)", f"不是 JSON 数组、NDJSON 或 CSV ({exc})"))
        return report
    accepted = accepted if accepted is not None else Accepted()
    judged_by = judge if kind == "event" else validate_evaluation
    for index, raw in records:
        report.records += 1
        outcome = judged_by(index, raw)
        if not isinstance(outcome, Rejection):
            outcome = accepted.conflict(index, raw, outcome) or outcome
        if isinstance(outcome, Rejection):
            report.refused += 1
            report.problems.extend(Problem(index, e["field"], e["message"])
                                   for e in outcome.errors)
        else:
            report.problems.extend(_notes(index, raw))
    return report


def _guess_kind(path: Path, text: str) -> str:
    if path.suffix.lower() == ".csv":
        return "event"
    try:
        first = json.loads(text)
    except json.JSONDecodeError:
        first = _first_json_line(text)
    if isinstance(first, dict) and "items" in first:
        return "catalogue"
    if isinstance(first, list):
        first = next((item for item in first if isinstance(item, dict)), None)
    if isinstance(first, dict) and "evaluation_id" in first and "event_id" not in first:
        return "evaluation"
    return "event"


def _first_json_line(text: str) -> object:
    for line in text.splitlines():
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return None


def _records(path: Path, data: bytes, kind: str) -> Iterable[tuple[int, str | bytes]]:
    if kind == "event":
        return list(file_records(path))  # what `hallwatch edge ingest` reads
    if path.suffix.lower() == ".csv":
        raise BodyError("好差评只接收 JSON 或 NDJSON (evaluations come as JSON or NDJSON, not CSV)")
    return split_evaluations(data)  # what POST /api/v1/evaluations reads


def _notes(index: int, raw: str) -> list[Problem]:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError:
        return []
    better = standard_form(record)
    return [Problem(index, name, f"箱体接收，但这是兼容写法，标准写法为 {json.dumps(better[name])}"
                                 f" (accepted for compatibility; the standard's form is"
                                 f" {json.dumps(better[name])})", note=True)
            for name in compatibility_forms(record)]


def _check_catalogue(data: bytes, report: FileReport) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.refused = 1
        report.problems.append(Problem(None, "(file)", f"不是 UTF-8 编码 (not UTF-8: {exc})"))
        return
    try:
        catalogue = Catalogue.model_validate_json(text, strict=True)
    except ValidationError as exc:
        report.refused = 1
        report.problems.extend(Problem(None, p["field"] if p["field"] != RECORD else "(file)",
                                       p["message"]) for p in field_problems(exc))
        return
    report.records = len(catalogue.items)
