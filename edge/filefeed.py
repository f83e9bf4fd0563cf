"""Ingest from files: JSON arrays, NDJSON and CSV exports of a district platform.

Each record is judged on its own, as over HTTP (edge/ingest.py); a file is committed in chunks
of ``edge.ingest.FILE_CHUNK`` records, and running the same file again is harmless (what was
committed comes back as identical duplicates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from standard.bodies import BodyError, file_records
from edge.ingest import FILE_CHUNK, ConflictHook, IngestResult, ingest_texts
from edge.memory import cycle_collector_paused
from edge.quarantine import Rejection, quarantine_body
from edge.store import Store
from standard.records import CatalogueItem


def ingest_files(store: Store, files: tuple[Path, ...] | list[Path], *,
                 show_progress: bool = False,
                 catalogue: Mapping[str, CatalogueItem] | None = None,
                 on_conflicts: Sequence[ConflictHook] = ()) -> IngestResult:
    """Ingest every file; a file that cannot be parsed at all is one rejection, not a crash.

    The cases are marked to be judged (``edge check`` or the running box does that).
    """
    with cycle_collector_paused():
        return _ingest_files(store, files, show_progress, catalogue, on_conflicts)


def _ingest_files(store: Store, files: tuple[Path, ...] | list[Path], show_progress: bool,
                  catalogue: Mapping[str, CatalogueItem] | None,
                  on_conflicts: Sequence[ConflictHook]) -> IngestResult:
    total = IngestResult()
    for path in files:
        records = file_records(path)
        try:
            if show_progress:
                with click.progressbar(records, label=str(path), file=None,
                                       show_pos=True) as bar:
                    result = ingest_texts(store, bar, source=str(path), catalogue=catalogue,
                                          on_conflicts=on_conflicts, chunk_size=FILE_CHUNK)
            else:
                result = ingest_texts(store, records, source=str(path), catalogue=catalogue,
                                      on_conflicts=on_conflicts, chunk_size=FILE_CHUNK)
        except BodyError as exc:
            reason = f"文件无法解析 (cannot parse the file: {exc})"
            quarantine_body(store, path.read_bytes(), str(path), reason)
            result = IngestResult(rejected=[Rejection(-1, [{"field": "(file)", "message": reason}],
                                                      "", source=str(path))])
        total.add(result)
    return total
