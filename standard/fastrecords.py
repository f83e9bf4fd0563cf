"""The common shape of a case event, read by msgspec: ingest's fast path (issue 17).

Nearly every record a platform sends is a plain stage event in the standard's own form: no fee,
no 特别程序, no 延期, no 分送, and its time written as ``2026-11-02T09:15:00+08:00``. For such
a record, :func:`read_event` decodes and checks it with msgspec (typed structs, strict,
unknown fields refused) about four times faster than the pydantic model, and writes the same
normalised JSON text the pydantic model writes.

The fast path is *narrower* than the standard, never wider: whatever it does not take (a
problem, or a form it leaves to the full model: another field, another timestamp spelling, a
number written as 3.0) is answered ``None``, and the caller validates the record with
:class:`standard.records.CaseEvent`, whose errors name the fields. So the box accepts exactly
what the model accepts, with the same messages; ``tests/unit/test_fast_records.py`` checks
that whatever this path takes, the model takes too, into the same event and the same text.

Example::

    >>> event, body = read_event('{"event_id": "E1", "case_no": "NH1", "item_code": "X-1",'
    ...     ' "dept_code": "SCJ", "district_code": "440605", "event_type": "受理",'
    ...     ' "occurred_at": "2026-11-02T09:00:00+08:00", "actor": {"id": "S1", "name": "李敏"}}')
    >>> event.local_date, event.stage_rank, body[:31]
    (datetime.date(2026, 11, 2), 2, '{"version":1,"event_id":"E1","c')
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from standard.records import FIELDS_FOR_EVENTS, LOCAL_TZ, STAGE_RANK, CaseType, EventType

# Lengths are checked while decoding; the characters after, by one regular expression over
# the checked fields joined by NUL (a pattern per field, as msgspec calls them, cost six times
# the decoding). The standard's patterns (standard/fields.py) end in "$", which Python's re
# also matches before a final newline; fullmatch is the end of the text, as in the model.
_CODE = Annotated[str, Meta(min_length=1, max_length=64)]
_SHORT = Annotated[str, Meta(min_length=1, max_length=100)]
_LONG = Annotated[str, Meta(min_length=1, max_length=2000)]
_CODE_CHARS = r"[0-9A-Za-z._\-]+"
# The only timestamp form taken here: seconds, no fraction, a non-zero offset (the model writes
# +00:00 as Z), years 2000-2099. The text is then read by datetime, which refuses 02-30.
_TIME = (r"20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
         r":[0-5][0-9][+-]([01][0-9]|2[0-3]):[0-5][0-9]")
# event_id, case_no, item_code, dept_code, actor.id, district_code, occurred_at
_SHAPE = re.compile("\0".join([_CODE_CHARS] * 5 + ["[0-9]{6}", _TIME]))
_ZERO_OFFSETS = ("+00:00", "-00:00")
# Event types whose own fields (fee_amount, procedure_kind ...) the full model checks.
_WITH_OWN_FIELDS = frozenset(kind for kinds in FIELDS_FOR_EVENTS.values() for kind in kinds)
_FAST_TYPES = tuple(e.value for e in EventType if e.value not in _WITH_OWN_FIELDS)
_fromiso = dt.datetime.fromisoformat
_fromdate = dt.date.fromisoformat
_LOCAL_OFFSET = "+08:00"  # LOCAL_TZ's, as the text spells it


class FastActor(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The staff member who performed a step (``standard.records.Actor``)."""

    id: _CODE
    name: _SHORT


class FastEvent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """A case event of the common shape, read with the same attributes as ``CaseEvent``.

    Fields in the model's order, so the encoded text is the model's. The fields of the event
    types left to the model are never present here (the struct refuses them as unknown).
    """

    version: Literal[1] = 1
    event_id: _CODE
    case_no: _CODE
    item_code: _CODE
    dept_code: _CODE
    district_code: str
    event_type: Literal[_FAST_TYPES]  # type: ignore[valid-type]
    occurred_text: str = msgspec.field(name="occurred_at")
    actor: FastActor
    window_no: Annotated[int, Meta(ge=1, le=999)] | None = None
    reason: _LONG | None = None
    case_type: Literal[tuple(c.value for c in CaseType)] | None = None  # type: ignore[valid-type]

    # The model's fields that this shape never carries.
    procedure_kind = None
    extension_days = None
    fee_amount = None
    to_dept_code = None

    @property
    def occurred_at(self) -> dt.datetime:
        return _fromiso(self.occurred_text)

    @property
    def stage_rank(self) -> int | None:
        """Position of a main stage (申请=1 … 办结=6), None for side events."""
        return STAGE_RANK.get(self.event_type)

    @property
    def local_date(self) -> dt.date:
        """The day this happened in the hall's time zone (+08:00)."""
        text = self.occurred_text
        if text.endswith(_LOCAL_OFFSET):  # nearly every record: the day is the text's own
            return _fromdate(text[:10])
        return _fromiso(text).astimezone(LOCAL_TZ).date()


_decode = msgspec.json.Decoder(FastEvent).decode
_encode = msgspec.json.Encoder().encode
_VERSION_PREFIX = b'{"version":1,'


def read_event(raw: str) -> tuple[FastEvent, str] | None:
    """The event and its normalised JSON text, or None: let the full model judge it."""
    try:
        event = _decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError):
        return None
    text = event.occurred_text
    if _SHAPE.fullmatch(f"{event.event_id}\0{event.case_no}\0{event.item_code}\0"
                        f"{event.dept_code}\0{event.actor.id}\0{event.district_code}\0"
                        f"{text}") is None or text.endswith(_ZERO_OFFSETS):
        return None
    try:
        _fromiso(text)
    except ValueError:  # not a real date (02-30): the model says so
        return None
    body = _encode(event)
    try:
        body_text = (_VERSION_PREFIX + body[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return event, body_text
