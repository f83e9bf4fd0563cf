"""The data-exchange standard for citizen evaluations (好差评) from channels other than the window.

QR code (二维码), online (网上), SMS (短信), the 12345 hotline and self-service terminals (自助终端)
send one :class:`Evaluation` per rating to the box (``POST /api/v1/evaluations``). The window
evaluator keys are the box's own channel (评价器) and never arrive this way.

Like :mod:`standard.records`, the model forbids unknown fields and loose types; validate from
JSON text. ``docs/standard/evaluation.schema.json`` is generated from it.

Example::

    >>> ev = Evaluation.model_validate_json('''{"version": 1, "evaluation_id": "QR-000017",
    ...     "channel": "二维码", "case_no": "NH2026000001", "level": 2,
    ...     "rated_at": "2026-11-02T10:05:00+08:00", "tags": ["等候时间长"],
    ...     "text": "排队一个小时", "citizen_phone": "13800138000"}''')
    >>> ev.is_bad, ev.channel
    (True, '二维码')
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import Field

from standard.fields import Code, LongText, ShortText, Timestamp, Version, whole_between
from standard.records import Strict

LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = frozenset({1, 2})  # 差评
SATISFIED_LEVELS = frozenset({4, 5})  # counted in the satisfaction rate


class Channel(str, Enum):
    """Where a rating came from. ``WINDOW`` and ``DEFAULT`` are the box's own."""

    WINDOW = "评价器"
    QR = "二维码"
    ONLINE = "网上"
    SMS = "短信"
    HOTLINE = "12345"
    TERMINAL = "自助终端"
    DEFAULT = "默认好评"  # unrated N working days after 办结 (off by default)


# Channels a platform may report; the box records the other two itself.
EXTERNAL_CHANNELS = tuple(c for c in Channel if c not in (Channel.WINDOW, Channel.DEFAULT))

Tag = Annotated[str, Field(min_length=1, max_length=20)]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9\-]{4,19}$",
                             description="Digits, an optional leading + and dashes.")]


class Evaluation(Strict):
    """好差评记录: one citizen rating of one service, from a channel other than the window keys."""

    version: Version = 1
    evaluation_id: Code = Field(
        description="Unique per channel; re-sending the same id is harmless.")
    channel: Literal["二维码", "网上", "短信", "12345", "自助终端"] = Field(
        description="二维码, 网上, 短信, 12345 or 自助终端.")
    case_no: Code = Field(description="办件编号 of the service being rated.")
    level: whole_between(1, 5) = Field(
        description="5 非常满意 … 1 非常不满意; 1–2 are 差评.")
    rated_at: Timestamp
    tags: list[Tag] = Field(default_factory=list, max_length=10,
                            description="Reasons picked from the channel's list.")
    text: LongText | None = Field(default=None, description="The citizen's own words.")
    citizen_name: ShortText | None = Field(
        default=None, description="Only when the citizen gives it; shown to follow-up roles only.")
    citizen_phone: Phone | None = Field(
        default=None, description="For the 回访 call; shown to follow-up roles only.")

    @property
    def is_bad(self) -> bool:
        """True for 差评 (levels 1 and 2)."""
        return self.level in BAD_LEVELS
