"""Migration 1: every table as the last release before versioned migrations left it.

Kept apart from the later steps (hub/storage/migrations.py) because it is the one step with
its own DDL texts; the projections', complaints', 督办 and score tables come from their modules.
Never edit it: a database made by it must stay what it was; change the schema with a new
migration.
"""

from __future__ import annotations

from hub.storage.migrating import Migrating

BASE = """
create table if not exists boxes (
    box_id text primary key, district_code text not null, last_seen text,
    last_seq bigint not null default 0, backlog bigint not null default 0,
    contiguous_seq bigint not null default 0, chain_seq bigint not null default 0,
    chain_hash blob, chain_state text not null default 'ok',
    box_acked_seq bigint not null default 0);
create table if not exists missing (
    box_id text not null, seq bigint not null, reason text not null default 'gap',
    primary key (box_id, seq)) without rowid;
create table if not exists tamper_alerts (
    id integer primary key, box_id text not null, first_seq bigint not null,
    last_seq bigint not null, kind text not null, detail text not null, raised_at text not null);
create table if not exists refusals (
    id integer primary key, at text not null, box_id text, reason text not null,
    source text not null default '', count integer not null default 1, last_at text);
create table if not exists config_docs (
    kind text not null, doc_version integer not null, doc text not null, published_at text not null,
    primary key (kind, doc_version));
create table if not exists config_acks (
    box_id text not null, kind text not null, doc_version integer not null, ok integer not null,
    error text, at text not null, primary key (box_id, kind));
create table if not exists commands (
    id integer primary key, box_id text not null, kind text not null, body text not null,
    created_at text not null, done_at text);
"""

SQLITE_RECORDS = """
create table if not exists records (
    box_id text not null, seq integer not null, kind text not null, at text not null,
    body text not null, hash blob not null, received_at text not null,
    primary key (box_id, seq)) without rowid;
"""

# Partitioned by the month of the record's own time. A unique key on a partitioned table must
# hold the partition key, so it is (box_id, seq, at); exactly-once per (box_id, seq) rests on
# the per-box advisory lock under which a batch's held rows are read and the rest inserted.
# ``at`` sorts bytewise ("C") so that the month bounds are plain string ranges.
POSTGRES_RECORDS = """
create table if not exists records (
    box_id text not null, seq bigint not null, kind text not null,
    at text collate "C" not null, body text not null, hash bytea not null,
    received_at text not null, primary key (box_id, seq, at)) partition by range (at);
create table if not exists records_default partition of records default;
"""

# Columns added since the first release: (table, column, definition), added to older files.
ADDED_COLUMNS = (
    ("boxes", "box_acked_seq", "integer not null default 0"),
    ("missing", "reason", "text not null default 'gap'"),
    ("refusals", "source", "text not null default ''"),
    ("refusals", "count", "integer not null default 1"),
    ("refusals", "last_at", "text"),
)
INDEXES = "create index if not exists refusals_episode on refusals(source, reason, id);"


def baseline(db: Migrating) -> None:
    """Every table as the last release before versioned migrations left it."""
    from hub import complaints, dubans, scorebook, scoring_inputs
    from hub.projections.schema import SCHEMA as PROJECTIONS

    db.run(BASE)
    if db.postgres:
        db.engine.script(db.conn, POSTGRES_RECORDS)
    else:
        db.run(SQLITE_RECORDS)
    db.add_columns(ADDED_COLUMNS)
    for script in (INDEXES, PROJECTIONS, complaints.SCHEMA, dubans.SCHEMA, scorebook.SCHEMA,
                   scorebook.SQLITE_TRIGGERS, scoring_inputs.SCHEMA):
        db.run(script)
