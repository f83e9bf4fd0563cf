"""A rule pass's plan: what its findings change in the stored alerts.

The engine (edge/supervision/rules.py) judges the cases in scope, reads their stored alerts
(``existing_alerts``) and compares the two (``diff``): a finding with no alert opens one, a
resolved alert reopens, a withdrawn one is found anew (edge/supervision/withdrawal.py), a
cleared one recurs, and an active alert whose condition is gone is cleared. The engine then
writes the plan in one transaction; ``CLEARED`` says how each cleared alert ends.

Example::

    plan = PassPlan()
    with store.read() as db:
        diff(plan, findings, existing_alerts(db.conn, {"A1"}), {"A1"})
    plan.open    # the findings that open an alert
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from edge.storetx import Tx
from edge.supervision.alerts import ACTIVE_STATES, LIVE_ALERT, Finding, alert_row
from edge.supervision.withdrawal import Withdrawal
from standard.supervision import WITHDRAWN


@dataclass
class PassPlan:
    open: list[Finding] = field(default_factory=list)
    reopen: list[Finding] = field(default_factory=list)
    recur: list[int] = field(default_factory=list)
    clear: list[int] = field(default_factory=list)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # case_no -> (district, item)
    marks: list[int] = field(default_factory=list)  # the waiting marks this pass judges
    verdicts: list[tuple] = field(default_factory=list)  # open cases judged anew, to remember
    forget: list[str] = field(default_factory=list)  # finished cases: no verdict to remember
    withdraw: list[Withdrawal] = field(default_factory=list)  # disproven (withdrawal.py)
    renew: list[Finding] = field(default_factory=list)  # found again after a withdrawal

    def __bool__(self) -> bool:
        return bool(self.open or self.reopen or self.recur or self.clear or self.withdraw)


# How a pass clears an alert whose condition is gone: (action, note, other columns), by
# whether it resolves by itself (a yellow light, a configuration gap) or waits for people.
CLEARED = {True: ("resolve", "预警情形已消除", {"state": "resolved"}),
           False: ("clear", "情形已消除，仍需说明理由并办结", {})}


def existing_alerts(conn: sqlite3.Connection,
                    case_nos: set[str] | None) -> dict[tuple[str, str], tuple]:
    """The stored alerts of the cases in scope (None: every open case, and 重点监察's), by
    (subject, rule): ``(id, state, cleared_at, case_no)``."""
    sql = "select subject, rule, id, state, cleared_at, case_no from alerts"
    last = " order by state <> 'withdrawn', id"  # a key's live alert, else its last withdrawn
    if case_nos is None:
        # The pass over open cases finds and clears only theirs (and 重点监察's): the alerts
        # of a long finished history are no business of it.
        # Each alert looks its case up (the next day: 21,000 lookups) rather than SQLite
        # first building a temporary index of all 100,000 open case numbers.
        rows = conn.execute(sql + " a where exists (select 1 from cases c where c.case_no ="
                            " a.case_no and c.is_open = 1) or subject like 'dept:%'" + last)
    else:
        rows = conn.execute(sql + " where case_no in (select value from json_each(?))" + last,
                            (json.dumps(sorted(case_nos)),))
    return {(s, r): (i, state, cleared, case_no) for s, r, i, state, cleared, case_no in rows}


def live_alert_row(tx: Tx, finding: Finding) -> dict | None:
    """The live alert for the finding's (subject, rule), or None."""
    found = tx.conn.execute(LIVE_ALERT, (finding.subject, finding.rule)).fetchone()
    return alert_row(tx.conn, found[0]) if found else None


def diff(plan: PassPlan, findings: dict, existing: dict, evaluated: set[str] | None) -> None:
    """Compare this pass's findings with the stored alerts; fills ``plan``. ``evaluated``:
    the cases judged, or None for every open case (``existing_alerts`` then reads only theirs)."""
    for key, finding in findings.items():
        known = existing.get(key)
        if known is None:
            plan.open.append(finding)
        elif known[1] == "resolved":
            plan.reopen.append(finding)
        elif known[1] == WITHDRAWN:
            plan.renew.append(finding)
        elif known[1] in ACTIVE_STATES and known[2]:
            plan.recur.append(known[0])
    for key, (alert_id, state, cleared_at, case_no) in existing.items():
        judged = case_no is not None if evaluated is None else case_no in evaluated
        if (judged and key not in findings and state in ACTIVE_STATES
                and not cleared_at):
            plan.clear.append(alert_id)
