"""The hub's views of the boxes' records (projections), built in each batch's transaction.

The raw records stay in ``records`` (hub/store.py) exactly as the boxes sent them; these tables
are derived from them and can be rebuilt from them (``hallwatch hub rebuild-views``). Dates
ending ``_on`` are local (+08:00) ISO dates; ``_at`` are UTC timestamps.
"""

from __future__ import annotations

PROJECTION_VERSION = 4  # 2: absences, cameras, self-tests; 3: alerts' 过错责任 (liability);
#                         4: joint-case shares

# Created by migration 1 (hub/storage/migrations.py); a later change needs a new migration.
SCHEMA = """
create table if not exists hub_meta (key text primary key, value text not null);

create table if not exists hub_cases (
    id integer primary key, district_code text not null, case_no text not null,
    box_id text not null, item_code text not null, dept_code text not null,
    dept_suffix text not null, case_type text, stage text, is_open integer not null,
    accepted_on text, finished_on text, terminal text, light text not null default 'unknown',
    deadline text, remaining integer, outcome text, handling_days integer,
    stages_mask integer not null default 0, anomalies integer not null default 0,
    reasons text not null default '[]', last_seq integer not null, facts text not null,
    updated_at text not null, unique (district_code, case_no));
create index if not exists hub_cases_no on hub_cases(case_no);
create index if not exists hub_cases_open on hub_cases(is_open, district_code, dept_suffix, light);
create index if not exists hub_cases_dept on hub_cases(dept_suffix, is_open, light);
create index if not exists hub_cases_in_district on hub_cases(district_code);  -- rows by id
create index if not exists hub_cases_item on hub_cases(item_code, is_open);
create index if not exists hub_cases_type on hub_cases(case_type, is_open);
create index if not exists hub_cases_finished on hub_cases(finished_on, district_code);

create table if not exists hub_case_events (
    district_code text not null, case_no text not null, box_id text not null,
    seq integer not null, event_type text not null, occurred_at text not null,
    primary key (district_code, case_no, box_id, seq)) without rowid;

create table if not exists hub_case_daily (
    day text not null, district_code text not null, dept_code text not null,
    dept_suffix text not null, item_code text not null, finished integer not null default 0,
    with_deadline integer not null default 0, early integer not null default 0,
    on_time integer not null default 0, late integer not null default 0,
    handling_days integer not null default 0, handling_n integer not null default 0,
    primary key (day, district_code, dept_code, item_code)) without rowid;
create index if not exists hub_case_daily_dept on hub_case_daily(dept_suffix, day);

create table if not exists hub_alerts (
    box_id text not null, alert_id integer not null, district_code text not null,
    subject text not null, rule text not null, level text not null, state text not null,
    detail text not null, opened_at text not null, opened_on text, updated_at text not null,
    case_no text, dept_code text, dept_suffix text, card text, card_due text, cleared_at text,
    liability text, primary key (box_id, alert_id)) without rowid;
create index if not exists hub_alerts_case on hub_alerts(case_no, district_code);
create index if not exists hub_alerts_state on hub_alerts(state, district_code);
create index if not exists hub_alerts_card on hub_alerts(card, state);
create index if not exists hub_alerts_opened on hub_alerts(opened_on, level);

create table if not exists hub_alert_events (
    box_id text not null, event_id integer not null, alert_id integer not null, at text not null,
    actor text not null, action text not null, from_state text, to_state text, note text,
    primary key (box_id, event_id)) without rowid;
create index if not exists hub_alert_events_alert on hub_alert_events(box_id, alert_id);

create table if not exists hub_notices (
    box_id text not null, number text not null, kind text not null, district_code text not null,
    alert_id integer, case_no text, dept_code text, dept_suffix text, issued_at text not null,
    issued_on text not null, due_on text, content text not null,
    primary key (box_id, number)) without rowid;
create index if not exists hub_notices_issued on hub_notices(issued_on, kind);
create index if not exists hub_notices_case on hub_notices(case_no, district_code);
create index if not exists hub_notices_alert on hub_notices(box_id, alert_id);

create table if not exists hub_ratings (
    box_id text not null, rating_id integer not null, district_code text not null,
    dept_code text, dept_suffix text, case_no text, window_no integer, channel text,
    level integer not null, effective integer not null, invalid integer not null,
    rated_at text not null, rated_on text not null,
    primary key (box_id, rating_id)) without rowid;
create index if not exists hub_ratings_day on hub_ratings(rated_on, district_code);

create table if not exists hub_rating_daily (
    day text not null, district_code text not null, dept_code text not null,
    dept_suffix text not null, total integer not null default 0,
    counted integer not null default 0, satisfied integer not null default 0,
    bad integer not null default 0, invalid integer not null default 0,
    primary key (day, district_code, dept_code)) without rowid;
create index if not exists hub_rating_daily_dept on hub_rating_daily(dept_suffix, day);

create table if not exists hub_followups (
    box_id text not null, rating_id integer not null, district_code text not null,
    state text, opened_on text, return_call_due text, rectify_due text, updated_at text,
    primary key (box_id, rating_id)) without rowid;

create table if not exists hub_absences (
    box_id text not null, absence_id integer not null, district_code text not null,
    window_no integer not null, camera_id text not null, alert_id integer,
    started_at text, started_on text, taken_at text, ended_at text,
    primary key (box_id, absence_id)) without rowid;
create index if not exists hub_absences_day on hub_absences(started_on, district_code);

create table if not exists hub_cameras (
    box_id text not null, camera_id text not null, district_code text not null,
    ok integer not null, detail text not null, last_frame_at text, changed_at text not null,
    seq integer not null, primary key (box_id, camera_id)) without rowid;

create table if not exists hub_selftests (
    box_id text primary key, district_code text not null, seq integer not null,
    ok integer not null, started_at text, finished_at text not null, counts text not null,
    problems text not null) without rowid;

create table if not exists hub_projection_errors (
    id integer primary key, box_id text not null, seq integer not null, kind text not null,
    error text not null, at text not null);
"""
