"""The hub's schema, as one list of numbered migrations for both engines.

Each migration runs once per database, in order, in one transaction with the others pending
(PostgreSQL's DDL is transactional, and so is SQLite's), and is recorded in
``schema_migrations``. They run when a hub process opens its store and by
``hallwatch hub migrate``; on PostgreSQL an advisory lock lets only one of several starting
receivers migrate. A database newer than the code is refused rather than written to.

Rules: never edit a migration that has shipped; add the next number. Write DDL in SQLite's
spelling: hub/storage/dialect.py translates ids, blobs, reals and refusing triggers for
PostgreSQL. A migration runs while the hub is down: never read every stored record in one
(hours at a province's size); mark a fill pending and let the hub do it online in batches, as
migration 15 does (hub/projections/staffbackfill.py). Where the engines need different DDL (the monthly partitions of ``records``), a
step says so with ``db.postgres``. Migration 1, the baseline, is hub/storage/baseline.py; a step
gets a :class:`~hub.storage.migrating.Migrating`.

Example::

    applied = migrate(engine)     # [1, 2, 3] on a new database, [] on an up-to-date one
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from hub.storage.baseline import baseline
from hub.storage.engines import Engine, StorageError
from hub.storage.migrating import Migrating

MIGRATION_LOCK = 0x68776D67  # "hwmg": the advisory lock held while migrating (PostgreSQL)


def missing_as_ranges(db: Migrating) -> None:
    """Issue 15: a gap is one row per missing range, not one per missing record."""
    db.run("""
create table missing_ranges (
    box_id text not null, first_seq bigint not null, last_seq bigint not null,
    reason text not null default 'gap', primary key (box_id, first_seq));
insert into missing_ranges (box_id, first_seq, last_seq, reason)
    select box_id, min(seq), max(seq), reason from (
        select box_id, seq, reason,
               seq - row_number() over (partition by box_id, reason order by seq) as run
        from missing) numbered
    group by box_id, reason, run;
drop table missing;
""")


def records_counted(db: Migrating) -> None:
    """Each box's record count kept on its row: count(*) over billions of rows is no page."""
    db.add_columns((("boxes", "record_count", "bigint not null default 0"),))
    db.conn.execute("update boxes set record_count ="
                    " (select count(*) from records r where r.box_id = boxes.box_id)")


def alerts_liability(db: Migrating) -> None:
    """Issue 14: the 过错责任 outcome a supervisor records on a card (hub_alerts.liability)."""
    db.add_columns((("hub_alerts", "liability", "text"),))


def joint_shares(db: Migrating) -> None:
    """Issue 14: each participating department's share of a joint case (联办件)."""
    from hub.projections.shares import SCHEMA as SHARES

    db.run(SHARES)


def platform_reconciliations(db: Migrating) -> None:
    """Issue 19: the platforms' daily counts per item against the boxes' (数据报送完整率)."""
    from hub.projections.reporting import SCHEMA as RECONCILIATIONS

    db.run(RECONCILIATIONS)


def monthly_reports(db: Migrating) -> None:
    """Issue 20: every generated monthly supervision report (月度电子监察报告), kept."""
    from hub.reports.desk import SCHEMA as REPORTS

    db.run(REPORTS)


def snapshot_requests(db: Migrating) -> None:
    """Issue 20: snapshots the hub asks of a window's camera, with who asked (the audit)."""
    from hub.snapshots import SCHEMA as SNAPSHOTS

    db.run(SNAPSHOTS)


def hub_pages(db: Migrating) -> None:
    """Issue 20: the box's notice page as issued (``hub_notices.html``); the city's 督办通知书
    as issued (``dubans.content``) and the complaint it came from; complaints' channel, 12345
    ticket (unique), publication consent and decision, linked case and 督办."""
    db.add_columns((
        ("hub_notices", "html", "text"),
        ("dubans", "content", "text"),
        ("dubans", "complaint_id", "integer"),
        ("complaints", "channel", "text not null default 'portal'"),
        ("complaints", "ticket_no", "text"),
        ("complaints", "ticket_digest", "text"),
        ("complaints", "received_at", "text"),
        ("complaints", "entered_by", "text"),
        ("complaints", "publish_ok", "integer not null default 0"),
        ("complaints", "published", "integer not null default 0"),
        ("complaints", "case_no", "text"),
        ("complaints", "duban_id", "integer"),
    ))
    db.run("""
create unique index if not exists complaints_ticket on complaints(ticket_no);
create index if not exists complaints_published on complaints(published, id);
create index if not exists dubans_complaint on dubans(complaint_id);
""")


# The open cases' list order (hub/services/cases.py, most urgent first), as an index.
URGENCY = ("(case light when 'red' then 0 when 'unknown' then 1 when 'yellow' then 2 else 3 end),"
           " (remaining is null), remaining, case_no, id")


def case_list_indexes(db: Migrating) -> None:
    """Issue 18: case lists that walk an index at tens of millions of records, not a sort.

    The open cases in urgency order, city-wide and per district (partial: open cases only).
    A department's cases newest first. A district's cases newest first: SQLite's index on
    district_code already ends with the row id; PostgreSQL's needs it spelled out."""
    db.run(f"""
create index if not exists hub_cases_urgent on hub_cases({URGENCY}) where is_open = 1;
create index if not exists hub_cases_urgent_district on hub_cases(district_code, {URGENCY})
    where is_open = 1;
create index if not exists hub_cases_dept_id on hub_cases(dept_suffix, id);
""")
    if db.postgres:
        db.run("create index if not exists hub_cases_district_id on hub_cases(district_code, id);")


def overview_indexes(db: Migrating) -> None:
    """Issue 18: the overview's and the department page's reads at tens of millions of records.

    Active cards (partial: carded alerts only, state first, so the few active ones are read,
    not every closed card); a case's item by its number (the department page joins a
    month's ratings to their cases: index only); a department's ratings by day; one unit's
    department's cases newest first (a 区审批部门 user's lists)."""
    db.run("""
create index if not exists hub_alerts_cards on hub_alerts(state, card, district_code, dept_suffix,
    card_due) where card is not null;
create index if not exists hub_cases_no_item on hub_cases(district_code, case_no, item_code);
create index if not exists hub_ratings_dept on hub_ratings(dept_suffix, rated_on);
create index if not exists hub_cases_unit_id on hub_cases(district_code, dept_suffix, id);
""")


def case_depts(db: Migrating) -> None:
    """Issue 18: a department's case list as one index walk, joint cases included (one row per
    case and department that leads it or takes part, hub/projections/casedepts.py), filled
    from the cases and shares stored; the indexes after the rows (faster than row by row)."""
    from hub.projections import casedepts

    db.run(casedepts.table_ddl(db.postgres))
    db.conn.execute(casedepts.BACKFILL)
    db.run(casedepts.INDEXES)


DUBAN_COLUMNS = ("id, number, year, seq, district_code, case_no, dept_code, dept_suffix, item_code,"
                 " issued_at, issued_on, issued_by, due_on, requirement, state, closed_at,"
                 " updated_at, content, complaint_id")


def district_dubans(db: Migrating) -> None:
    """Issue 20: a district's 监察室 issues its own 督办 (a complaint's 移交督办 in its district).

    ``dubans.issuer`` is ``city`` or the issuing district's code; each issuer numbers its own
    督办 per year without gaps (``duban_unit_counters``), so the number is unique per
    (issuer, year, seq) instead of (year, seq). SQLite cannot drop a table's unique
    constraint, so its table is rebuilt; PostgreSQL drops and adds the constraint."""
    db.run("create table if not exists duban_unit_counters (issuer text not null,"
           " year integer not null, last integer not null, primary key (issuer, year));")
    if db.postgres:
        db.conn.execute("alter table dubans add column if not exists issuer text not null"
                        " default 'city'")
        for (name,) in db.conn.execute(
                "select conname from pg_constraint where conrelid = 'dubans'::regclass"
                " and contype = 'u' and pg_get_constraintdef(oid) = 'UNIQUE (year, seq)'"
                ).fetchall():
            db.conn.execute(f'alter table dubans drop constraint "{name}"')
        db.conn.execute("alter table dubans add constraint dubans_issuer_year_seq"
                        " unique (issuer, year, seq)")
        return
    db.run(f"""
create table dubans_rebuilt (
    id integer primary key, number text not null unique, year integer not null,
    seq integer not null, district_code text not null, case_no text not null, dept_code text,
    dept_suffix text, item_code text, issued_at text not null, issued_on text not null,
    issued_by text not null, due_on text, requirement text not null, state text not null,
    closed_at text, updated_at text not null, content text, complaint_id integer,
    issuer text not null default 'city', unique (issuer, year, seq));
insert into dubans_rebuilt ({DUBAN_COLUMNS}, issuer) select {DUBAN_COLUMNS}, 'city' from dubans;
drop table dubans;
alter table dubans_rebuilt rename to dubans;
create index if not exists dubans_case on dubans(case_no, district_code);
create index if not exists dubans_state on dubans(state, district_code);
create index if not exists dubans_complaint on dubans(complaint_id);
""")


def absence_office_periods(db: Migrating) -> None:
    """Issue 20: an absence's office periods as its box sent them (``absence_started``), so
    the hub counts its 离岗 minutes in office time as the box does (lunch does not count)."""
    db.add_columns((("hub_absences", "office_periods", "text"),))


def case_staff(db: Migrating) -> None:
    """Issue 20: 办件监察 finds a district's cases by the staff who handled them (the events'
    ``actor``): one row per case and staff id or name (hub/projections/casestaff.py).

    The cases already stored are filled afterwards, online, by a background job
    (hub/projections/staffbackfill.py; records dropped by retention give none): reading every
    stored record took hours at 50 million records, with the hub down. (Edited before any
    release: a database migrated by the first form was filled here and has no pending mark.)"""
    from hub.projections import casestaff, staffbackfill

    db.run(casestaff.table_ddl(db.postgres))
    staffbackfill.mark_pending(db.conn)


def complaint_quarantine(db: Migrating) -> None:
    """Issue 15: the 12345 intake keeps every refused record, with why and its raw form."""
    from hub import complaint_quarantine as quarantined

    db.run(quarantined.SCHEMA)


def hotline_alerts(db: Migrating) -> None:
    """A 12345 ticket re-sent with different content opens a data-quality alert (数据冲突)."""
    from hub import complaint_conflicts

    db.run(complaint_conflicts.SCHEMA)


def rating_items(db: Migrating) -> None:
    """Issue 18: the department page's satisfaction per item from a daily aggregate kept on
    write (hub/projections/ratingitems.py) instead of joining the month's ratings to their
    cases; each stored rating gets its case's item, and the aggregate is filled from them."""
    from hub.projections import ratingitems

    db.add_columns((("hub_ratings", "item_code", "text"),))
    db.run(ratingitems.TABLE)
    db.conn.execute(ratingitems.FILL_ITEMS)
    db.conn.execute(ratingitems.BACKFILL)
    db.run(ratingitems.INDEXES)


def dept_urgency(db: Migrating) -> None:
    """Issue 18: a department's open list in urgency order from an index of hub_case_depts
    (its open rows carry the case's light, remaining days and number), not a sort of all its
    open cases; the open rows are filled from their cases (hub/projections/casedepts.py)."""
    from hub.projections import casedepts

    db.add_columns(casedepts.URGENCY_COLUMNS)
    db.conn.execute(casedepts.FILL_URGENCY)
    db.run(casedepts.URGENT_INDEXES)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    step: Callable[[Migrating], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline: boxes, records, views, complaints, 督办, scores", baseline),
    Migration(2, "missing records as ranges", missing_as_ranges),
    Migration(3, "record count per box", records_counted),
    Migration(4, "alerts' 过错责任 outcome", alerts_liability),
    Migration(5, "joint-case shares", joint_shares),
    Migration(6, "platform reconciliations", platform_reconciliations),
    Migration(7, "monthly supervision reports", monthly_reports),
    Migration(8, "window snapshot requests", snapshot_requests),
    Migration(9, "notice pages, 督办通知书, complaint channels and links", hub_pages),
    Migration(10, "case list indexes", case_list_indexes),
    Migration(11, "overview and department page indexes", overview_indexes),
    Migration(12, "the departments whose lists show a case", case_depts),
    Migration(13, "district 督办 with their own numbers", district_dubans),
    Migration(14, "absences' office periods", absence_office_periods),
    Migration(15, "the staff who handled each case", case_staff),
    Migration(16, "the 12345 intake's quarantine", complaint_quarantine),
    Migration(17, "the 12345 intake's data-quality alerts", hotline_alerts),
    Migration(18, "ratings by their case's item", rating_items),
    Migration(19, "a department's open cases in urgency order", dept_urgency),
)
LATEST = MIGRATIONS[-1].version


class SchemaTooNew(StorageError):
    """The database was migrated by a newer hallwatch than this one."""


def migrate(engine: Engine) -> list[int]:
    """Apply the pending migrations; returns the versions applied now."""
    applied: list[int] = []
    with engine.transaction() as conn:
        if engine.name == "postgresql":
            conn.execute("select pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        engine.script(conn, engine.dialect.ddl(
            "create table if not exists schema_migrations (version integer primary key,"
            " name text not null, applied_at text not null);"))
        done = {row[0] for row in conn.execute("select version from schema_migrations")}
        if done and max(done) > LATEST:
            raise SchemaTooNew(
                f"{engine.description}: the database is at schema version {max(done)}, newer "
                f"than this hallwatch knows ({LATEST}); upgrade hallwatch on this machine")
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            migration.step(Migrating(engine, conn))
            conn.execute("insert into schema_migrations (version, name, applied_at)"
                         " values (?, ?, ?)", (migration.version, migration.name,
                                               dt.datetime.now(dt.timezone.utc).isoformat()))
            applied.append(migration.version)
    return applied


def schema_version(engine: Engine) -> int:
    """The newest migration applied to the database (0 for a new or pre-migration one)."""
    try:
        rows = engine.query("select max(version) as v from schema_migrations")
    except Exception:  # noqa: BLE001 - no such table yet, on either engine
        return 0
    return rows[0]["v"] or 0
