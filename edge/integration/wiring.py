"""Building the box's sources from ``[[sources]]``: a worker per source, the daily reconciler.

The composition root (``edge/app.py``) calls :func:`wire_integration`; nothing else builds
these parts. Nothing is opened until the box starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge.integration.config import SourceSection, source_mapping, source_url
from edge.integration.dropfolder import DropFolder
from edge.integration.intake import Sink
from edge.integration.mapping import RowMapper
from edge.integration.pull import DatabasePull, DatabaseReader, day_bounds
from edge.integration.reconcile import DailyCount, DailyReconciler
from edge.integration.state import INTEGRATION_SCHEMA
from edge.integration.worker import SourceWorker

if TYPE_CHECKING:
    from edge.app import Box


@dataclass
class Integration:
    """The box's platform sources and its reconciler (``box.integration``)."""

    workers: list[SourceWorker] = field(default_factory=list)
    reconciler: DailyReconciler | None = None

    def worker(self, name: str) -> SourceWorker:
        return next(w for w in self.workers if w.source.name == name)

    def described(self) -> dict[str, str]:
        """Source name → where it reads (URL without password, or folder)."""
        return {w.source.name: w.source.describe() for w in self.workers}


def build_source(section: SourceSection, base_dir: Path, sink: Sink):
    """The pollable source for one ``[[sources]]`` entry (ConfigError names a bad key)."""
    mapper = RowMapper(source_mapping(section, base_dir))
    if section.kind == "database":
        reader = DatabaseReader(source_url(section, base_dir), watermark=section.watermark,
                                table=section.table, query=section.query)
        return DatabasePull(section.name, reader, mapper, sink, batch_size=section.batch_size)
    return DropFolder(section.name, base_dir / section.folder, mapper, sink,
                      encoding=section.encoding, require_ok_marker=section.require_ok_marker,
                      sheet=section.sheet)


def wire_integration(box: Box) -> Integration:
    """Add a worker for each ``[[sources]]`` entry, and the daily reconciler, to ``box``."""
    store, config = box.store, box.config
    if INTEGRATION_SCHEMA not in store.extra_schema:
        store.extra_schema.append(INTEGRATION_SCHEMA)
    sink = Sink(store, hooks=box.ingest_hooks, on_conflicts=box.conflict_hooks,
                after_ingest=box.after_ingest, refusing=box.refusing,
                catalogue=lambda: box.board.catalogue)
    integration = Integration()
    counters: dict[str, DailyCount] = {}
    for section in config.sources:
        source = build_source(section, Path(config.base_dir), sink)
        worker = SourceWorker(source, store, box.clock, interval=section.interval_seconds,
                              max_backoff=section.max_backoff_seconds,
                              alert_after=section.alert_after_failures)
        integration.workers.append(worker)
        box.services.append(worker)
        if section.reconcile is not None:
            counters[f"中间库 {section.name}"] = DailyCount(
                dt.time.fromisoformat(section.reconcile.at),
                _counter(source.reader, section.reconcile.query),
                ready=lambda worker=worker: worker.caught_up)
    if counters:
        integration.reconciler = DailyReconciler(store, box.clock, counters)
        box.services.append(integration.reconciler)
    return integration


def _counter(reader: DatabaseReader, query: str) -> Callable[[dt.date], dict[str, int]]:
    return lambda day: reader.counts(query, day_bounds(day))
