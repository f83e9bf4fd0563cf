"""Which departments' lists show a case: one row per case and department that leads it or
takes part in it (联办件, hub/projections/shares.py).

A department's case list (its own user's, or anyone's filtered by department) is "the cases
it leads or takes part in". Asked of ``hub_cases`` and ``hub_case_shares`` that is an ``OR``
with a look at the shares, which no index answers: at 25 million records PostgreSQL hashed
all the department's shares and filtered the cases one by one (0.7-1.4 s a page,
docs/hub.md). ``hub_case_depts`` holds the answer on the write path, keyed by department,
district and case id (the list's order), so that such a list is one index walk:

- ``(dept_suffix, case_id)``: a department's cases across districts, newest first;
- ``(dept_suffix, district_code, case_id, is_open)``: one unit's department;
- the open ones (partial), which the list sorts by urgency;
- the open ones in urgency order (migration 19: ``list_light``, ``list_remaining`` and
  ``list_case_no`` are the case's light, remaining days and number; partial indexes
  ``hub_case_depts_urgent`` and ``_urgent_unit``), so that a deep page of a department's open
  list walks its index instead of fetching and sorting all the department's open cases
  (JTJ's at 27 M: 0.5-0.7 s, docs/hub.md).

The rows are rewritten with their case (hub/projections/cases.py, casebatch.py) when it is
new, changes its lead department, open state, light or remaining days, or is a joint case (its
shares are rewritten then too); the lights refresher copies the light and remaining days it
writes (``SYNC_URGENCY``). Migration 12 fills it from the cases and shares already stored,
migration 19 the open rows' urgency.

Example::

    rows = dept_rows("440605", "NH2026110005", "FGJ", shares)
    write_depts(conn, [("440605", "NH2026110005")], rows)   # after the case's upsert
"""

from __future__ import annotations

from typing import Any

from hub.projections.batchwise import run
from hub.units import dept_suffix

# Created by migration 12 (hub/storage/migrations.py). The table's key holds every column:
# SQLite keeps the rows in it (without rowid); PostgreSQL includes them in the key's index,
# so that the walks read the index alone.
TABLE = """
create table if not exists hub_case_depts (
    dept_suffix text not null, case_id bigint not null, district_code text not null,
    is_open integer not null, primary key (dept_suffix, case_id){include}){without_rowid};
"""
INDEXES = """
create index if not exists hub_case_depts_unit on hub_case_depts(dept_suffix, district_code,
    case_id, is_open);
create index if not exists hub_case_depts_open on hub_case_depts(dept_suffix, district_code,
    case_id) where is_open = 1;
create index if not exists hub_case_depts_case on hub_case_depts(case_id);
"""
# Migration 19: the urgency order of hub_cases_urgent (hub/storage/migrations.py URGENCY).
# The columns are named apart from hub_cases' (a list's filters join hub_cases unqualified).
URGENCY = ("(case list_light when 'red' then 0 when 'unknown' then 1 when 'yellow' then 2"
           " else 3 end), (list_remaining is null), list_remaining, list_case_no, case_id")
URGENCY_COLUMNS = (("hub_case_depts", "list_light", "text"),
                   ("hub_case_depts", "list_remaining", "integer"),
                   ("hub_case_depts", "list_case_no", "text"))
URGENT_INDEXES = f"""
create index if not exists hub_case_depts_urgent on hub_case_depts(dept_suffix, {URGENCY})
    where is_open = 1;
create index if not exists hub_case_depts_urgent_unit on hub_case_depts(dept_suffix,
    district_code, {URGENCY}) where is_open = 1;
"""
# The case's light and remaining days as its row holds them now (parameters: its id twice).
SYNC_URGENCY = ("update hub_case_depts set (list_light, list_remaining, list_case_no) ="
                " (select light, remaining, case_no from hub_cases where id = ?)"
                " where case_id = ?")
FILL_URGENCY = ("update hub_case_depts set (list_light, list_remaining, list_case_no) ="
                " (select light, remaining, case_no from hub_cases"
                " where id = hub_case_depts.case_id) where is_open = 1")
# Every case's lead department and the departments in its shares, once each.
BACKFILL = """
insert into hub_case_depts (dept_suffix, case_id, district_code, is_open)
    select dept_suffix, id, district_code, is_open from hub_cases
    union
    select s.dept_suffix, c.id, c.district_code, c.is_open from hub_case_shares s
        join hub_cases c on c.district_code = s.district_code and c.case_no = s.case_no;
"""
_DELETE = ("delete from hub_case_depts where case_id ="
           " (select id from hub_cases where district_code = ? and case_no = ?)")
# The case's id and open state as its upsert just left them.
_INSERT = ("insert into hub_case_depts (dept_suffix, case_id, district_code, is_open,"
           " list_light, list_remaining, list_case_no)"
           " select ?, id, district_code, is_open, light, remaining, case_no from hub_cases"
           " where district_code = ? and case_no = ?")


def table_ddl(postgres: bool) -> str:
    return TABLE.format(include=" include (district_code, is_open)" if postgres else "",
                        without_rowid="" if postgres else " without rowid")


def depts_changed(values: dict[str, Any], old: dict[str, Any] | None, shares_rewritten: bool
                  ) -> bool:
    """Whether the case's rows must be rewritten after its upsert (``values``: its new row)."""
    return (old is None or shares_rewritten or any(
        old[name] != values[name] for name in ("dept_suffix", "is_open", "light", "remaining")))


def dept_rows(district: str, case_no: str, lead: str, shares: list[tuple]) -> list[tuple]:
    """``_INSERT``'s parameters: the lead department, then each other one in ``shares``
    (hub/projections/shares.py rows, department code first)."""
    suffixes = dict.fromkeys([lead, *(dept_suffix(row[0], district) for row in shares)])
    return [(suffix, district, case_no) for suffix in suffixes]


def write_depts(conn, cases: list[tuple[str, str]], rows: list[tuple]) -> None:
    """Replace the rows of ``cases`` ((district, case_no), upserted already) with ``rows``."""
    run(conn, [(_DELETE, case) for case in cases])
    run(conn, [(_INSERT, row) for row in rows])
