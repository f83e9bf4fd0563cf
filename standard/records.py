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
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STANDARD_VERSION = 1
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

# Text limits: generous for real names and reasons, small enough that a runaway
# field cannot fill the box's disk.
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._\-]+$")]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
LongText = Annotated[str, Field(min_length=1, max_length=2000)]


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


_SPECIAL_EVENTS = frozenset({EventType.SPECIAL_START.value, EventType.SPECIAL_END.value})


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

    version: Literal[1] = 1
    event_id: Code = Field(description="Unique per platform; re-sending the same id is harmless.")
    case_no: Code = Field(description="办件编号")
    item_code: Code = Field(description="事项编码, from the item catalogue")
    dept_code: Code
    district_code: Annotated[str, Field(pattern=r"^\d{6}$", description="e.g. 440605 南海区")]
    event_type: EventType
    procedure_kind: ProcedureKind | None = Field(
        default=None, description="Required for 特别程序开始/结束."
    )
    extension_days: int | None = Field(
        default=None, ge=1, le=365, description="Required for 延期: working days added."
    )
    occurred_at: dt.datetime = Field(description="ISO 8601 with an offset, e.g. +08:00.")
    actor: Actor
    window_no: int | None = Field(default=None, ge=1, le=999)
    reason: LongText | None = Field(default=None, description="Required for 不予受理/不予许可.")
    fee_amount: Decimal | None = Field(
        default=None, ge=0, le=Decimal("100000000"), decimal_places=2,
        description="For 收费: yuan, two decimals.",
    )
    case_type: CaseType | None = Field(default=None, description="Optional, on the first event.")
    to_dept_code: Code | None = Field(
        default=None, description="Required for 分送: the participating department (联办件)."
    )

    @field_validator("occurred_at")
    @classmethod
    def _needs_offset(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp needs an offset, e.g. 2026-11-02T09:15:00+08:00")
        if not (2000 <= value.year <= 2100):
            raise ValueError("timestamp is outside 2000-2100")
        return value

    @model_validator(mode="after")
    def _fields_for_type(self) -> CaseEvent:
        # Plain strings, not Enum attribute lookups: this runs for every ingested record.
        kind = self.event_type
        special = kind in _SPECIAL_EVENTS
        if special and self.procedure_kind is None:
            raise ValueError(f"procedure_kind is required for {kind}")
        if not special and self.procedure_kind is not None:
            raise ValueError(f"procedure_kind is only for 特别程序开始/结束, not {kind}")
        if (kind == "延期") != (self.extension_days is not None):
            raise ValueError("extension_days is required for 延期" if kind == "延期"
                             else f"extension_days is only for 延期, not {kind}")
        if (kind == "收费") != (self.fee_amount is not None):
            raise ValueError("fee_amount is required for 收费" if kind == "收费"
                             else f"fee_amount is only for 收费, not {kind}")
        if (kind == "分送") != (self.to_dept_code is not None):
            raise ValueError("to_dept_code is required for 分送" if kind == "分送"
                             else f"to_dept_code is only for 分送, not {kind}")
        return self

    @property
    def stage_rank(self) -> int | None:
        """Position of a main stage (申请=1 … 办结=6), None for side events."""
        return STAGE_RANK.get(self.event_type)

    @property
    def local_date(self) -> dt.date:
        """The day this happened in the hall's time zone (+08:00)."""
        return self.occurred_at.astimezone(LOCAL_TZ).date()


class JointDept(Strict):
    """A participating department of a 联办件 item and its own limit."""

    dept_code: Code
    dept_name: ShortText
    days: int = Field(ge=1, le=365, description="This department's limit, working days")


class CatalogueItem(Strict):
    """事项目录: one administrative item, the 六公开 content and the limits the rules use."""

    item_code: Code
    name: ShortText
    dept_code: Code
    dept_name: ShortText
    legal_days: int = Field(ge=0, le=365, description="法定时限, working days")
    promised_days: int = Field(ge=0, le=365, description="承诺时限, working days")
    stage_days: dict[EventType, int] = Field(
        default_factory=dict, description="Per-stage limit in working days."
    )
    fee_yuan: Annotated[str, Field(pattern=r"^\d{1,9}\.\d{2}$")] = Field(
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
            raise ValueError("promised_days must not exceed legal_days")
        if self.joint_depts:
            if self.case_type != CaseType.JOINT.value:
                raise ValueError(f"joint_depts is only for 联办件, not {self.case_type}")
            codes = [dept.dept_code for dept in self.joint_depts]
            if len(set(codes)) != len(codes):
                raise ValueError("joint_depts lists a dept_code twice")
            if self.dept_code in codes:
                raise ValueError(f"joint_depts must not list the lead department {self.dept_code}")
        return self

    @property
    def fee(self) -> Decimal:
        return Decimal(self.fee_yuan)


class Catalogue(Strict):
    """The item catalogue file: ``{"version": 1, "items": [...]}``."""

    version: Literal[1]
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
