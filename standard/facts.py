"""A case's facts: its events folded, in the order the platform sent them, into one compact row.

The box keeps one ``CaseFacts`` per case (``cases.facts``), the hub likewise; the deadline
engine (standard/deadlines.py) judges the facts at a moment without replaying any event.
Anomalies (a stage out of order, a refusal without a reason) are recorded, never rejected. A
joint case's participating departments fold into their own shares (standard/shares.py).

Example::

    >>> event = CaseEvent.model_validate_json(
    ...     '{"event_id": "E1", "case_no": "NH1", "item_code": "440605-SCJ-001",'
    ...     ' "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",'
    ...     ' "occurred_at": "2026-11-02T09:00:00+08:00", "actor": {"id": "S1", "name": "李敏"}}')
    >>> facts = apply_event(None, event)
    >>> facts.stage, facts.accepted_on
    ('受理', datetime.date(2026, 11, 2))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field

import orjson
import pydantic_core

from standard.records import STAGE_RANK, TERMINAL_EVENTS, CaseEvent, CaseType, EventType
from standard.shares import copy_shares, fold_dispatch, fold_share_event

FACTS_VERSION = 1
CORRECTION = "补正"
_TERMINAL = frozenset(EventType(event).value for event in TERMINAL_EVENTS)
_ACCEPT_RANK = STAGE_RANK[EventType.ACCEPT.value]
_REFUSALS = frozenset({EventType.REFUSE_INTAKE.value, EventType.REFUSE_PERMIT.value})
_DISPATCH = EventType.DISPATCH.value
_FEEDBACK = EventType.FEEDBACK.value
_JOINT = CaseType.JOINT.value
_fromiso = dt.date.fromisoformat


@dataclass(slots=True)
class CaseFacts:
    """Everything the lights need about one case, folded from its events (one row per case).

    Dates in ``stage_started`` and ``pauses`` are ISO local date strings; a pause is
    ``[kind, start, end or None]`` with kind "补正" or the 特别程序 kind (e.g. "听证").
    ``shares`` holds a joint case's participating departments' shares by dept_code
    (standard/shares.py); everything else is the lead department's.
    """

    case_no: str
    item_code: str
    dept_code: str
    district_code: str
    case_type: str | None = None
    stage: str | None = None
    stage_rank: int = 0
    stage_started: dict[str, str] = field(default_factory=dict)
    accepted_on: dt.date | None = None
    pauses: list[list[str | None]] = field(default_factory=list)
    extension_days: int = 0
    fees: list[str] = field(default_factory=list)
    terminal: str | None = None
    finished_on: dt.date | None = None
    anomalies: list[str] = field(default_factory=list)
    window_no: int | None = None
    staff: str | None = None
    event_count: int = 0
    shares: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON with a version field; empty and default fields are left out.

        Written out field by field (not a loop over ``__slots__``): ingest serialises every
        touched case in every chunk, and the loop cost more than the encoding.
        """
        out: dict[str, object] = {
            "version": FACTS_VERSION, "case_no": self.case_no, "item_code": self.item_code,
            "dept_code": self.dept_code, "district_code": self.district_code,
        }
        if self.case_type is not None:
            out["case_type"] = self.case_type
        if self.stage is not None:
            out["stage"] = self.stage
        if self.stage_rank:
            out["stage_rank"] = self.stage_rank
        if self.stage_started:
            out["stage_started"] = self.stage_started
        if self.accepted_on is not None:
            out["accepted_on"] = self.accepted_on.isoformat()
        if self.pauses:
            out["pauses"] = self.pauses
        if self.extension_days:
            out["extension_days"] = self.extension_days
        if self.fees:
            out["fees"] = self.fees
        if self.terminal is not None:
            out["terminal"] = self.terminal
        if self.finished_on is not None:
            out["finished_on"] = self.finished_on.isoformat()
        if self.anomalies:
            out["anomalies"] = self.anomalies
        if self.window_no:
            out["window_no"] = self.window_no
        if self.staff is not None:
            out["staff"] = self.staff
        if self.event_count:
            out["event_count"] = self.event_count
        if self.shares:
            out["shares"] = self.shares
        return _dumps(out)

    @classmethod
    def from_json(cls, text: str) -> CaseFacts:
        """Inverse of ``to_json``."""
        raw = _loads(text)
        version = raw.pop("version", None)
        if version != FACTS_VERSION:
            raise ValueError(f"case facts version {version!r} is not supported (expected 1)")
        for name in ("accepted_on", "finished_on"):
            if name in raw:
                raw[name] = _fromiso(raw[name])
        return cls(**raw)

    def copy(self) -> CaseFacts:
        """A copy whose lists and dict can be changed without touching this one."""
        return CaseFacts(
            self.case_no, self.item_code, self.dept_code, self.district_code, self.case_type,
            self.stage, self.stage_rank, self.stage_started.copy(), self.accepted_on,
            [pause.copy() for pause in self.pauses] if self.pauses else [],
            self.extension_days, self.fees.copy(), self.terminal, self.finished_on,
            self.anomalies.copy(), self.window_no, self.staff, self.event_count,
            copy_shares(self.shares) if self.shares else {},
        )


def _dumps(value: dict[str, object]) -> str:
    # orjson writes the same compact UTF-8 JSON as json.dumps(ensure_ascii=False,
    # separators=(",", ":")), several times faster: ingest writes every case it touches.
    return orjson.dumps(value).decode("utf-8")


# pydantic's parser (already a dependency) reads facts three times faster than json.loads;
# a full rule pass parses every open case.
_loads = pydantic_core.from_json


def _flag(facts: CaseFacts, reason: str) -> None:
    if reason not in facts.anomalies:
        facts.anomalies.append(reason)


def _open_pause(facts: CaseFacts, kind: str) -> list[str | None] | None:
    for pause in facts.pauses:
        if pause[0] == kind and pause[2] is None:
            return pause
    return None


def _is_share_event(facts: CaseFacts, event: CaseEvent, kind: str,
                    joint: Collection[str]) -> bool:
    """True when the event belongs to a participating department's share of a joint case.

    That is an event of another department than the lead's, which the catalogue lists for the
    item (``joint``), or which the lead sent the case to, or which answers (反馈), or any other
    department's event on a case reported as 联办件.
    """
    dept = event.dept_code
    return dept != facts.dept_code and (
        dept in joint or dept in facts.shares or kind == _FEEDBACK
        or facts.case_type == _JOINT)


def apply_event(facts: CaseFacts | None, event: CaseEvent,
                joint: Collection[str] = (), *, in_place: bool = False) -> CaseFacts:
    """Fold one event into a copy of ``facts`` (None for a case's first event).

    Events are taken in the order the platform sent them. Anomalies are recorded, never
    rejected; fees are judged later, by ``evaluate``, against the catalogue. ``joint`` is the
    item's participating department codes (``standard.shares.participants``): their events go
    to their own shares, in parallel with the lead's stages. ``in_place``: change ``facts``
    itself (ingest folds a batch into facts it owns: a copy per event cost a tenth of its time).
    """
    if facts is None:
        facts = CaseFacts(event.case_no, event.item_code, event.dept_code, event.district_code)
    elif facts.case_no != event.case_no:
        raise ValueError(f"event {event.event_id} is for case {event.case_no}, not {facts.case_no}")
    elif not in_place:
        facts = facts.copy()
    kind = str(event.event_type)
    day = event.local_date
    facts.event_count += 1
    if facts.case_type is None and event.case_type is not None:
        facts.case_type = str(event.case_type)
    if kind == EventType.FEE.value:
        facts.fees.append(str(event.fee_amount))
    if (facts.shares or joint or facts.case_type == _JOINT or kind == _FEEDBACK) and \
            _is_share_event(facts, event, kind, joint):
        fold_share_event(facts.shares, event, kind, day.isoformat(),
                         facts.accepted_on is not None)
        return facts
    facts.staff = event.actor.id
    if event.window_no is not None:
        facts.window_no = event.window_no
    if facts.terminal is not None:
        _flag(facts, f"程序异常：办结后仍有{kind}")
        return facts

    rank = STAGE_RANK.get(kind)
    if rank is not None:
        if rank <= facts.stage_rank:
            _flag(facts, f"程序异常：{kind}在{facts.stage}之后上报")
        else:
            if rank > _ACCEPT_RANK and facts.accepted_on is None:
                _flag(facts, f"程序异常：未受理即{kind}")
            if rank == _ACCEPT_RANK:
                facts.accepted_on = day
            facts.stage, facts.stage_rank = kind, rank
            facts.stage_started[kind] = day.isoformat()
    elif kind in (EventType.CORRECTION_START.value, EventType.SPECIAL_START.value):
        pause_kind = CORRECTION if kind == EventType.CORRECTION_START.value else str(event.procedure_kind)
        if _open_pause(facts, pause_kind) is None:  # a repeated start keeps the first
            facts.pauses.append([pause_kind, day.isoformat(), None])
    elif kind in (EventType.CORRECTION_END.value, EventType.SPECIAL_END.value):
        pause_kind = CORRECTION if kind == EventType.CORRECTION_END.value else str(event.procedure_kind)
        pause = _open_pause(facts, pause_kind)
        if pause is None:
            _flag(facts, f"程序异常：{kind}没有对应的开始")
        else:
            pause[2] = day.isoformat()
    elif kind == EventType.EXTENSION.value:
        facts.extension_days += event.extension_days or 0
    elif kind in _REFUSALS and not event.reason:
        _flag(facts, f"无理由拒绝：{kind}未说明理由")
    elif kind == _DISPATCH and event.to_dept_code != facts.dept_code:
        fold_dispatch(facts.shares, event.to_dept_code, day.isoformat())

    if kind in _TERMINAL:
        facts.terminal = kind
        facts.finished_on = day
    return facts
