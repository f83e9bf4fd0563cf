"""A record's problems in Chinese and English, each naming its field: one wording everywhere.

The box's answers to the platform, its quarantine table and ``hallwatch standard validate``
all describe a refused record with :func:`field_problems`, so a vendor reads the same words
whichever way they check.

Example::

    >>> from standard.records import CaseEvent
    >>> try:
    ...     CaseEvent.model_validate_json('{"event_type": "收费", "colour": 1}', strict=True)
    ... except ValidationError as exc:
    ...     field_problems(exc)[:2]
    [{'field': 'event_id', 'message': '缺少必填字段 (field required)'}, \
{'field': 'case_no', 'message': '缺少必填字段 (field required)'}]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

RECORD = "(record)"


def field_problems(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"field": "fee_amount", "message": "中文 (English)"}, ...]`` for a refused record."""
    problems = []
    for item in exc.errors(include_url=False):
        loc = item["loc"]
        named = (item.get("ctx") or {}).get("field")
        if named and item["type"] == "item_rule":  # a rule across fields names its own field
            loc = (*loc, named)
        where = ".".join(str(part) for part in loc) or RECORD
        problems.append({"field": where, "message": describe(item)})
    return problems


def describe(item: dict[str, Any]) -> str:
    """One pydantic error as ``中文 (English)``."""
    ctx = item.get("ctx") or {}
    wording = _WORDING.get(item["type"])
    if wording is None:
        return f"字段无效 ({item['msg']})"
    return wording(ctx, item["msg"])


def _chinese(text: str) -> Callable[[dict[str, Any], str], str]:
    return lambda ctx, msg: f"{text.format(**ctx)} ({msg})"


def _too_short(ctx: dict[str, Any], msg: str) -> str:
    if ctx.get("min_length") == 1:
        return f"不能为空 ({msg})"
    return f"至少 {ctx.get('min_length')} 个字符 ({msg})"


def _value_error(ctx: dict[str, Any], msg: str) -> str:
    text = msg.removeprefix("Value error, ")
    if "offset" in text:
        return f"时间必须带时区，例如 +08:00 ({text})"
    if "2000-2100" in text:
        return f"时间超出 2000–2100 年 ({text})"
    return f"记录无效 ({text})"


MAX_DEPTH = 200  # JSON nesting of one record: the validator's own limit


def _json_invalid(error: str) -> str:
    if "recursion limit" in error:
        return f"JSON 嵌套过深，超过 {MAX_DEPTH} 层 (nested deeper than {MAX_DEPTH} levels: {error})"
    if "number out of range" in error:
        return f"数字过大，无法表示 (number too large: {error})"
    if "surrogate" in error or "hex escape" in error:
        return ("含有无效的 Unicode 转义，例如单独的代理字符 \\ud800 "
                f"(invalid unicode escape: {error})")
    return f"不是有效的 JSON (invalid JSON: {error})"


def _enum(ctx: dict[str, Any], msg: str) -> str:
    return f"取值不在标准列出的范围内，应为 {ctx.get('expected', '')} 之一 ({msg})"


_WORDING: dict[str, Callable[[dict[str, Any], str], str]] = {
    "missing": lambda ctx, msg: "缺少必填字段 (field required)",
    "extra_forbidden": lambda ctx, msg:
        "未知字段 (unknown field; check the spelling against the standard)",
    "json_invalid": lambda ctx, msg: _json_invalid(str(ctx.get("error", ""))),
    "model_type": lambda ctx, msg: "记录必须是 JSON 对象 (record must be a JSON object)",
    "model_attributes_type": lambda ctx, msg: "必须是 JSON 对象 (must be a JSON object)",
    "dict_type": _chinese("必须是 JSON 对象"),
    "list_type": _chinese("必须是 JSON 数组"),
    "string_type": _chinese("必须是字符串"),
    "int_type": _chinese("必须是整数（不能写成字符串或小数）"),
    "int_from_float": _chinese("必须是整数，不能有小数"),
    "int_parsing": _chinese("必须是整数"),
    "string_too_short": _too_short,
    "string_too_long": _chinese("不能超过 {max_length} 个字符"),
    "string_pattern_mismatch": _chinese("格式不符合标准"),
    "too_long": _chinese("最多 {max_length} 项"),
    "greater_than_equal": _chinese("不能小于 {ge}"),
    "less_than_equal": _chinese("不能大于 {le}"),
    "greater_than": _chinese("必须大于 {gt}"),
    "less_than": _chinese("必须小于 {lt}"),
    "literal_error": _chinese("取值必须是 {expected}"),
    "enum": _enum,
    "decimal_type": _chinese("必须是金额（字符串，如 \"9.00\"）"),
    "decimal_parsing": _chinese("必须是金额（字符串，如 \"9.00\"）"),
    "finite_number": _chinese("必须是有限的金额"),
    "decimal_max_places": _chinese("金额最多两位小数"),
    "decimal_max_digits": _chinese("金额位数过多"),
    "decimal_whole_digits": _chinese("金额整数部分位数过多"),
    "fee_form": _chinese("金额必须是最多两位小数的元，例如 \"9.00\""),
    "timestamp_form": _chinese(
        "时间格式不符：须为带时区的 RFC 3339 时间，年份在 2000–2100 之间，"
        "例如 2026-11-02T09:15:00+08:00"),
    "timestamp_value": _chinese("不是真实存在的日期或时间"),
    "required_for_event": _chinese("{kind}事件必须填写 {field}"),
    "only_for_event": _chinese("{field} 只用于{kinds}事件，{kind}事件不得填写"),
    "value_error": _value_error,
    "item_rule": lambda ctx, msg: f"{ctx['chinese']} ({msg})",
    "datetime_type": _chinese("必须是时间字符串"),
    "datetime_parsing": _chinese("不是有效的时间"),
    "datetime_from_date_parsing": _chinese("不是有效的时间"),
    "timezone_aware": _chinese("时间必须带时区，例如 +08:00"),
}
