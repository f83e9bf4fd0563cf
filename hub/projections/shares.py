"""Joint cases (联办件) at the hub: each participating department's share of a case.

``hub_case_shares`` holds one row per case and participating department, judged with the box's
own engine (standard/shares.py): its limit, start, deadline, remaining working days, 反馈, light
and state. It is rewritten with its case (hub/projections/cases.py) and, for open cases, by the
lights refresher; scoping reads it so that a co-department sees the joint cases it takes part in
(hub/services/cases.py), and the city's 督办 may target any department listed here.

Example::

    rows = share_rows(status)                    # from evaluate(...).departments
    write_shares(conn, "440605", "NH2026110005", rows)
"""

from __future__ import annotations

from typing import Any

from hub.units import dept_suffix
from standard.deadlines import CaseStatus

# Created by migration 5 (hub/storage/migrations.py).
SCHEMA = """
create table if not exists hub_case_shares (
    district_code text not null, case_no text not null, dept_code text not null,
    dept_suffix text not null, days integer, started_on text, back_on text, deadline text,
    remaining integer, light text not null, state text not null, reasons text not null,
    primary key (district_code, case_no, dept_code));
create index if not exists hub_case_shares_dept on hub_case_shares(dept_suffix, district_code);
"""
COLUMNS = ("dept_code", "days", "started_on", "back_on", "deadline", "remaining", "light",
           "state", "reasons")


def share_rows(status: CaseStatus) -> list[tuple]:
    """The case's shares as rows of ``COLUMNS`` (comparable, so unchanged ones are not written)."""
    rows = []
    for share in status.departments:
        data = share.to_dict()
        rows.append((share.dept_code, share.days, data["started_on"], data["back_on"],
                     data["deadline"], share.remaining_working_days, share.light, share.state,
                     "；".join(share.reasons)))
    return rows


def write_shares(conn, district: str, case_no: str, rows: list[tuple]) -> None:
    """Replace the case's share rows with ``rows``."""
    conn.execute("delete from hub_case_shares where district_code = ? and case_no = ?",
                  (district, case_no))
    if rows:
        conn.executemany(
            "insert into hub_case_shares (district_code, case_no, dept_suffix,"
            f" {', '.join(COLUMNS)}) values (?, ?, ?, {', '.join('?' * len(COLUMNS))})",
            [(district, case_no, dept_suffix(row[0], district), *row) for row in rows])


def read_shares(query, district: str, case_no: str) -> list[dict[str, Any]]:
    """The case's shares as the pages show them (``query`` is HubData.query or store.query)."""
    return query(f"select {', '.join(COLUMNS)}, dept_suffix from hub_case_shares"
                 " where district_code = ? and case_no = ? order by dept_code",
                 (district, case_no))
