"""The drop folder: platform exports that appear in a folder are loaded with the mapping.

A file is read only when it is whole: when ``<file>.ok`` appears beside it, or (unless the
source requires the marker) when its size and modification time are the same at two polls in
a row. Once loaded it moves to ``done/`` (every row stored) or ``failed/`` (the file could not
be read, a mapped column is missing, or some rows were refused and quarantined), with
``<file>.report.json`` next to it saying what happened, row by row.

Loading the same file twice is harmless: rows already stored come back as duplicates. So a
crash in the middle of a file only means it is read again from the start.

Example::

    drop = DropFolder("gm-drop", Path("incoming"), RowMapper(mapping), Sink(store))
    drop.poll()  # notes sizes
    drop.poll()  # loads the files whose size did not change
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

from edge.integration.intake import Loaded, Sink, load_rows
from edge.integration.mapping import RowMapper
from edge.integration.pull import PollOutcome
from edge.integration.state import note_file
from edge.integration.tables import SUFFIXES, TableError, iter_positions, read_table
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)
MARKER = ".ok"
REPORT = ".report.json"
MAX_REPORTED = 200  # rejected rows listed in a report; the quarantine keeps them all


class DropFolder:
    """One drop-folder source: each ``poll()`` loads the files that are complete."""

    kind = "folder"

    def __init__(self, name: str, folder: Path, mapper: RowMapper, sink: Sink, *,
                 encoding: str = "auto", require_ok_marker: bool = False,
                 sheet: str | None = None):
        self.name = name
        self.folder = folder
        self.mapper = mapper
        self.sink = sink
        self.encoding = encoding
        self.require_ok_marker = require_ok_marker
        self.sheet = sheet
        self._seen: dict[str, tuple[int, int]] = {}  # file → (size, mtime) at the last poll

    def describe(self) -> str:
        return str(self.folder)

    def close(self) -> None:
        pass

    def poll(self) -> PollOutcome:
        for sub in ("", "done", "failed"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        outcome = PollOutcome()
        seen: dict[str, tuple[int, int]] = {}
        for path in sorted(self.folder.iterdir()):
            if not _candidate(path):
                continue
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            marker = path.with_name(path.name + MARKER)
            if marker.exists() or (not self.require_ok_marker and stat.st_size > 0
                                   and self._seen.get(path.name) == signature):
                self._load(path, marker, outcome)
            else:
                seen[path.name] = signature
        self._seen = seen
        return outcome

    def _load(self, path: Path, marker: Path, outcome: PollOutcome) -> None:
        report: dict[str, Any] = {"version": 1, "file": path.name, "source": self.name,
                                  "loaded_at": dt.datetime.now(LOCAL_TZ).isoformat(
                                      timespec="seconds")}
        try:
            header, rows = read_table(path, encoding=self.encoding, sheet=self.sheet)
            missing = self.mapper.missing_columns(header)
            if missing:
                raise TableError(f"映射中的列在文件中不存在：{'；'.join(missing)}（请修改映射或导出的"
                                 f"列名） (mapped columns missing from the file's header)")
        except TableError as exc:
            report.update(status="failed", rows=0, accepted=0, duplicates=0, rejected=0,
                          error=str(exc), summary=f"文件无法读取：{exc}")
            self._finish(path, marker, "failed", report)
            outcome.files.append(path.name)
            return
        loaded = load_rows(self.sink, self.mapper, iter_positions(rows),
                           source=f"文件夹 {self.name}/{path.name}")
        status = "failed" if loaded.result.rejected or loaded.result.conflicts else "done"
        report.update(_counts(loaded, len(rows)), status=status)
        self._finish(path, marker, status, report)
        outcome.read += len(rows)
        outcome.accepted += loaded.result.accepted
        outcome.duplicates += loaded.result.duplicates
        outcome.rejected += len(loaded.result.rejected) + len(loaded.result.conflicts)
        outcome.files.append(path.name)

    def _finish(self, path: Path, marker: Path, status: str, report: dict[str, Any]) -> None:
        """Report first, then move: a crash between them only means the file is read again."""
        target = _free_name(self.folder / status / path.name)
        text = json.dumps(report, ensure_ascii=False, indent=1)
        target.with_name(target.name + REPORT).write_text(text, encoding="utf-8")
        os.replace(path, target)
        if marker.exists():
            marker.unlink()
        self.sink.store.write(lambda tx: note_file(
            tx, self.name, path.name, status, accepted=report["accepted"],
            duplicates=report["duplicates"], rejected=report["rejected"], report=text))
        log.info("source %s: %s → %s (%s)", self.name, path.name, status, report["summary"])


def _candidate(path: Path) -> bool:
    name = path.name
    return (path.is_file() and not name.startswith((".", "~$"))
            and path.suffix.lower() in SUFFIXES)


def _counts(loaded: Loaded, rows: int) -> dict[str, Any]:
    result = loaded.result
    refused = result.rejected + [c.rejection() for c in result.conflicts]
    refused.sort(key=lambda r: r.index)
    rejected = [{"row": r.index, "reason": r.reason} for r in refused[:MAX_REPORTED]]
    summary = (f"共 {rows} 行：新接收 {result.accepted} 条，重复 {result.duplicates} 条，"
               f"拒收 {len(refused)} 条")
    if refused:
        summary += "（拒收的记录已隔离，见下方原因）"
    return {"rows": rows, "accepted": result.accepted, "duplicates": result.duplicates,
            "rejected": len(refused), "rejections": rejected, "summary": summary}


def _free_name(target: Path) -> Path:
    """``target``, or the same name with the time added when a file of that name was loaded."""
    if not target.exists():
        return target
    stamp = dt.datetime.now(LOCAL_TZ).strftime("%Y%m%d%H%M%S%f")
    return target.with_name(f"{target.stem}.{stamp}{target.suffix}")
