"""Cases with their deadlines and lights, as of a moment the caller chooses.

The store keeps one folded :class:`CaseFacts` per case, so a board of 100,000 cases is one
query plus the deadline engine; no events are replayed.

Example::

    board = CaseBoard(store, catalogue, WorkCalendar(), LightSettings())
    for row in board.cases(at=datetime.now(timezone.utc)):
        print(row.case_no, row.light, row.reasons)
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from edge.store import Store
from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, CaseStatus, LightSettings, evaluate_on, local_day
from standard.records import CatalogueItem
from standard.shares import ShareStatus

LIGHT_NAMES = {"green": "绿灯", "yellow": "黄灯", "red": "红灯", "unknown": "无法判断"}
OUTCOME_NAMES = {"early": "提前办结", "on_time": "按时办结", "late": "超期办结"}


@dataclass(frozen=True)
class CaseFilter:
    dept_code: str | None = None
    item_code: str | None = None
    light: str | None = None
    stage: str | None = None
    include_finished: bool = False
    text: str | None = None  # search: part of a case number or item, or a staff id or name


@dataclass
class CaseRow:
    case_no: str
    item_code: str
    item_name: str | None
    dept_code: str
    case_type: str | None
    stage: str | None
    deadline: dt.date | None
    remaining_working_days: int | None
    light: str
    reasons: list[str]
    error: str | None
    outcome: str | None
    # A joint case's participating departments (standard/shares.py ShareStatus), each with its
    # own deadline, remaining days, light and state; the fields above are the lead's own.
    departments: list[ShareStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; ``departments`` (dept_code, deadline, remaining_working_days, light,
        state ...) only for a joint case."""
        data = asdict(self)
        data["deadline"] = self.deadline.isoformat() if self.deadline else None
        data.pop("departments")
        if self.departments:
            data["departments"] = [share.to_dict() for share in self.departments]
        return data


class CaseBoard:
    """Reads cases from the store and evaluates them with the shared deadline engine."""

    def __init__(self, store: Store, catalogue: dict[str, CatalogueItem],
                 calendar: WorkCalendar, settings: LightSettings):
        self.store = store
        self.catalogue = catalogue
        self.calendar = calendar
        self.settings = settings

    def evaluate(self, facts: CaseFacts, at: dt.datetime) -> CaseStatus:
        """The case judged at the aware moment ``at``."""
        return self.status(facts, local_day(at))

    def status(self, facts: CaseFacts, day: dt.date) -> CaseStatus:
        """The case judged on the hall's local ``day`` (passes over many cases use this)."""
        item = self.catalogue.get(facts.item_code)
        return evaluate_on(facts, item, self.calendar, day, self.settings)

    def cases(self, at: dt.datetime, where: CaseFilter = CaseFilter()) -> list[CaseRow]:
        """Cases matching ``where`` (open ones unless include_finished), most urgent first."""
        clauses, params = [], []
        if not where.include_finished:
            clauses.append("is_open = 1")
        for column in ("item_code", "stage"):
            value = getattr(where, column)
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.dept_code:  # the department leads the case or takes part in it (联办件)
            joint = [code for code, item in self.catalogue.items()
                     if any(d.dept_code == where.dept_code for d in item.joint_depts)]
            clauses.append("(dept_code = ? or item_code in (select value from json_each(?))"
                           " or exists (select 1 from json_each(facts, '$.shares')"
                           " where key = ?))")
            params += [where.dept_code, json.dumps(joint), where.dept_code]
        sql = "select facts from cases"
        if clauses:
            sql += " where " + " and ".join(clauses)
        with self.store.read() as db:
            texts = [row[0] for row in db.conn.execute(sql, params)]
        rows = [self._row(CaseFacts.from_json(text), at) for text in texts]
        if where.light:
            rows = [row for row in rows if row.light == where.light]
        rows.sort(key=_urgency)
        return rows

    def case(self, case_no: str, at: dt.datetime) -> tuple[CaseRow, list[dict[str, Any]]] | None:
        """One case's row and its full event timeline, or None."""
        with self.store.read() as db:
            found = db.conn.execute("select facts from cases where case_no = ?",
                                    (case_no,)).fetchone()
            if found is None:
                return None
            events = [json.loads(body) for (body,) in db.conn.execute(
                "select body from case_events where case_no = ? order by rowid", (case_no,))]
        return self._row(CaseFacts.from_json(found[0]), at), events

    def _row(self, facts: CaseFacts, at: dt.datetime) -> CaseRow:
        status = self.evaluate(facts, at)
        item = self.catalogue.get(facts.item_code)
        return CaseRow(
            case_no=facts.case_no, item_code=facts.item_code,
            item_name=item.name if item else None, dept_code=facts.dept_code,
            case_type=facts.case_type or (item.case_type if item else None),
            stage=facts.stage, deadline=status.deadline,
            remaining_working_days=status.remaining_working_days, light=status.light,
            reasons=status.reasons, error=status.error, outcome=status.outcome,
            departments=status.departments)


_LIGHT_ORDER = {"red": 0, "unknown": 1, "yellow": 2, "green": 3}


def _urgency(row: CaseRow) -> tuple:
    remaining = row.remaining_working_days
    return (row.outcome is not None, _LIGHT_ORDER.get(row.light, 9),
            remaining if remaining is not None else 10**6, row.case_no)
