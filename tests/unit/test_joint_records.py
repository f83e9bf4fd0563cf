"""Joint cases (联办件) in the standard: 分送/反馈 events and catalogue joint_depts are valid,
stored and relayed; malformed ones are refused with the field named. Records valid before stay
valid. (Deadlines per participating department are the rules' business, not tested here.)"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from edge.filefeed import file_records
from edge.ingest import ingest_texts
from edge.store import Store
from standard.catalogue import load_catalogue
from standard.records import CatalogueItem
from standard.schema import DEFAULT_DIR
from tests.unit.test_ingest import GOOD, raw

JOINT = DEFAULT_DIR / "examples" / "joint.ndjson"
ITEM = {
    "item_code": "440605-FGJ-010", "name": "企业投资项目核准", "dept_code": "440605FGJ",
    "dept_name": "发展和改革局", "legal_days": 45, "promised_days": 20, "fee_yuan": "0.00",
    "case_type": "联办件", "legal_basis": "《企业投资项目核准和备案管理条例》",
    "joint_depts": [{"dept_code": "440605ZJJ", "dept_name": "住房和城乡建设局", "days": 15},
                    {"dept_code": "440605JTJ", "dept_name": "交通运输局", "days": 10}],
}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "box.db", box_id="440605-01") as opened:
        yield opened


def test_a_joint_case_is_accepted_stored_and_queued_for_the_hub(store):
    result = ingest_texts(store, file_records(JOINT), source="joint.ndjson")
    assert result.accepted == 9 and not result.rejected
    kinds = [r["event_type"] for r in store.query(
        "select event_type from case_events order by occurred_at")]
    assert kinds.count("分送") == 2 and kinds.count("反馈") == 2
    bodies = [json.loads(r["body"])["body"]
              for r in store.query("select body from outbox_records")]
    assert {b.get("to_dept_code") for b in bodies if b["event_type"] == "分送"} == {
        "440605ZJJ", "440605JTJ"}
    [case] = store.query("select case_no, dept_code, is_open from cases")
    assert case["dept_code"] == "440605FGJ" and case["is_open"] == 0  # the lead's case, 办结


MALFORMED_DISPATCH = [
    (raw(event_type="分送"), "to_dept_code is required for 分送"),
    (raw(event_type="分送", to_dept_code=""), "at least 1 character"),
    (raw(event_type="受理", to_dept_code="440605ZJJ"), "to_dept_code is only for 分送"),
    (raw(event_type="反馈", to_dept_code="440605ZJJ"), "to_dept_code is only for 分送"),
]


@pytest.mark.parametrize("text, message", MALFORMED_DISPATCH)
def test_malformed_dispatch_is_refused_with_the_field_named(store, text, message):
    result = ingest_texts(store, [(0, text)], source="test")
    [rejection] = result.rejected
    assert message in rejection.reason


def test_feedback_needs_nothing_beyond_an_ordinary_event(store):
    result = ingest_texts(store, [(0, raw(event_type="反馈", reason="同意"))], source="test")
    assert result.accepted == 1


def test_joint_depts_are_read_from_the_catalogue():
    item = CatalogueItem.model_validate_json(json.dumps(ITEM, ensure_ascii=False))
    assert [(d.dept_code, d.days) for d in item.joint_depts] == [("440605ZJJ", 15),
                                                                 ("440605JTJ", 10)]
    assert load_catalogue(DEFAULT_DIR / "examples" / "catalogue.json")[
        "440605-FGJ-010"].joint_depts[0].dept_code == "440605ZJJ"


@pytest.mark.parametrize("change, message", [
    ({"case_type": "承诺件"}, "joint_depts is only for 联办件"),
    ({"joint_depts": [ITEM["joint_depts"][0]] * 2}, "lists a dept_code twice"),
    ({"joint_depts": [{"dept_code": "440605FGJ", "dept_name": "发展和改革局", "days": 5}]},
     "must not list the lead department"),
    ({"joint_depts": [{"dept_code": "440605ZJJ", "dept_name": "住建", "days": 0}]},
     "greater than or equal to 1"),
    ({"joint_depts": [{"dept_code": "440605ZJJ", "dept_name": "住建", "days": "5"}]},
     "valid integer"),
    ({"joint_depts": [{"dept_code": "440605ZJJ", "days": 5}]}, "Field required"),
])
def test_bad_joint_depts_are_refused(change, message):
    with pytest.raises(ValidationError, match=message):
        CatalogueItem.model_validate_json(json.dumps({**ITEM, **change}, ensure_ascii=False))


def test_records_valid_before_stay_valid(store):
    """Additive to version 1: an item without joint_depts, a 联办件 without them, old events."""
    plain = {k: v for k, v in ITEM.items() if k != "joint_depts"}
    assert CatalogueItem.model_validate_json(json.dumps(plain, ensure_ascii=False)).joint_depts == []
    assert ingest_texts(store, [(0, json.dumps(GOOD, ensure_ascii=False))],
                        source="test").accepted == 1
