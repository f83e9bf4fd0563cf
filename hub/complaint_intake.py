"""Complaints posted by the 12345 hotline system (``POST /api/v1/complaints``), judged per record.

The body is one JSON object or an array of up to :data:`MAX_RECORDS` of them. Each record is
judged on its own, and every message names its field in Chinese (and English), in the wording
of the box's platform API (standard/problems.py)::

    {"version": 1, "ticket_no": "12345-20261120-0007", "kind": "投诉",
     "subject": "窗口办理超时", "content": "……", "received_at": "2026-11-20T09:12:00+08:00",
     "district_code": "440605", "dept": "SCJ", "contact_name": "李四",
     "contact_phone": "13900000000", "publish": false, "case_no": "44060500000017"}

``ticket_no`` is the 12345 system's own number, unique at the hub: the same ticket posted
again with the same content is a harmless duplicate (its tracking number is answered again);
posted with different content it is a *conflict*, refused and named. ``case_no``, when given,
must be a case the hub holds (and in ``district_code``). Valid records are stored in one
transaction; the answer lists what was created, what was a duplicate, what conflicted and
what was refused, by index (hub/complaints.py for what happens next).

Example::

    status, answer = take_hotline(desk, data, b'[{"version": 1, ...}]')
    status, answer["created"][0]["tracking_no"]        # 200, 'TS20261120K7M2QX'
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.complaints import KINDS, ComplaintDesk, ComplaintError, NewComplaint
from hub.services import HubData, NotFound, Scope
from hub.services.cases import find_case
from standard.districts import DISTRICTS, known_units
from standard.fields import Code, DistrictCode, Timestamp, Version
from standard.problems import RECORD, field_problems

MAX_RECORDS = 500
ACTOR = "12345热线系统"
Text = Annotated[str, Field(min_length=1)]


class BodyError(ValueError):
    """The body is not a JSON object or array of objects at all (answered 400)."""


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


@dataclass
class IntakeResult:
    created: list[dict[str, Any]] = field(default_factory=list)
    duplicate: list[dict[str, Any]] = field(default_factory=list)
    conflicting: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        """200 when anything was taken (created or already held), 422 when nothing was."""
        return 200 if self.created or self.duplicate else 422

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": len(self.created), "duplicates": len(self.duplicate),
                "conflicts": len(self.conflicting), "created": self.created,
                "duplicate": self.duplicate, "conflicting": self.conflicting,
                "rejected": self.rejected}


def split_records(body: bytes) -> list[Any]:
    """The body's records (not yet judged); BodyError when it is not JSON, or empty."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BodyError("请求体不是 UTF-8 编码 (body is not UTF-8)") from None
    except RecursionError:
        raise BodyError("JSON 嵌套过深 (JSON nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, or a number Python will not convert
        raise BodyError(f"请求体不是有效的 JSON (invalid JSON: {exc})") from None
    records = parsed if isinstance(parsed, list) else [parsed]
    if not records:
        raise BodyError("请求体是空数组，没有可登记的投诉 (empty array)")
    if len(records) > MAX_RECORDS:
        raise BodyError(f"一次最多提交 {MAX_RECORDS} 件，请分批提交 "
                        f"(at most {MAX_RECORDS} records a request)")
    return records


def _problem(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


def judge(desk: ComplaintDesk, data: HubData, item: Any
          ) -> tuple[HotlineComplaint | None, NewComplaint | None, list[dict[str, str]]]:
    """(the record, the complaint to store, []) or (…, None, its problems by field)."""
    if not isinstance(item, dict):
        return None, None, _problem(RECORD, "记录必须是 JSON 对象 (record must be a JSON object)")
    try:
        # JSON in, JSON validated: strict types, and timestamps read as the standard writes them.
        record = HotlineComplaint.model_validate_json(json.dumps(item), strict=True)
    except ValidationError as exc:
        return None, None, field_problems(exc)
    for name, value in record:
        if isinstance(value, str) and "\x00" in value:
            return record, None, _problem(name, "不能含有空字符 (must not contain NUL)")
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
    """Judge and store a request's records; (HTTP status, answer). BodyError: answer 400."""
    result = IntakeResult()
    judged = []
    for index, item in enumerate(split_records(body)):
        record, new, problems = judge(desk, data, item)
        if problems:
            ticket = record.ticket_no if record else None
            result.rejected.append({"index": index, "ticket_no": ticket, "errors": problems})
        else:
            judged.append((index, record, new))
    if judged:
        with desk.store.transaction() as conn:
            for index, record, new in judged:
                _store(desk, conn, index, record, new, result)
    return result.status, result.as_dict()


def _store(desk: ComplaintDesk, conn, index: int, record: HotlineComplaint,
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
    result.conflicting.append({
        **answer, "fields": fields,
        "message": f"12345工单号 {record.ticket_no} 已登记（{held['tracking_no']}），本次内容不同："
                   f"{'、'.join(fields)}；同一工单不能以不同内容重复登记 (ticket already held "
                   "with different content)"})
