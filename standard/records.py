"""The city's data-exchange standard, version 1: the records district platforms send.

Every model forbids unknown fields, so a misspelt field name is an error, never a silent
default. ``docs/standard/`` holds the JSON Schema generated from these models
(``python -m standard.schema``).

Example::

    >>> event = CaseEvent.model_validate({
    ...     "event_id": "NH-0001", "case_no": "NH2026000001", "item_code": "440605-JY-001",
    ...     "dept_code": "NHSCJ", "district_code": "440605", "event_type": "受理",
    ...     "occurred_at": "2026-11-02T09:15:00+08:00",
    ...     "actor": {"id": "S017", "name": "李敏"}})
    >>> event.stage_rank
    2
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import (BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from standard.fields import (Code, DistrictCode, FeeAmount, LongText, ShortText, Timestamp,
                             Version, WholeNumber,
                             whole_between)

STANDARD_VERSION = 1
# Transport limits of the standard (the box's web app and ingest take them from here).
MAX_BODY_BYTES = 32 * 1024 * 1024  # one request
# One record's JSON text, checked before parsing: any schema-valid record written without
# whitespace outside strings fits, even with every character \u-escaped.
MAX_RECORD_CHARS = 64_000
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


class EventType(str, Enum):
    """Case event types (办件过程记录的事件类型)."""

    APPLY = "申请"
    ACCEPT = "受理"
    UNDERTAKE = "承办"
    REVIEW = "审核"
    APPROVE = "批准"
    FINISH = "办结"
    CORRECTION_START = "补正开始"
    CORRECTION_END = "补正结束"
    SPECIAL_START = "特别程序开始"
    SPECIAL_END = "特别程序结束"
    EXTENSION = "延期"
    REFUSE_INTAKE = "不予受理"
    REFUSE_PERMIT = "不予许可"
    WITHDRAW = "退回"
    FEE = "收费"
    # Joint cases (联办件, additive to version 1): the lead department sends the case to a
    # participating department (分送), which returns its opinion (反馈).
    DISPATCH = "分送"
    FEEDBACK = "反馈"


# The main stages in their statutory order: a platform may skip some but never go back.
STAGES: tuple[EventType, ...] = (
    EventType.APPLY,
    EventType.ACCEPT,
    EventType.UNDERTAKE,
    EventType.REVIEW,
    EventType.APPROVE,
    EventType.FINISH,
)
STAGE_RANK: dict[str, int] = {stage.value: rank for rank, stage in enumerate(STAGES, start=1)}
# Events that end a case (plain strings: models keep enum values, and a str-Enum member
# does not hash like its value).
TERMINAL_EVENTS = frozenset(
    e.value
    for e in (EventType.FINISH, EventType.REFUSE_INTAKE, EventType.REFUSE_PERMIT, EventType.WITHDRAW)
)


class ProcedureKind(str, Enum):
    """特别程序 kinds."""

    HEARING = "听证"
    BIDDING = "招标"
    AUCTION = "拍卖"
    INSPECTION = "检验"
    TESTING = "检测"
    QUARANTINE = "检疫"
    APPRAISAL = "鉴定"
    EXPERT_REVIEW = "专家评审"


class CaseType(str, Enum):
    """六件: the six case types."""

    IMMEDIATE = "即办件"
    COMMITTED = "承诺件"
    JOINT = "联办件"
    FORWARDED = "上报件"
    SUPPLEMENT = "补办件"
    ANSWER = "答复件"


# A field that some event types need and no other type may carry (an explicit null counts as
# absent). The box checks this table and the published schema states it as if/then rules.
FIELDS_FOR_EVENTS: dict[str, tuple[str, ...]] = {
    "procedure_kind": (EventType.SPECIAL_START.value, EventType.SPECIAL_END.value),
    "extension_days": (EventType.EXTENSION.value,),
    "fee_amount": (EventType.FEE.value,),
    "to_dept_code": (EventType.DISPATCH.value,),
}


class Strict(BaseModel):
    """Base for every standard model: unknown fields and loose types are errors.

    Validate from JSON text (``model_validate_json``): strict mode then still reads ISO
    timestamps and decimal strings, but refuses "3" for a number or a number for a time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True, strict=True)


class Actor(Strict):
    """The staff member who performed a step."""

    id: Code
    name: ShortText


class CaseEvent(Strict):
    """办件过程记录: one stage or side event of a case, as the district platform reports it."""

    version: Version = 1
    event_id: Code = Field(description="Unique per platform; re-sending the same id is harmless.")
    case_no: Code = Field(description="办件编号")
    item_code: Code = Field(description="事项编码, from the item catalogue")
    dept_code: Code
    district_code: DistrictCode = Field(description="e.g. 440605 南海区")
    event_type: EventType
    procedure_kind: ProcedureKind | None = Field(
        default=None, validate_default=True, description="Required for 特别程序开始/结束."
    )
    extension_days: whole_between(1, 365) | None = Field(
        default=None, validate_default=True, description="Required for 延期: working days added."
    )
    occurred_at: Timestamp
    actor: Actor
    window_no: whole_between(1, 999) | None = None
    reason: LongText | None = Field(
        default=None, description="Expected for 不予受理/不予许可; without it the case is flagged.")
    fee_amount: FeeAmount | None = Field(
        default=None, validate_default=True, description="Required for 收费.")
    case_type: CaseType | None = Field(default=None, description="Optional, on the first event.")
    to_dept_code: Code | None = Field(
        default=None, validate_default=True,
        description="Required for 分送: the participating department (联办件).",
    )

    @field_validator(*FIELDS_FOR_EVENTS)
    @classmethod
    def _only_for_its_events(cls, value: object, info: ValidationInfo) -> object:
        # Fields are declared after event_type, so it is in info.data once it is valid.
        kind = info.data.get("event_type")
        if kind is None:
            return value
        kinds = FIELDS_FOR_EVENTS[info.field_name]
        if value is None and kind in kinds:
            raise PydanticCustomError("required_for_event", "{field} is required for {kind}",
                                      {"field": info.field_name, "kind": kind})
        if value is not None and kind not in kinds:
            raise PydanticCustomError("only_for_event", "{field} is only for {kinds}, not {kind}",
                                      {"field": info.field_name, "kind": kind,
                                       "kinds": "/".join(kinds)})
        return value

    @property
    def stage_rank(self) -> int | None:
        """Position of a main stage (申请=1 … 办结=6), None for side events."""
        return STAGE_RANK.get(self.event_type)

    @property
    def local_date(self) -> dt.date:
        """The day this happened in the hall's time zone (+08:00)."""
        return self.occurred_at.astimezone(LOCAL_TZ).date()


def _rule(field: str, chinese: str, english: str) -> PydanticCustomError:
    """A rule across fields of one item; ``field`` names where the fix goes."""
    return PydanticCustomError("item_rule", english, {"field": field, "chinese": chinese})


class JointDept(Strict):
    """A participating department of a 联办件 item and its own limit."""

    dept_code: Code
    dept_name: ShortText
    days: whole_between(1, 365) = Field(
        description="This department's limit, working days")


class CatalogueItem(Strict):
    """事项目录: one administrative item, the 六公开 content and the limits the rules use."""

    item_code: Code
    name: ShortText
    dept_code: Code
    dept_name: ShortText
    legal_days: whole_between(0, 365) = Field(
        description="法定时限, working days")
    promised_days: whole_between(0, 365) = Field(
        description="承诺时限, working days")
    stage_days: dict[EventType, WholeNumber] = Field(
        default_factory=dict, description="Per-stage limit in working days."
    )
    fee_yuan: Annotated[str, Field(pattern=r"^[0-9]{1,9}\.[0-9]{2}$")] = Field(
        description='Standard fee, a decimal string; "0.00" when free.'
    )
    case_type: CaseType
    materials: list[LongText] = Field(default_factory=list)
    legal_basis: LongText
    joint_depts: list[JointDept] = Field(
        default_factory=list, max_length=50,
        description="联办件 only: the participating departments; dept_code is the lead (牵头部门).",
    )

    @model_validator(mode="after")
    def _promise_within_law(self) -> CatalogueItem:
        if self.promised_days > self.legal_days:
            raise _rule("promised_days", "承诺时限不得超过法定时限",
                        "promised_days must not exceed legal_days")
        if self.joint_depts:
            if self.case_type != CaseType.JOINT.value:
                raise _rule("joint_depts", "只有联办件可以列出协办部门",
                            f"joint_depts is only for 联办件, not {self.case_type}")
            codes = [dept.dept_code for dept in self.joint_depts]
            if len(set(codes)) != len(codes):
                raise _rule("joint_depts", "协办部门编码重复", "joint_depts lists a dept_code twice")
            if self.dept_code in codes:
                raise _rule("joint_depts", "协办部门不得包括牵头部门",
                            f"joint_depts must not list the lead department {self.dept_code}")
        return self

    @property
    def fee(self) -> Decimal:
        return Decimal(self.fee_yuan)


class Catalogue(Strict):
    """The item catalogue file: ``{"version": 1, "items": [...]}``."""

    version: Version
    items: list[CatalogueItem]

    @model_validator(mode="after")
    def _unique_codes(self) -> Catalogue:
        seen: set[str] = set()
        for item in self.items:
            if item.item_code in seen:
                raise ValueError(f"item_code {item.item_code} appears twice")
            seen.add(item.item_code)
        return self

    def by_code(self) -> dict[str, CatalogueItem]:
        return {item.item_code: item for item in self.items}
