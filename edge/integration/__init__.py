"""Connecting the platforms districts already run (docs/integration.md).

A district platform that cannot push the standard over HTTP connects by one of:

- a 中间库 (exchange database) the box reads with SQLAlchemy Core past a watermark that is
  committed with the rows (``pull``);
- a drop folder of CSV, XLSX or JSON exports (``dropfolder``, ``tables``);

both through a field mapping (``mapping``) and then the same validation and quarantine as
HTTP records (``intake`` → ``edge/ingest.py``). Once a day the platform's count per item is
reconciled with the box's (``reconcile``). The rest of the box and the pages use only the
names below; ``cli`` has ``hallwatch edge catalogue import`` and ``hallwatch edge sources``.

Example::

    integration = wire_integration(box)      # in edge/app.py: a worker per [[sources]]
    [s.as_dict(now) for s in source_states(box.store)]
"""

from edge.integration.config import ReconcileSection, SourceSection, unique_names
from edge.integration.intake import Sink, SourceRefused, load_rows
from edge.integration.mapping import Mapping, MappingRefused, RowMapper
from edge.integration.reconcile import (Reconciliation, latest_reconciliations, reconcile_counts,
                                        summary_text)
from edge.integration.state import INTEGRATION_SCHEMA, SourceState, recent_files, source_states
from edge.integration.wiring import Integration, build_source, wire_integration
from standard.reconciliation import PlatformCounts

__all__ = [
    "INTEGRATION_SCHEMA", "Integration", "Mapping", "MappingRefused", "PlatformCounts",
    "ReconcileSection", "Reconciliation", "RowMapper", "Sink", "SourceRefused", "SourceSection",
    "SourceState", "build_source", "latest_reconciliations", "load_rows", "recent_files",
    "reconcile_counts", "source_states", "summary_text", "unique_names", "wire_integration",
]
