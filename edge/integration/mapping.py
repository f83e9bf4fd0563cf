"""The field mapping: a platform's own rows (columns, codes, naive times) as standard records.

A district platform keeps its cases in its own layout: ``SBLSH`` for the case number, ``"2"``
for 受理, ``2026-11-02 09:15:00`` without an offset. A :class:`Mapping` says, once per
platform, which column holds each standard field, which platform code means which standard
value, the time zone of naive timestamps and how ``event_id`` is formed when the platform has
none. :class:`RowMapper` applies it to one row at a time; the standard record it makes is then
validated and stored exactly like an HTTP record (``edge/ingest.py``).

Example::

    mapping = Mapping.model_validate({
        "fields": {"case_no": "SBLSH", "item_code": "SXBM", "dept_code": "BMDM",
                   "event_type": "HJDM", "occurred_at": "CLSJ", "actor_id": "GH",
                   "actor_name": "XM"},
        "constants": {"district_code": "440605"},
        "codes": {"event_type": {"1": "申请", "2": "受理"}},
        "event_id": {"columns": ["SBLSH", "HJDM", "CLSJ"], "prefix": "NH-"}})
    RowMapper(mapping).record({"SBLSH": "NH1", "SXBM": "440605-SCJ-001", "BMDM": "440605SCJ",
                               "HJDM": "2", "CLSJ": "2026-11-02 09:15:00", "GH": "S01",
                               "XM": "李敏"})
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping as RowLike
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from standard.configfile import Section
from standard.records import CaseType, EventType, ProcedureKind

# Standard fields a mapping can fill, with the Chinese name a technician knows them by.
FIELD_NAMES: dict[str, str] = {
    "event_id": "记录编号", "case_no": "办件编号", "item_code": "事项编码", "dept_code": "部门编码",
    "district_code": "区划代码", "event_type": "环节/事件类型", "procedure_kind": "特别程序种类",
    "extension_days": "延期天数", "occurred_at": "发生时间", "actor_id": "经办人工号",
    "actor_name": "经办人姓名", "window_no": "窗口号", "reason": "理由", "fee_amount": "收费金额",
    "case_type": "办件类型", "to_dept_code": "分送部门编码",
}
REQUIRED = ("case_no", "item_code", "dept_code", "district_code", "event_type", "occurred_at",
            "actor_id", "actor_name")
CODED: dict[str, frozenset[str]] = {
    "event_type": frozenset(e.value for e in EventType),
    "case_type": frozenset(c.value for c in CaseType),
    "procedure_kind": frozenset(p.value for p in ProcedureKind),
}
INTEGERS = ("window_no", "extension_days")
OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")
# Tried after ISO 8601 (which also takes "2026-11-02 09:15:00"); a mapping adds its own.
BUILTIN_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S",
                        "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M")


class MappingRefused(ValueError):
    """A row the mapping cannot turn into a standard record; ``problems`` name each field."""

    def __init__(self, problems: list[dict[str, str]]):
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems


class FieldColumns(Section):
    """Standard field = the platform's column that holds it (``case_no = "SBLSH"``)."""

    event_id: str | None = Field(default=None, min_length=1)
    case_no: str | None = Field(default=None, min_length=1)
    item_code: str | None = Field(default=None, min_length=1)
    dept_code: str | None = Field(default=None, min_length=1)
    district_code: str | None = Field(default=None, min_length=1)
    event_type: str | None = Field(default=None, min_length=1)
    procedure_kind: str | None = Field(default=None, min_length=1)
    extension_days: str | None = Field(default=None, min_length=1)
    occurred_at: str | None = Field(default=None, min_length=1)
    actor_id: str | None = Field(default=None, min_length=1)
    actor_name: str | None = Field(default=None, min_length=1)
    window_no: str | None = Field(default=None, min_length=1)
    reason: str | None = Field(default=None, min_length=1)
    fee_amount: str | None = Field(default=None, min_length=1)
    case_type: str | None = Field(default=None, min_length=1)
    to_dept_code: str | None = Field(default=None, min_length=1)

    def mapped(self) -> dict[str, str]:
        return {name: column for name, column in self.model_dump().items() if column}


class EventIdRule(Section):
    """``event_id`` as a stable hash of chosen columns, for a platform with no row id."""

    columns: list[str] = Field(min_length=1, max_length=20)
    prefix: str = Field(default="", max_length=16, pattern=r"^[0-9A-Za-z._\-]*$")


class Mapping(Section):
    """How one platform's rows become standard case events (docs/integration.md)."""

    version: Literal[1] = 1
    timezone: str = "+08:00"  # of naive timestamps: "+08:00" or a name such as "Asia/Shanghai"
    time_formats: list[str] = Field(default_factory=list, max_length=20)
    fields: FieldColumns = FieldColumns()
    constants: dict[str, str] = Field(default_factory=dict)
    codes: dict[str, dict[str, str]] = Field(default_factory=dict)
    event_id: EventIdRule | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @field_validator("time_formats")
    @classmethod
    def _formats_have_fields(cls, value: list[str]) -> list[str]:
        for text in value:
            if "%" not in text:
                raise ValueError(f"{text!r} is not a strptime format: write e.g. "
                                 "\"%Y年%m月%d日 %H时%M分\"")
        return value

    @field_validator("constants")
    @classmethod
    def _constants_are_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            _known_field(f"constants.{name}", name)
        return value

    @field_validator("codes")
    @classmethod
    def _codes_give_standard_values(cls, value: dict[str, dict[str, str]]) -> dict[str, dict]:
        for name, table in value.items():
            _known_field(f"codes.{name}", name)
            allowed = CODED.get(name)
            for code, meaning in table.items():
                if allowed is not None and meaning not in allowed:
                    raise ValueError(
                        f"codes.{name}.\"{code}\" = \"{meaning}\" is not a standard value: "
                        f"use one of {'、'.join(sorted(allowed))}")
        return value

    @model_validator(mode="after")
    def _every_required_field_has_a_source(self) -> Mapping:
        given = self.fields.mapped().keys() | self.constants.keys()
        for name in REQUIRED:
            if name not in given:
                raise ValueError(f"fields.{name} is missing: name the platform column that holds "
                                 f"{FIELD_NAMES[name]}, or set constants.{name}")
        if "event_id" not in given and self.event_id is None:
            raise ValueError("fields.event_id is missing: name the platform's own row id column, "
                             "or add [event_id] columns = [...] to hash chosen columns")
        both = sorted(self.fields.mapped().keys() & self.constants.keys())
        if both:
            raise ValueError(f"constants.{both[0]} and fields.{both[0]} are both set: keep one")
        for name in self.codes:
            if name not in self.fields.mapped():
                raise ValueError(f"codes.{name} translates a field no column fills: add "
                                 f"fields.{name} = \"<column>\"")
        return self

    def columns(self) -> list[str]:
        """Every platform column this mapping reads."""
        names = list(self.fields.mapped().values())
        names += self.event_id.columns if self.event_id and "event_id" not in self.fields.mapped() \
            else []
        return list(dict.fromkeys(names))


def _known_field(where: str, name: str) -> None:
    if name not in FIELD_NAMES:
        raise ValueError(f"{where}: {name!r} is not a standard field: use one of "
                         f"{', '.join(FIELD_NAMES)}")


def zone_of(text: str) -> dt.tzinfo:
    """``"+08:00"``, ``"UTC+8"`` or an IANA name as a tzinfo; ValueError naming the fix."""
    match = OFFSET.match(text.strip())
    if match:
        sign, hours, minutes = match.groups()
        delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > dt.timedelta(hours=14):
            raise ValueError(f"timezone {text!r}: an offset is at most 14 hours")
        return dt.timezone(delta if sign == "+" else -delta)
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {text!r} is not known: write an offset such as \"+08:00\" "
                         "or a name such as \"Asia/Shanghai\"") from None


class RowMapper:
    """A compiled :class:`Mapping`: ``record(row)`` gives the standard record (a dict)."""

    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.zone = zone_of(mapping.timezone)
        self.fields = mapping.fields.mapped()
        self.formats = (*mapping.time_formats, *BUILTIN_TIME_FORMATS)
        self.hash_columns = (mapping.event_id.columns if mapping.event_id
                             and "event_id" not in self.fields and "event_id"
                             not in mapping.constants else [])
        self._key_cache: dict[tuple, tuple[list, list]] = {}

    def missing_columns(self, headers: Iterable[str]) -> list[str]:
        """Mapping keys whose platform column is not among ``headers`` (case ignored)."""
        present = {str(h).strip().lower() for h in headers if h is not None}
        missing = [f"fields.{name} = \"{column}\"" for name, column in self.fields.items()
                   if column.lower() not in present]
        missing += [f"event_id.columns \"{column}\"" for column in self.hash_columns
                    if column.lower() not in present]
        return missing

    def record(self, row: RowLike[str, Any]) -> dict[str, Any]:
        """The standard record for ``row``; MappingRefused names every field it cannot fill."""
        fields, hashed = self._keys(tuple(row.keys()))
        record: dict[str, Any] = dict(self.mapping.constants)
        problems: list[dict[str, str]] = []
        for name, column, key in fields:
            raw = row[key] if key is not None else None
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                record[name] = self._convert(name, column, raw)
            except ValueError as exc:
                problems.append({"field": name, "message": str(exc)})
        if self.hash_columns:
            record["event_id"] = self.mapping.event_id.prefix + stable_hash(
                [row[key] if key is not None else None for key in hashed])
        if problems:
            raise MappingRefused(problems)
        if "actor_id" in record or "actor_name" in record:
            record["actor"] = {key: record.pop(f"actor_{key}") for key in ("id", "name")
                               if f"actor_{key}" in record}
        return record

    def _keys(self, keys: tuple) -> tuple[list[tuple[str, str, Any]], list[Any]]:
        """For rows with these keys: (field, column, the row's key or None) and the hashed
        columns' keys. Rows of one query or file share their keys, so this is worked out once."""
        found = self._key_cache.get(keys)
        if found is None:
            by_name = {}
            for key in keys:
                if key is not None:
                    by_name.setdefault(str(key).strip().lower(), key)
            found = ([(name, column, by_name.get(column.lower()))
                      for name, column in self.fields.items()],
                     [by_name.get(column.lower()) for column in self.hash_columns])
            if len(self._key_cache) > 100:  # JSON objects may each have their own keys
                self._key_cache.clear()
            self._key_cache[keys] = found
        return found

    def _convert(self, name: str, column: str, raw: Any) -> Any:
        if name == "occurred_at":
            return self._timestamp(column, raw)
        text = plain_text(raw)
        if name in self.mapping.codes:
            table = self.mapping.codes[name]
            if text in table:
                return table[text]
            if text not in table.values():
                raise ValueError(f"平台代码 \"{text}\"（列 {column}）不在映射 codes.{name} 中 "
                                 f"(code not in the mapping: add it to codes.{name})")
            return text
        if name in INTEGERS:
            return int(text) if re.fullmatch(r"-?\d+", text) else text
        if name == "fee_amount":
            return _fee(text)
        return text

    def _timestamp(self, column: str, raw: Any) -> str:
        moment = raw if isinstance(raw, dt.datetime) else None
        if moment is None and isinstance(raw, str):
            moment = self._parse_time(raw.strip())
        if moment is None:
            raise ValueError(f"时间 \"{raw}\"（列 {column}）无法识别 (unreadable time: add its "
                             "format to time_formats, e.g. \"%Y年%m月%d日 %H时%M分\")")
        if moment.tzinfo is None or moment.utcoffset() is None:
            moment = moment.replace(tzinfo=self.zone)
        offset = moment.utcoffset()
        return moment.astimezone(dt.timezone(offset)).isoformat()

    def _parse_time(self, text: str) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        for form in self.formats:
            try:
                return dt.datetime.strptime(text, form)
            except ValueError:
                continue
        return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def plain_text(value: Any) -> str:
    """A cell or column value as text: 3.0 → "3", Decimal("1.50") → "1.50", dates in ISO."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


def _fee(text: str) -> str:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return text  # the standard's validation names it
    if amount.is_finite() and amount.as_tuple().exponent >= -2:
        return f"{amount:.2f}"
    return text


def stable_hash(values: list[Any]) -> str:
    """40 hex characters of SHA-256 over the values' plain text: the same row, the same id.

    Values are compared as text (``plain_text``), so an id does not change when a driver
    returns ``Decimal("3")`` where another returned ``3``.
    """
    canonical = json.dumps(["" if _blank(v) else plain_text(v) for v in values],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]
