"""The evaluation tables (好差评): ratings, window service state, follow-ups and their audit log.

``SCHEMA_STATEMENTS`` are idempotent. The composition root adds them to the store's
``extra_schema`` (run when the store opens); a command working on a bare database file calls
``ensure_schema`` in a write transaction instead.

Example::

    store.write(ensure_schema)
"""

from __future__ import annotations

from edge.storetx import Tx

SCHEMA_STATEMENTS: tuple[str, ...] = (
    # Which case each window is serving (armed) and who was last seen working there.
    """create table if not exists window_service (
        window_no integer primary key, case_no text, staff_id text, staff_name text,
        dept_code text, armed integer not null default 0, armed_at text, seen_at text not null)""",
    # One row per rating from any channel; rating_uid makes re-sends and retries harmless.
    """create table if not exists ratings (
        id integer primary key, rating_uid text not null unique, channel text not null,
        level integer not null check (level between 1 and 5),
        case_no text, window_no integer, staff_id text, staff_name text, dept_code text,
        armed integer not null default 0, counted integer not null default 1,
        repeat_of integer, superseded_by integer, defaulted integer not null default 0,
        invalid_reason text, tags text not null default '[]', text text,
        citizen_name text, citizen_phone text, rated_at text not null,
        recorded_at text not null)""",
    "create index if not exists ratings_case on ratings(case_no)",
    "create index if not exists ratings_rated on ratings(rated_at)",
    # The bad-review (差评) workflow: one row per bad review, its current state and deadlines.
    """create table if not exists review_followups (
        rating_id integer primary key, state text not null, opened_on text not null,
        return_call_due text, rectify_due text, extension_days integer not null default 0,
        return_called_at text, return_call_note text, rectified_at text, rectify_note text,
        extended_at text, extension_reason text,
        follow_up_level integer, follow_up_text text, follow_up_at text,
        appeal_verdict text, appeal_reason text, appeal_approved_by text, appealed_at text,
        updated_at text not null)""",
    "create index if not exists review_followups_state on review_followups(state)",
    # Who did what and when; append-only, enforced by the database itself.
    """create table if not exists review_audit (
        id integer primary key, rating_id integer not null, action text not null,
        actor text not null, at text not null, detail text not null)""",
    "create index if not exists review_audit_rating on review_audit(rating_id)",
    """create trigger if not exists review_audit_no_update before update on review_audit
        begin select raise(abort, 'review_audit is append-only'); end""",
    """create trigger if not exists review_audit_no_delete before delete on review_audit
        begin select raise(abort, 'review_audit is append-only'); end""",
)

SCHEMA_SCRIPT = ";\n".join(SCHEMA_STATEMENTS) + ";\n"


def ensure_schema(tx: Tx) -> None:
    """Create the tables inside a write transaction (statement by statement: executescript
    would commit the store's open transaction)."""
    for statement in SCHEMA_STATEMENTS:
        tx.conn.execute(statement)
