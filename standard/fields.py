"""Field types of the data-exchange standard: the box's exact rule for each, and its schema.

Each type here is checked by the box exactly as its published JSON Schema fragment says, so
that an ordinary validator (``jsonschema`` with format checks, ajv) and the box agree on every
record (``tests/unit/test_schema_conformance.py`` keeps them so). Where the box still accepts a
form for compatibility with the first publication of version 1 that the schema no longer
states, :func:`compatibility_forms` names it; nothing the schema allows is refused by the box.

Example::

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(Timestamp).validate_json('"2026-11-02T09:15:00+08:00"').isoformat()
    '2026-11-02T09:15:00+08:00'
    >>> compatibility_forms({"occurred_at": "2026-11-02 09:15:00+08:00"})
    ['occurred_at']
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError,
                      WithJsonSchema)
from pydantic_core import PydanticCustomError

# Patterns use [0-9], never \d: \d is any Unicode digit in Python and in the box's regex engine.
CODE_PATTERN = r"^[0-9A-Za-z._\-]+$"
DISTRICT_PATTERN = r"^[0-9]{6}$"
FEE_TEXT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
FEE_MAX = Decimal("999999999.99")
# RFC 3339 date-time with its offset required, years 2000-2100: the standard's form.
TIMESTAMP_PATTERN = (
    r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# What the first publication ("ISO 8601 with an offset") let through and the box still takes:
# a space or t for T, z for Z, no seconds, a comma before the fraction, an offset without colon.
LEGACY_TIMESTAMP_PATTERN = (
    r"^(?P<date>(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))"
    r"[Tt ](?P<hm>([01][0-9]|2[0-3]):[0-5][0-9])(?P<s>:[0-5][0-9](?P<frac>[.,][0-9]{1,9})?)?"
    r"(?P<zone>[Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_LEGACY_TIMESTAMP = re.compile(LEGACY_TIMESTAMP_PATTERN)
_FEE_TEXT = re.compile(FEE_TEXT_PATTERN)
TIMESTAMP_FIELDS = ("occurred_at", "rated_at")
_read_datetime = TypeAdapter(dt.datetime).validate_python


def whole_number(value: Any) -> Any:
    """JSON Schema's "integer" is a value, not a spelling: 3.0 is the integer 3 to every
    validator, so the box takes it too (strict mode still refuses "3" and true)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _version(value: Any) -> Any:
    if isinstance(value, bool):  # true == 1 in Python, not in JSON
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": "1"})
    return whole_number(value)


def _timestamp_text(value: Any) -> Any:
    # Text is checked against the pattern, then read by pydantic's own parser (which also
    # refuses impossible dates such as 02-30); never a number, read as seconds since 1970.
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or _LEGACY_TIMESTAMP.fullmatch(value) is None:
        raise PydanticCustomError(
            "timestamp_form", "timestamp must be RFC 3339 with an offset, between the years"
            " 2000 and 2100, e.g. 2026-11-02T09:15:00+08:00")
    try:
        return _read_datetime(value, strict=False)
    except ValidationError as exc:
        raise PydanticCustomError("timestamp_value", "not a real date and time: {error}",
                                  {"error": exc.errors()[0]["msg"]}) from None


def legacy_fee(text: str) -> Decimal | None:
    """A fee string the box took before the standard's form was published (1.2) and still
    takes for compatibility: any spelling of an amount from 0 to FEE_MAX with at most two
    decimals once trailing zeros go (``"1e2"``, ``" 9.00"``, ``"+5"``, ``".5"``, ``"9.070"``,
    ``"1_000"``), as two decimals (``100.00``); None for anything else.
    """
    try:
        amount = Decimal(text)  # what the box read such strings with until 1.2
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or not 0 <= amount <= FEE_MAX:
        return None
    if -amount.normalize().as_tuple().exponent > 2:
        return None
    return abs(amount).quantize(Decimal("0.01"))  # abs: "-0" is 0.00


def _fee_value(value: Any) -> Any:
    # Text must be a plain decimal (or a spelling kept for compatibility); a JSON number is
    # read by its shortest spelling (9.07, not 9.0699999...), as pydantic reads numbers into
    # Decimal. Limits are checked after.
    if isinstance(value, str):
        if _FEE_TEXT.fullmatch(value) is not None:
            return Decimal(value)
        legacy = legacy_fee(value)
        if legacy is None:
            raise PydanticCustomError(
                "fee_form", 'fee must be yuan with at most two decimals, e.g. "9.00"')
        return legacy
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def needs_offset(value: dt.datetime) -> dt.datetime:
    """After-check of a timestamp (text is checked before): an offset, a year in 2000-2100."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp needs an offset, e.g. 2026-11-02T09:15:00+08:00")
    if not (2000 <= value.year <= 2100):
        raise ValueError("timestamp is outside 2000-2100")
    return value


def _string(pattern: str, **limits: int) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern, **limits}


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]
DistrictCode = Annotated[str, Field(pattern=DISTRICT_PATTERN)]
# Text limits: generous for real names and reasons, small enough that a runaway
# field cannot fill the box's disk.
ShortText = Annotated[str, Field(min_length=1, max_length=100)]
LongText = Annotated[str, Field(min_length=1, max_length=2000)]
WholeNumber = Annotated[int, BeforeValidator(whole_number)]


def whole_between(low: int, high: int) -> Any:
    """An integer from ``low`` to ``high`` (3.0 counts as 3), published with its bounds."""
    # The bounds go inside the before-validator so that the schema shows minimum/maximum.
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(whole_number)]


Version = Annotated[Literal[1], BeforeValidator(_version)]
Timestamp = Annotated[
    dt.datetime,
    BeforeValidator(_timestamp_text),
    AfterValidator(needs_offset),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN,
                    "description": "RFC 3339 with an offset, e.g. 2026-11-02T09:15:00+08:00."}),
]
FeeAmount = Annotated[
    Decimal,
    BeforeValidator(_fee_value),
    Field(ge=0, le=FEE_MAX, decimal_places=2),
    WithJsonSchema({"anyOf": [
        _string(FEE_TEXT_PATTERN),
        {"type": "integer", "minimum": 0, "maximum": int(FEE_MAX)},
    ], "description": 'Yuan, a decimal string with at most two decimals, e.g. "9.00".'}),
]


def compatibility_forms(record: Any) -> list[str]:
    """Fields of a record written in a form the box accepts for compatibility only.

    The schema states the standard's form; these older spellings are still taken so that no
    record valid under the first publication of version 1 is refused:

    - a timestamp in ISO 8601 but not RFC 3339 (space or ``t`` separator, ``z``, no seconds,
      a comma fraction, ``+0800``);
    - ``fee_amount`` as a JSON number with decimals (``9.5``; send the string ``"9.50"``);
    - ``fee_amount`` as a string the box read as an amount before 1.2 (:func:`legacy_fee`:
      ``"1e2"``, ``" 9.00"``, ``".5"``, ``"9.070"``; send ``"100.00"``, ``"9.00"``, ...).
    """
    form = standard_form(record)
    return sorted(name for name, value in form.items() if value is not record[name])


def standard_form(record: Any) -> dict[str, Any]:
    """The record with compatibility forms rewritten in the standard's form (the rest as is).

    >>> standard_form({"rated_at": "2026-11-06 10:00+0800", "fee_amount": 9.5})
    {'rated_at': '2026-11-06T10:00:00+08:00', 'fee_amount': '9.50'}
    """
    if not isinstance(record, dict):
        return {}
    out = dict(record)
    for name in TIMESTAMP_FIELDS:
        text = record.get(name)
        if isinstance(text, str) and _TIMESTAMP.fullmatch(text) is None:
            match = _LEGACY_TIMESTAMP.fullmatch(text)
            if match is not None:
                out[name] = _rfc3339(match)
    fee = record.get("fee_amount")
    if isinstance(fee, float) and not fee.is_integer():
        amount = Decimal(repr(fee))
        if -amount.normalize().as_tuple().exponent <= 2:
            out["fee_amount"] = f"{amount:.2f}"
    elif isinstance(fee, str) and _FEE_TEXT.fullmatch(fee) is None:
        legacy = legacy_fee(fee)
        if legacy is not None:
            out["fee_amount"] = str(legacy)
    return out


def _rfc3339(match: re.Match[str]) -> str:
    seconds = (match["s"] or ":00").replace(",", ".")
    zone = match["zone"].upper()
    if zone != "Z" and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    return f"{match['date']}T{match['hm']}{seconds}{zone}"
