"""Supervision configuration: ``[rules]``, ``[[contacts]]`` and ``[notify]`` in box.toml.

Every number the rules use is here, so a district can tune them without code. Unknown keys are
errors, like every other section.

Example::

    [rules]
    enabled = ["临近时限", "超期", "超法定时限", "环节超时", "违规收费", "程序异常", "无理由拒绝"]
    near_deadline_working_days = 1

    [rules.cards]
    notice_due_working_days = 3

    [[contacts]]
    dept_code = "440605SCJ"
    name = "李敏"
    phone = "13800138000"

    [notify.sms]
    port = "/dev/ttyUSB0"
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from standard.configfile import Section

# The rule names a box knows, in the order they run. edge/supervision/verdicts.py has one
# function each.
RULE_NAMES: tuple[str, ...] = (
    "临近时限", "环节临近时限", "超期", "超期办结", "超法定时限", "环节超时", "违规收费", "程序异常",
    "无理由拒绝", "日历缺失", "事项缺失", "重点监察",
)
FOCUS_KINDS = ("不予许可", "不予受理", "补正")
StageName = Literal["申请", "受理", "承办", "审核", "批准", "办结"]


class CardSection(Section):
    """黄牌/红牌 and their notices (限期办理通知书, 整改建议书)."""

    # Working days a yellow card's 限期办理通知书 gives the department to finish the case.
    notice_due_working_days: int = Field(default=3, ge=1, le=60)
    # Working days a red card's 整改建议书 gives for the written rectification report.
    rectify_working_days: int = Field(default=5, ge=1, le=60)
    # The middle of the document number: 南海 + 电监 + 〔2026〕17号.
    document_word: str = Field(default="电监", min_length=1, max_length=8)
    # Who signs the notices; default "<district>行政服务中心电子监察室".
    issuer: str | None = Field(default=None, min_length=1, max_length=60)


class FocusSection(Section):
    """重点监察: monthly counts of refusals and 补正 per department, flagged when unusual."""

    kinds: list[Literal["不予许可", "不予受理", "补正"]] = Field(
        default_factory=lambda: list(FOCUS_KINDS))
    # A department is flagged when its rate is at least factor x the district's median rate ...
    factor: float = Field(default=2.0, ge=1.0, le=100.0)
    # ... and it has at least this many such events in the month (small numbers are noise).
    min_count: int = Field(default=5, ge=1, le=10_000)


class RulesSection(Section):
    """Which rules run, how often, and their thresholds."""

    enabled: list[str] = Field(default_factory=lambda: list(RULE_NAMES))
    interval_seconds: float = Field(default=60.0, ge=1.0, le=86_400.0)
    # Local time (+08:00) of the extra pass at the start of each working day.
    day_start: str = Field(default="08:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # 临近时限 fires when 0 <= working days remaining <= this; keep equal to [lights].
    near_deadline_working_days: int = Field(default=1, ge=0, le=30)
    # 程序异常 (a skipped stage): these stages must be reported before any later stage.
    required_stages: list[StageName] = Field(
        default_factory=lambda: ["受理", "承办", "审核", "批准"])
    # Case types that legitimately skip stages (a 即办件 goes 受理 → 办结).
    skip_check_exempt_case_types: list[str] = Field(default_factory=lambda: ["即办件"])
    cards: CardSection = CardSection()
    focus: FocusSection = FocusSection()

    @field_validator("enabled")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in RULE_NAMES]
        if unknown:
            raise ValueError(f"unknown rule {', '.join(unknown)}; known: {', '.join(RULE_NAMES)}")
        return value


class ContactSection(Section):
    """The department's fixed contact person (相对固定的联系人)."""

    dept_code: str = Field(pattern=r"^[0-9A-Za-z._\-]{1,64}$")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(pattern=r"^\+?\d{5,20}$", description="digits, e.g. 13800138000")


class WebhookSection(Section):
    url: str = Field(pattern=r"^https?://")
    timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    # Tries within one delivery; after that the queue retries with its own backoff.
    attempts: int = Field(default=3, ge=1, le=10)


class SmsSection(Section):
    port: str = Field(min_length=1, description="serial device, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=115200, ge=1200, le=4_000_000)
    command_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    send_timeout_seconds: float = Field(default=60.0, gt=0, le=600)


class NotifySection(Section):
    """Notifiers (any number at once) and the delivery queue's retry policy."""

    log: bool = True
    log_file: str | None = None  # default: <data_dir>/notifications.log
    webhook: WebhookSection | None = None
    sms: SmsSection | None = None
    retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    retry_max_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    max_attempts: int = Field(default=50, ge=1, le=1000)
