"""Complaints posted by the 12345 hotline system (``POST /api/v1/complaints``), judged per record.

The body is one JSON object, a JSON array or NDJSON (split on ``\\n`` only) of up to
:data:`MAX_RECORDS` records, cut into records as they were sent by standard/bodies.py (the
box's intakes do the same). Each record is judged on its own: one that is not UTF-8, nests too
deep, holds a huge number or a lone surrogate, fails validation or cannot be stored is refused
by its index, every message naming its field in Chinese (and English, standard/problems.py),
and kept in the ``complaint_quarantine`` table with its raw form (hub/complaint_quarantine.py)::

    {"version": 1, "ticket_no": "12345-20261120-0007", "kind": "投诉",
     "subject": "窗口办理超时", "content": "……", "received_at": "2026-11-20T09:12:00+08:00",
     "district_code": "440605", "dept": "SCJ", "contact_name": "李四",
     "contact_phone": "13900000000", "publish": false, "case_no": "44060500000017"}

``ticket_no`` is the 12345 system's own number, unique at the hub: the same ticket posted
again with the same content is a harmless duplicate (its tracking number is answered again);
posted with different content it is a *conflict*, refused, named and quarantined, and opens the
data-quality alert 数据冲突 in the same transaction (hub/complaint_conflicts.py). ``case_no``,
when given, must be a case the hub holds (and in ``district_code``). The valid records and the
quarantine rows are stored in one transaction: a request is wholly committed or wholly refused,
so the 12345 system's retry of the same body is harmless. The answer lists what was created,
what was a duplicate, what conflicted and what was refused, by index (hub/complaints.py for
what happens next).

Example::

    status, answer = take_hotline(desk, data, b'[{"version": 1, ...}]')
    status, answer["created"][0]["tracking_no"]        # 200, 'TS20261120K7M2QX'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub import complaint_conflicts, complaint_quarantine
from hub.complaints import KINDS, ComplaintDesk, ComplaintError, NewComplaint
from hub.services import HubData, NotFound, Scope
from hub.services.cases import find_case
from standard.districts import DISTRICTS, known_units
from standard.bodies import BodyError, RawRecord, Rejection, encodes, judge_record, split_body
from standard.fields import Code, DistrictCode, Timestamp, Version
from standard.problems import RECORD

log = logging.getLogger(__name__)

MAX_RECORDS = 500
ACTOR = "12345热线系统"
CONFLICT_REASON = "与已接收记录内容不同"
Text = Annotated[str, Field(min_length=1)]

__all__ = ["MAX_RECORDS", "BodyError", "TooManyRecords", "take_hotline"]


class TooManyRecords(ValueError):
    """More than MAX_RECORDS records in one request (answered 413, nothing stored)."""


class HotlineComplaint(BaseModel):
    """One 12345 ticket as the hotline system sends it."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    version: Version
    ticket_no: Code
    kind: Literal[KINDS]  # type: ignore[valid-type]
    subject: Annotated[Text, Field(max_length=100)]
    content: Annotated[Text, Field(max_length=4000)]
    received_at: Timestamp
    district_code: DistrictCode | None = None
    dept: Annotated[Code, Field(max_length=32)] | None = None
    contact_name: Annotated[str, Field(max_length=50)] | None = None
    contact_phone: Annotated[str, Field(max_length=30)] | None = None
    publish: bool = False
    case_no: Code | None = None


# Fields a later step on the complaint never changes: a re-post is compared on these.
_KEPT = {"kind": "kind", "subject": "subject", "content": "content",
         "contact_name": "contact_name", "contact_phone": "contact_phone",
         "received_at": "received_at", "publish": "publish_ok"}


_validate_json = HotlineComplaint.__pydantic_validator__.validate_json


@dataclass
class IntakeResult:
    created: list[dict[str, Any]] = field(default_factory=list)
    duplicate: list[dict[str, Any]] = field(default_factory=list)
    conflicting: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[Rejection] = field(default_factory=list)
    alerting: list[tuple[str, str, str]] = field(default_factory=list)  # conflicts' alert

    @property
    def status(self) -> int:
        """200 when anything was taken (created or already held), 422 when nothing was."""
        return 200 if self.created or self.duplicate else 422

    def refuse(self, rejection: Rejection, ticket_no: str | None) -> None:
        self.rejected.append({"index": rejection.index, "ticket_no": ticket_no,
                              "errors": rejection.errors})
        self.quarantine.append(rejection)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": len(self.created), "duplicates": len(self.duplicate),
                "conflicts": len(self.conflicting), "quarantined": len(self.quarantine),
                "created": self.created, "duplicate": self.duplicate,
                "conflicting": self.conflicting, "rejected": self.rejected}


def split_records(body: bytes) -> list[RawRecord]:
    """The body's records, each as sent (not yet judged).

    BodyError when the body cannot be cut into records (not JSON, empty), TooManyRecords
    above MAX_RECORDS.
    """
    records = split_body(body, single_object=True)
    if not records:
        raise BodyError("请求体是空数组，没有可登记的投诉 (empty array)")
    if len(records) > MAX_RECORDS:
        raise TooManyRecords(f"一次最多提交 {MAX_RECORDS} 件（本次 {len(records)} 件），请分批提交"
                             f"，本次均未登记 (at most {MAX_RECORDS} records a request; nothing "
                             "was stored)")
    return records


def _problem(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


def judge(desk: ComplaintDesk, data: HubData, index: int, raw: str | bytes
          ) -> tuple[HotlineComplaint | None, NewComplaint | None, list[dict[str, str]]]:
    """(the record, the complaint to store, []) or (…, None, its problems by field).

    Never raises for anything the 12345 system can put in a record.
    """
    outcome = judge_record(index, raw, _validate_json)
    if isinstance(outcome, Rejection):
        return None, None, outcome.errors
    try:
        return _check(desk, data, outcome)
    except Exception as exc:  # a bug in a check: refuse this record, keep the others
        log.exception("12345 record %s could not be judged", index)
        return outcome, None, _problem(RECORD, f"记录无法处理 (cannot be processed: "
                                               f"{type(exc).__name__})")


def _check(desk: ComplaintDesk, data: HubData, record: HotlineComplaint
           ) -> tuple[HotlineComplaint, NewComplaint | None, list[dict[str, str]]]:
    for name, value in record:
        if isinstance(value, str) and "\x00" in value:
            return record, None, _problem(name, "不能含有空字符 (must not contain NUL)")
        if isinstance(value, str) and not encodes(value):
            return record, None, _problem(name, "含有无法编码的字符（单独的代理项，如 \\ud800）"
                                                "(holds a lone surrogate, which UTF-8 cannot "
                                                "encode)")
    if record.district_code and record.district_code not in DISTRICTS:
        return record, None, _problem("district_code", f"区代码 {record.district_code} 不存在"
                                      f"（可选：{known_units()}）(unknown district)")
    if record.dept and record.dept not in desk.known_depts():
        return record, None, _problem("dept", f"部门 {record.dept} 不在事项目录中，应为部门代码"
                                      "（不带区代码），如 SCJ (unknown department)")
    district, dept = record.district_code, record.dept
    if record.case_no:
        try:
            case = find_case(data, Scope.district(district) if district else Scope.city(),
                             record.case_no)
        except NotFound:
            where = f"{DISTRICTS[district]}的" if district else ""
            return record, None, _problem("case_no", f"办件编号 {record.case_no} 不是{where}"
                                          "已报送到市级平台的办件，请核对 (unknown case)")
        district, dept = case["district_code"], dept or case["dept_suffix"]
    new = NewComplaint(record.kind, record.subject, record.content, district, dept,
                       record.contact_name, record.contact_phone, channel="hotline",
                       publish_ok=record.publish, ticket_no=record.ticket_no,
                       received_at=record.received_at.astimezone(dt.timezone.utc).isoformat())
    try:
        return record, desk.checked(new), []
    except ComplaintError as exc:
        return record, None, _problem(RECORD, str(exc))


def digest(new: NewComplaint, case_no: str | None) -> str:
    """The fingerprint of what was posted: a re-post with the same one is a duplicate."""
    doc = json.dumps([new.kind, new.subject, new.content, new.district, new.dept,
                      new.contact_name, new.contact_phone, new.received_at, new.publish_ok,
                      case_no], ensure_ascii=False)
    return "sha256:" + hashlib.sha256(doc.encode("utf-8")).hexdigest()


def _differing(held: dict[str, Any], new: NewComplaint, case_no: str | None) -> list[str]:
    """The posted fields that differ from the held complaint (those later steps never change)."""
    names = [name for name, column in _KEPT.items()
             if held[column] != (int(new.publish_ok) if name == "publish"
                                 else getattr(new, name))]
    return names or ["district_code", "dept", "case_no"]


def take_hotline(desk: ComplaintDesk, data: HubData, body: bytes) -> tuple[int, dict[str, Any]]:
    """Judge and store a request's records; (HTTP status, answer).

    Raises BodyError (answer 400; the body is kept in quarantine whole) or TooManyRecords
    (413). A failure of the store itself raises and commits nothing of the request.
    """
    at = desk.now()[0]
    try:
        records = split_records(body)
    except BodyError as exc:
        complaint_quarantine.keep_body(desk.store, at, body, str(exc))
        raise
    result = IntakeResult()
    judged = []
    for index, raw in records:
        record, new, problems = judge(desk, data, index, raw)
        if problems:
            result.refuse(Rejection(index, problems, raw), record.ticket_no if record else None)
        else:
            judged.append((index, raw, record, new))
    with desk.store.transaction() as conn:
        for index, raw, record, new in judged:
            _store_alone(desk, conn, index, raw, record, new, result)
        complaint_quarantine.keep(conn, at, result.quarantine)
        complaint_conflicts.raise_conflicts(conn, at, result.alerting)  # 数据冲突, told
    return result.status, result.as_dict()


def _store_alone(desk: ComplaintDesk, conn, index: int, raw: str, record: HotlineComplaint,
                 new: NewComplaint, result: IntakeResult) -> None:
    """Store one record under a savepoint: if it cannot be stored, it alone is refused."""
    conn.execute("savepoint hotline_record")
    try:
        _store(desk, conn, index, raw, record, new, result)
    except Exception as exc:  # noqa: BLE001 - whatever it is, this record cannot be kept
        conn.execute("rollback to savepoint hotline_record")  # if this fails: refuse it all
        log.exception("12345 record %s (ticket %s) could not be stored", index, record.ticket_no)
        result.refuse(Rejection(index, _problem(RECORD, f"记录无法存储 (cannot be stored: "
                                                        f"{type(exc).__name__})"), raw),
                      record.ticket_no)
    conn.execute("release savepoint hotline_record")


def _store(desk: ComplaintDesk, conn, index: int, raw: str, record: HotlineComplaint,
           new: NewComplaint, result: IntakeResult) -> None:
    fingerprint = digest(new, record.case_no)
    note = f"12345工单 {record.ticket_no}" + (f"，办件 {record.case_no}" if record.case_no else "")
    complaint_id, number = desk.insert(conn, new, actor=ACTOR, action="enter", note=note,
                                       ticket_digest=fingerprint)
    answer = {"index": index, "ticket_no": record.ticket_no}
    if complaint_id:
        if record.case_no:
            conn.execute("update complaints set case_no = ? where id = ?",
                         (record.case_no, complaint_id))
        result.created.append({**answer, "tracking_no": number})
        return
    held = dict(zip(("tracking_no", "ticket_digest", *_KEPT.values()), conn.execute(
        f"select tracking_no, ticket_digest, {', '.join(_KEPT.values())} from complaints"
        " where ticket_no = ?", (record.ticket_no,)).fetchone()))
    if held["ticket_digest"] == fingerprint:
        result.duplicate.append({**answer, "tracking_no": held["tracking_no"]})
        return
    fields = _differing(held, new, record.case_no)
    message = (f"{CONFLICT_REASON}：12345工单号 {record.ticket_no} 已登记（{held['tracking_no']}），"
               f"本次内容不同：{'、'.join(fields)}；同一工单不能以不同内容重复登记 (ticket already "
               "held with different content)")
    result.conflicting.append({**answer, "fields": fields, "message": message})
    result.quarantine.append(Rejection(index, _problem("ticket_no", message), raw))
    result.alerting.append((new.district or "", record.ticket_no, held["tracking_no"]))
