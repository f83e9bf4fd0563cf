"""Ingest's fast path (standard/fastrecords.py) never takes what the standard's model refuses.

Whatever msgspec takes, the pydantic model must take too, into the same event and the same
stored text: the box's verdicts, messages and stored bodies are then the model's whatever path
a record goes. Records are drawn near the common shape, with every field possibly of the wrong
type, out of range, in another spelling, null, or unknown.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.ingest import Rejection, judge
from standard.fastrecords import FastEvent, read_event
from standard.records import CaseEvent, EventType
from tests.unit.test_ingest import BAD_RECORDS, GOOD, raw

_model = CaseEvent.__pydantic_validator__.validate_json
_dump = CaseEvent.__pydantic_serializer__.to_json
DROP = object()

codes = st.one_of(
    st.sampled_from(["E-1", "NH2026110001", "a.b_c-d", "", " ", "NH 1", "NH1\n", "é", "x" * 64,
                     "x" * 65, "４４０６０５"]),
    st.text(st.characters(codec="utf-8"), max_size=70))
times = st.one_of(
    st.sampled_from([
        "2026-11-02T09:12:00+08:00", "2026-11-02T09:12:00Z", "2026-11-02T09:12:00+00:00",
        "2026-11-02T09:12:00-00:00", "2026-11-02 09:12:00+08:00", "2026-11-02t09:12:00+08:00",
        "2026-11-02T09:12+08:00", "2026-11-02T09:12:00.5+08:00", "2026-11-02T09:12:00+0800",
        "2026-02-30T09:12:00+08:00", "2026-02-29T09:12:00+08:00", "2028-02-29T09:12:00+08:00",
        "1999-12-31T09:12:00+08:00", "2100-01-01T00:00:00+08:00", "2099-12-31T23:59:59-12:00",
        "2026-11-02T24:00:00+08:00", "2026-11-02T09:12:60+08:00", "2026-11-02T09:12:00+08:00\n",
        "2026-11-02T09:12:00", "", 1700000000]),
    st.datetimes().map(lambda moment: moment.isoformat() + "+08:00"))
values = st.one_of(st.none(), st.booleans(), st.integers(-2, 1000), st.floats(allow_nan=False),
                   st.text(max_size=5), st.just([]), st.just({}))
FIELDS = {
    "version": st.one_of(st.just(1), st.just(1.0), st.just(2), st.just(True), values),
    "event_id": codes, "case_no": codes, "item_code": codes, "dept_code": codes,
    "district_code": st.one_of(st.sampled_from(["440605", "4406", "４４０６０５", "440605\n"]),
                               codes),
    "event_type": st.one_of(st.sampled_from([e.value for e in EventType] + ["受理了"]), values),
    "occurred_at": times,
    "actor": st.one_of(st.fixed_dictionaries({"id": codes, "name": st.text(max_size=102)}),
                       st.just({"id": "S1"}), st.just({"id": "S1", "name": "李", "x": 1}),
                       values),
    "window_no": st.one_of(st.integers(-1, 1001), st.just(3.0), st.just(2.5), values),
    "reason": st.one_of(st.text(max_size=5), st.just("很" * 2001), st.just("\ud800"), values),
    "case_type": st.one_of(st.sampled_from(["即办件", "承诺件", "联办件", "x"]), values),
    "fee_amount": st.one_of(st.sampled_from(["9.00", "007.50", 9, 9.5]), values),
    "procedure_kind": st.one_of(st.just("听证"), values),
    "extension_days": st.one_of(st.integers(0, 400), values),
    "to_dept_code": codes,
    "colour": values,
}


@st.composite
def records(draw) -> str:
    record = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4, unique=True)):
        value = draw(st.one_of(st.just(DROP), FIELDS[name]))
        if value is DROP:
            record.pop(name, None)
        else:
            record[name] = value
    return json.dumps(record, ensure_ascii=draw(st.booleans()))


def assert_same_as_model(text: str) -> None:
    fast = read_event(text)
    if fast is None:
        return
    event, body = fast
    model = _model(text, strict=True)  # raises if the fast path took what the model refuses
    assert body == _dump(model, exclude_none=True).decode("utf-8")
    for name in CaseEvent.model_fields:
        if name != "actor":
            assert getattr(event, name) == getattr(model, name), name
    assert (event.actor.id, event.actor.name) == (model.actor.id, model.actor.name)
    assert (event.local_date, event.stage_rank) == (model.local_date, model.stage_rank)


@settings(max_examples=800, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_the_fast_path_takes_nothing_the_model_refuses(text):
    assert_same_as_model(text)


def test_a_platform_record_of_the_common_shape_goes_the_fast_way():
    assert read_event(raw()) is not None
    assert read_event(raw(event_type="不予受理", reason="材料不齐", case_type="即办件"))
    assert isinstance(judge(0, raw()).event, FastEvent)


def test_refused_records_get_the_models_messages_whichever_way():
    for label, text, field, words in BAD_RECORDS:
        assert read_event(text) is None, label
        outcome = judge(0, text)
        assert isinstance(outcome, Rejection), label
        assert any(e["field"] == field and words in e["message"] for e in outcome.errors), label


def test_forms_left_to_the_model_are_still_accepted_as_it_writes_them():
    for text in (raw(occurred_at="2026-11-02T01:12:00Z"), raw(window_no=3.0),
                 raw(event_type="收费", fee_amount="9.00"), raw(version=1.0),
                 raw(occurred_at="2026-11-02 09:12+0800")):
        assert read_event(text) is None
        outcome = judge(0, text)
        assert not isinstance(outcome, Rejection)
        assert outcome.body == _dump(_model(text, strict=True), exclude_none=True).decode()
