"""The published schemas and the box agree on every record: a vendor's validator is the box.

Every record of the ingest tests (valid and malformed), the examples, the conformance kit, a
set of boundary values per field and random records (Hypothesis) goes through the box's own validator and through ``jsonschema``
with its format checker (rfc3339-validator installed, as a vendor would run it). The verdicts
must be equal, so a new box rule without its schema counterpart fails here.

Two documented differences are checked as such, not skipped:
- compatibility forms (``standard.fields.compatibility_forms``): the box still takes them, the
  schema does not; the record in its standard form must get the box's verdict;
- the catalogue's rules across values (``standard.schema.BOX_CHECKS``), which JSON Schema cannot
  state: the box refuses exactly the schema-valid catalogues that break one of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.evaluations.intake import validate_evaluation
from edge.filefeed import file_records
from edge.ingest import Rejection, validate
from standard.fields import compatibility_forms, standard_form
from standard.records import MAX_RECORD_CHARS, Catalogue
from standard.schema import DEFAULT_DIR, schema_documents
from tests.integration.test_intake_fuzz import EVALUATION as RANDOM_EVALUATION
from tests.integration.test_intake_fuzz import EVENT as RANDOM_EVENT
from tests.unit import test_ingest, test_joint_records
from tests.unit.test_fast_records import records as near_common_shape

CONFORMANCE = DEFAULT_DIR / "conformance"
SCHEMAS = schema_documents()
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER
VALIDATORS = {name: jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
              for name, schema in SCHEMAS.items()}
EVENT = json.loads(test_ingest.raw())
EVALUATION = {"evaluation_id": "QR-1", "channel": "二维码", "case_no": "NH2026110001",
              "level": 2, "rated_at": "2026-11-06T10:05:00+08:00"}


def no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json would read NaN; JSON has none


def parsed(text: str) -> object | None:
    """The record a vendor's validator sees, or None for text that is not I-JSON (RFC 7493, as
    the standard's page requires: Python's json would read a lone surrogate escape)."""
    try:
        record = json.loads(text, parse_constant=no_constants)
    except ValueError:
        return None
    return record if _unicode(record) else None


def _unicode(value: object) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return all(_unicode(k) and _unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_unicode(v) for v in value)
    return True


def schema_accepts(schema_name: str, record: object | None) -> bool:
    return record is not None and VALIDATORS[schema_name].is_valid(record)


def assert_same_verdict(schema_name: str, text: str, box_accepts: bool) -> None:
    record = parsed(text)
    compat = compatibility_forms(record)
    if compat:
        assert not schema_accepts(schema_name, record), f"schema takes compatibility form {text}"
        record = standard_form(record)
    said = schema_accepts(schema_name, record)
    assert said == box_accepts, (
        f"box {'accepts' if box_accepts else 'refuses'} but the schema "
        f"{'accepts' if said else 'refuses'}: {text[:300]}"
        + ("" if said else f"\n  schema: {[e.message for e in VALIDATORS[schema_name].iter_errors(record)][:3]}"))


# -- the records ---------------------------------------------------------------------------
def kit_files(prefix: str) -> list:
    """The conformance kit's data files (not its .expected.txt answers) of one kind."""
    return sorted(path for path in CONFORMANCE.glob(f"*/{prefix}*")
                  if path.suffix in (".ndjson", ".json", ".csv"))


def event(**changes: object) -> str:
    record = {**EVENT, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not DROP}, ensure_ascii=False)


DROP = object()
TIMESTAMPS = [
    "2026-11-02T09:15:00+08:00", "2026-11-02T09:15:00Z", "2026-11-02T09:15:00.5-00:00",
    "2026-11-02T09:15:00.123456789+08:00", "2028-02-29T09:00:00+08:00", "2100-12-31T23:59:59+23:59",
    "2000-01-01T00:00:00Z",
    # compatibility forms
    "2026-11-02 09:15:00+08:00", "2026-11-02t09:15:00z", "2026-11-02T09:15+08:00",
    "2026-11-02T09:15:00,5+08:00", "2026-11-02T09:15:00+0800",
    # refused
    "2026-02-29T09:00:00+08:00", "2026-04-31T09:00:00+08:00", "2026-11-02T24:00:00+08:00",
    "2026-11-02T23:59:60+08:00", "2026-11-02T09:15:00+24:00", "2026-11-02T09:15:00+08:60",
    "2026-11-02T09:15:00", "2026-11-02", "1999-12-31T23:59:59+08:00", "2101-01-01T00:00:00Z",
    "2026-11-02T09:15:00+08:00\n", " 2026-11-02T09:15:00+08:00", "2026-11-02T09:15:00.+08:00",
    "20261102T091500+08:00", "2026-11-02T09:15:00+08", "２０２６-11-02T09:15:00+08:00", "",
    1700000000, None, True,
]
FEES = ["0", "0.5", "9.00", "9", "999999999.99", "000000001.10", 0, 9, 9.0, 999999999, 1e2,
        9.5, 0.07, 11.07, 999999999.99,  # numbers with decimals: compatibility forms
        "9.070", "12.345", "abc", "", " 9.00", "9.00 ", "1e2", "+5", "-1", "-0", ".5", "9.",
        "1_000", "٣", "1000000000", "9.00\n", 1.234, 11.069999999999999, -1, -0.5,
        1000000000, 1e10, True, None, [9], {"yuan": 9}]
CODES = ["E", "e.1_2-3", "x" * 64, "x" * 65, "", "E 1", "E-1\n", "Ｅ1", "编号", 7, None]
SHORT = ["李", "李" * 100, "李" * 101, "", " ", "😀" * 100, 5, None]
LONG = ["理由", "很" * 2000, "很" * 2001, "", None, 1]
WHOLE = [1, 3, 3.0, 2.5, "3", True, 0, -1, 365, 366, 999, 1000, 1e3, None]
KINDS = ["申请", "受理", "承办", "审核", "批准", "办结", "补正开始", "补正结束", "特别程序开始",
         "特别程序结束", "延期", "不予受理", "不予许可", "退回", "收费", "分送", "反馈",
         "受理了", "", None, 1]


def event_records() -> Iterator[str]:
    """Every case-event record of the ingest tests, the examples, the kit and the boundaries."""
    yield test_ingest.raw()
    for _label, text, _field, _words in test_ingest.BAD_RECORDS:
        yield text
    for text, _message in test_joint_records.MALFORMED_DISPATCH:
        yield text
    for name in ("events.ndjson", "events.json", "events.csv", "joint.ndjson"):
        for _, text in file_records(DEFAULT_DIR / "examples" / name):
            yield text
    for path in kit_files("events"):
        for _, text in file_records(path):
            yield text
    for value in TIMESTAMPS:
        yield event(occurred_at=value)
    for value in FEES:
        yield event(event_type="收费", fee_amount=value)
        yield event(event_type="退回", fee_amount=value)
    for kind in KINDS:
        yield event(event_type=kind)
        for field, value in (("procedure_kind", "听证"), ("extension_days", 5),
                             ("fee_amount", "9.00"), ("to_dept_code", "440605ZJJ")):
            yield event(event_type=kind, **{field: value})
            yield event(event_type=kind, **{field: None})
    yield event(event_type="特别程序结束", procedure_kind="开会")
    for field in ("event_id", "case_no", "item_code", "dept_code", "to_dept_code"):
        for value in CODES:
            yield event(**{field: value}, **({"event_type": "分送"} if field == "to_dept_code"
                                             else {}))
    for value in ["440605", "4406050", "44060", "440605\n", "４４０６０５", 440605, None]:
        yield event(district_code=value)
    for value in SHORT:
        yield event(actor={"id": "S1", "name": value})
    for actor in ({"id": "S1"}, {"id": "S1", "name": "李", "role": "x"}, "S1", None, []):
        yield event(actor=actor)
    for value in LONG:
        yield event(event_type="不予受理", reason=value)
    for value in WHOLE:
        yield event(window_no=value)
        yield event(event_type="延期", extension_days=value)
    for value in [1, 1.0, 2, "1", True, None]:
        yield event(version=value)
    for value in ["联办件", "即办件", "六件", None]:
        yield event(case_type=value)
    for field in EVENT:
        yield event(**{field: DROP})
    yield event(colour="red")
    yield from ("[1, 2]", "null", '"text"', "{", '{"event_id": NaN}', "{}")


def evaluation(**changes: object) -> str:
    record = {**EVALUATION, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not DROP}, ensure_ascii=False)


def evaluation_records() -> Iterator[str]:
    # The records of the evaluation tests (tests/unit/test_evaluations.py,
    # tests/integration/test_evaluations_api.py), then boundaries.
    yield evaluation(evaluation_id="S-1", channel="短信", case_no="NH1", level=4,
                     rated_at="2026-11-06T10:00:00+08:00")
    yield evaluation(evaluation_id="S-2", channel="微信", case_no="NH1", level="4",
                     rated_at="2026-11-06T10:00:00", mood="ok")
    yield evaluation(level="5")
    yield evaluation(level=9, channel="评价器", stars=5)
    yield json.dumps({"evaluation_id": "QR-5", "channel": "短信", "level": 3})
    yield evaluation(version=1, tags=["等候时间长"], text="排队一个小时", citizen_phone="13800138000")
    for path in kit_files("evaluations"):
        for _, text in file_records(path):
            yield text
    for value in TIMESTAMPS:
        yield evaluation(rated_at=value)
    for value in WHOLE + [5, 6]:
        yield evaluation(level=value)
    for value in ["二维码", "网上", "短信", "12345", "自助终端", "评价器", "默认好评", "", None]:
        yield evaluation(channel=value)
    for value in [[], ["好"], ["好"] * 10, ["好"] * 11, ["x" * 20], ["x" * 21], [""], "好", [1]]:
        yield evaluation(tags=value)
    for value in ["13800138000", "+86-138-0013-8000", "1380", "12345678901234567890",
                  "123456789012345678901", "138 0013 8000", "13800138000\n", "", None]:
        yield evaluation(citizen_phone=value)
    for value in SHORT:
        yield evaluation(citizen_name=value)
    for value in LONG:
        yield evaluation(text=value)
    for value in CODES:
        yield evaluation(evaluation_id=value)
        yield evaluation(case_no=value)
    for field in EVALUATION:
        yield evaluation(**{field: DROP})
    yield evaluation(stars=5)


def test_format_checks_are_on_as_a_vendor_runs_them():
    # Without rfc3339-validator, jsonschema skips "date-time" silently.
    assert not FORMATS.conforms("2026-02-30T09:00:00+08:00", "date-time")


@pytest.mark.parametrize("text", list(event_records()))
def test_case_events_get_the_same_verdict_from_box_and_schema(text):
    outcome = validate(0, text)
    assert_same_verdict("case-event.schema.json", text, not isinstance(outcome, Rejection))


@pytest.mark.parametrize("text", list(evaluation_records()))
def test_evaluations_get_the_same_verdict_from_box_and_schema(text):
    outcome = validate_evaluation(0, text)
    assert_same_verdict("evaluation.schema.json", text, not isinstance(outcome, Rejection))


# Beyond the lists: random records near the common shape and with any field of any type (the
# strategies of the fast-path and intake fuzz tests), so a box rule nobody listed a record for
# still has to be in the schema.
RANDOM = settings(max_examples=300, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@RANDOM
@given(st.one_of(near_common_shape(),
                 st.builds(json.dumps, RANDOM_EVENT, ensure_ascii=st.booleans())))
def test_random_case_events_get_the_same_verdict_from_box_and_schema(text):
    outcome = validate(0, text)
    assert_same_verdict("case-event.schema.json", text, not isinstance(outcome, Rejection))


@RANDOM
@given(st.builds(json.dumps, RANDOM_EVALUATION, ensure_ascii=st.booleans()))
def test_random_evaluations_get_the_same_verdict_from_box_and_schema(text):
    outcome = validate_evaluation(0, text)
    assert_same_verdict("evaluation.schema.json", text, not isinstance(outcome, Rejection))


def catalogue_item(**changes: object) -> dict:
    item = {**test_joint_records.ITEM, **changes}
    return {k: v for k, v in item.items() if v is not DROP}


def breaks_a_box_check(catalogue: object) -> bool:
    """The rules of standard.schema.BOX_CHECKS, written out independently of the models."""
    items = catalogue.get("items", []) if isinstance(catalogue, dict) else []
    codes = [item.get("item_code") for item in items]
    if len(codes) != len(set(codes)):
        return True
    for item in items:
        if item["promised_days"] > item["legal_days"]:
            return True
        joint = [dept["dept_code"] for dept in item.get("joint_depts") or []]
        if len(joint) != len(set(joint)) or item["dept_code"] in joint:
            return True
    return False


def catalogues() -> Iterator[dict]:
    yield json.loads((DEFAULT_DIR / "examples" / "catalogue.json").read_text(encoding="utf-8"))
    for path in kit_files("catalogue"):
        yield json.loads(path.read_text(encoding="utf-8"))
    changes: list[dict] = [
        {}, {"joint_depts": DROP}, {"joint_depts": []}, {"case_type": "承诺件"},
        {"case_type": "承诺件", "joint_depts": []},
        {"joint_depts": [test_joint_records.ITEM["joint_depts"][0]] * 2},
        {"joint_depts": [{"dept_code": "440605FGJ", "dept_name": "发改", "days": 5}]},
        {"promised_days": 46}, {"promised_days": 45}, {"legal_days": 366},
        {"legal_days": 10.0, "promised_days": 10}, {"fee_yuan": "9"}, {"fee_yuan": "9.00"},
        {"fee_yuan": "9.00\n"}, {"fee_yuan": 9}, {"stage_days": {"审核": 3}},
        {"stage_days": {"审核了": 3}}, {"stage_days": {"审核": "3"}}, {"materials": ["申请书"]},
        {"materials": [""]}, {"case_type": "六件"}, {"legal_basis": DROP}, {"colour": 1},
    ]
    for days in (0, 1, 365, 366, 5.0, "5", None):
        changes.append({"joint_depts": [{"dept_code": "440605ZJJ", "dept_name": "住建",
                                         "days": days}]})
    for change in changes:
        yield {"version": 1, "items": [catalogue_item(**change)]}
    yield {"version": 1, "items": [catalogue_item(), catalogue_item()]}
    yield {"version": 2, "items": []}
    yield {"items": []}


@pytest.mark.parametrize("catalogue", list(catalogues()))
def test_catalogues_get_the_same_verdict_except_the_documented_box_checks(catalogue):
    text = json.dumps(catalogue, ensure_ascii=False)
    try:
        Catalogue.model_validate_json(text, strict=True)
        box_accepts = True
    except ValidationError:
        box_accepts = False
    said = schema_accepts("catalogue.schema.json", catalogue)
    assert box_accepts == (said and not breaks_a_box_check(catalogue)), text[:300]


def test_a_compact_schema_valid_record_always_fits_the_record_limit():
    """The box's length check before parsing never refuses a record the schema allows."""
    widest = "\U0001F600"  # escaped as a surrogate pair: 12 characters of JSON text
    record = {**EVENT, "event_type": "特别程序开始", "procedure_kind": "专家评审",
              "reason": widest * 2000, "actor": {"id": "x" * 64, "name": widest * 100},
              "event_id": "x" * 64, "case_no": "x" * 64, "item_code": "x" * 64,
              "dept_code": "x" * 64, "case_type": "联办件", "window_no": 999,
              "occurred_at": "2026-11-02T09:15:00.123456789+08:00"}
    assert VALIDATORS["case-event.schema.json"].is_valid(record)
    assert len(json.dumps(record, separators=(",", ":"))) < MAX_RECORD_CHARS
    evaluation_record = {**EVALUATION, "text": widest * 2000, "citizen_name": widest * 100,
                         "tags": [widest * 20] * 10, "citizen_phone": "1" * 20}
    assert VALIDATORS["evaluation.schema.json"].is_valid(evaluation_record)
    assert len(json.dumps(evaluation_record, separators=(",", ":"))) < MAX_RECORD_CHARS
