"""The words of supervision that box and hub share: alert states, actions and 过错责任 outcomes.

An alert (预警/纠错记录) moves along its lifecycle on the box; every step is an ``alert_event``
record that the hub receives too, so both show the same Chinese names for the same codes.

The department that an alert or card is addressed to answers it: it writes a 说明理由
(``explain``) and, on a card, a 整改报告 (``report``). The hall manager or the district supervisor
accepts or returns each text. After the card's deadline (整改期限) a supervisor records the
过错责任 outcome (``liability``), one of :data:`LIABILITY_OUTCOMES`.

Example::

    >>> STATE_NAMES["returned"], ACTION_NAMES["accept_report"], LIABILITY_OUTCOMES["admonition"]
    ('已退回', '采纳整改报告', '诫勉谈话')
"""

from __future__ import annotations

ACTIVE_STATES = ("open", "acknowledged", "explained", "accepted", "returned", "reported",
                 "rectified", "escalated")
# withdrawn: later-arriving events showed the finding was false when it was made (the case was
# already finished on time); its cards are void (作废) and nothing of it counts in the scores.
WITHDRAWN = "withdrawn"
STATES = ACTIVE_STATES + ("closed", "resolved", WITHDRAWN)
STATE_NAMES = {"open": "待处理", "acknowledged": "已签收", "explained": "已说明理由",
               "accepted": "理由已采纳", "returned": "已退回", "reported": "已报送整改报告",
               "rectified": "整改已采纳", "escalated": "已上报", "closed": "已办结",
               "resolved": "已自动消除", WITHDRAWN: "已撤销（后到数据表明判断有误）"}
LEVEL_NAMES = {"yellow": "黄灯预警", "red": "红灯纠错"}
CARD_NAMES = {"yellow": "黄牌", "red": "红牌"}
ACTION_NAMES = {"acknowledge": "签收", "explain": "说明理由", "report": "报送整改报告",
                "accept_explanation": "采纳说明", "return_explanation": "退回说明",
                "accept_report": "采纳整改报告", "return_report": "退回整改报告",
                "liability": "认定过错责任", "close": "办结", "escalate": "上报",
                "open": "开启", "reopen": "重新开启", "resolve": "自动消除", "clear": "情形消除",
                "recur": "情形再现", "yellow_card": "发出黄牌", "red_card": "升级红牌",
                "notify_failed": "通知失败", "withdraw": "撤销（后到数据）"}
# 过错责任 outcomes, mildest first (行政审批电子监察 accountability practice).
LIABILITY_OUTCOMES = {"none": "不予追究", "education": "批评教育", "criticism": "通报批评",
                      "admonition": "诫勉谈话", "discipline": "移送纪检监察"}


def state_name(state: str | None) -> str:
    """The Chinese name of an alert state; the code itself for one this release does not know."""
    return STATE_NAMES.get(state or "", state or "—")


def liability_name(outcome: str | None) -> str:
    """The Chinese name of a 过错责任 outcome; "" when none is recorded.

    >>> liability_name("discipline"), liability_name(None)
    ('移送纪检监察', '')
    """
    return LIABILITY_OUTCOMES.get(outcome or "", outcome or "")
