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

from edge.lazyexports import lazy_exports

# The public names by module; each module is imported when one of its names is used.
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "edge.integration.config": ["ReconcileSection", "SourceSection", "unique_names"],
    "edge.integration.intake": ["Sink", "SourceRefused", "load_rows"],
    "edge.integration.mapping": ["Mapping", "MappingRefused", "RowMapper"],
    "edge.integration.reconcile": ["Reconciliation", "latest_reconciliations", "reconcile_counts",
        "summary_text"],
    "edge.integration.state": ["INTEGRATION_SCHEMA", "SourceState", "recent_files",
        "source_states"],
    "edge.integration.wiring": ["Integration", "build_source", "wire_integration"],
    "standard.reconciliation": ["PlatformCounts"],
})
