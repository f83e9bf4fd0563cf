"""The field mapping: a platform's rows as standard records, and mapping errors named clearly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.config import load_box_config
from edge.ingest import validate
from edge.integration import INTEGRATION_SCHEMA, Mapping, MappingRefused, RowMapper, Sink
from edge.integration import load_rows
from edge.store import Store
from hallwatch.exchange import MAPPING_FILE, PlatformRows
from hallwatch.sim import Platform
from standard.configfile import ConfigError, load_toml

START = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)


def example_mapper() -> RowMapper:
    return RowMapper(load_toml(MAPPING_FILE, Mapping))


def platform_row(**changes) -> dict:
    row = {"xh": 1, "sblsh": "NH2026000001", "hjxh": 1, "sxbm": "440605-SCJ-001",
           "bmdm": "440605SCJ", "xzqh": "440605", "hjdm": "02", "clsj": "2026-11-02 09:15:00",
           "blrgh": "S017", "blrxm": "李敏", "ckh": 3, "yj": None, "sfje": None, "bjlx": "2",
           "tbcx": None, "yqts": None, "fsbm": None}
    row.update(changes)
    return row


def test_the_example_platform_rows_become_the_events_it_was_given():
    events = list(Platform("440607").backlog(START, 5, 12))
    mapper = example_mapper()
    for event, row in zip(events, PlatformRows().rows(events)):
        record = mapper.record(row)
        assert not hasattr(validate(0, json.dumps(record, ensure_ascii=False)), "errors")
        assert record.pop("event_id").startswith("SL-")
        assert record == {k: v for k, v in event.items() if k != "event_id"}


def test_codes_naive_times_and_the_hashed_event_id():
    mapper = example_mapper()
    record = mapper.record(platform_row())
    assert record["event_type"] == "受理" and record["case_type"] == "承诺件"
    assert record["occurred_at"] == "2026-11-02T09:15:00+08:00"  # naive: the mapping's zone
    assert record["actor"] == {"id": "S017", "name": "李敏"} and record["window_no"] == 3
    # The same row is the same id (a re-read is a duplicate); another step is another id.
    assert mapper.record(platform_row())["event_id"] == record["event_id"]
    assert mapper.record(platform_row(hjxh=2))["event_id"] != record["event_id"]
    # A driver's Decimal or float for the same number does not change the id.
    from decimal import Decimal
    assert mapper.record(platform_row(hjxh=Decimal("1")))["event_id"] == record["event_id"]
    assert mapper.record(platform_row(hjxh=1.0))["event_id"] == record["event_id"]


def test_times_from_drivers_and_exports():
    mapper = example_mapper()
    aware = dt.datetime(2026, 11, 2, 1, 15, tzinfo=dt.timezone.utc)
    assert mapper.record(platform_row(clsj=aware))["occurred_at"] == "2026-11-02T01:15:00+00:00"
    naive = dt.datetime(2026, 11, 2, 9, 15)
    assert mapper.record(platform_row(clsj=naive))["occurred_at"] == "2026-11-02T09:15:00+08:00"
    assert mapper.record(platform_row(clsj="20261102091500"))["occurred_at"] == \
        "2026-11-02T09:15:00+08:00"  # time_formats in the example mapping
    assert mapper.record(platform_row(clsj="2026/11/02 09:15"))["occurred_at"] == \
        "2026-11-02T09:15:00+08:00"
    shanghai = RowMapper(Mapping.model_validate({**_minimal(), "timezone": "Asia/Shanghai"}))
    assert shanghai.record(platform_row())["occurred_at"] == "2026-11-02T09:15:00+08:00"


def test_a_row_the_mapping_cannot_fill_is_refused_naming_the_key_to_fix():
    mapper = example_mapper()
    with pytest.raises(MappingRefused) as refused:
        mapper.record(platform_row(hjdm="99", clsj="下午三点"))
    fields = {p["field"]: p["message"] for p in refused.value.problems}
    assert "codes.event_type" in fields["event_type"] and '"99"' in fields["event_type"]
    assert "time_formats" in fields["occurred_at"] and "下午三点" in fields["occurred_at"]
    assert mapper.missing_columns(["SBLSH", "sxbm"])[0] == 'fields.dept_code = "bmdm"'


def _minimal(**extra) -> dict:
    return {"fields": {"case_no": "sblsh", "item_code": "sxbm", "dept_code": "bmdm",
                       "event_type": "hjdm", "occurred_at": "clsj", "actor_id": "blrgh",
                       "actor_name": "blrxm"},
            "constants": {"district_code": "440605"},
            "codes": {"event_type": {"02": "受理"}},
            "event_id": {"columns": ["sblsh", "hjxh"]}, **extra}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda m: m["fields"].update(case_nr="x"), "fields.case_nr: unknown key (check the spelling)"),
    (lambda m: m["fields"].pop("case_no"),
     "fields.case_no is missing: name the platform column that holds 办件编号"),
    (lambda m: m["codes"]["event_type"].update({"03": "受里"}),
     'codes.event_type."03" = "受里" is not a standard value: use one of'),
    (lambda m: m.update(timezone="Beijing"), "timezone 'Beijing' is not known"),
    (lambda m: m.pop("event_id"), "fields.event_id is missing: name the platform's own row id"),
    (lambda m: m["codes"].update(case_type={"1": "即办件"}),
     "codes.case_type translates a field no column fills: add fields.case_type"),
    (lambda m: m["constants"].update(colour="red"), "'colour' is not a standard field"),
])
def test_mapping_errors_name_the_key_and_the_fix(tmp_path: Path, change, expected):
    import tomli_w

    mapping = _minimal()
    change(mapping)
    (tmp_path / "mapping.toml").write_text(tomli_w.dumps(mapping), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_toml(tmp_path / "mapping.toml", Mapping)
    assert expected in str(error.value)
    assert "mapping.toml: invalid configuration" in str(error.value)


def test_a_mapping_error_inside_box_toml_names_the_source(tmp_path: Path):
    (tmp_path / "box.toml").write_text(
        'version = 1\nbox_id = "440605-01"\ndistrict_code = "440605"\n'
        'catalogue = "catalogue.json"\n'
        '[[sources]]\nname = "nh"\nkind = "folder"\nfolder = "in"\n'
        '[sources.mapping]\ntimezone = "+08:00"\n[sources.mapping.fields]\ncase_no = "a"\n'
        'itme_code = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_box_config(tmp_path / "box.toml")
    assert "sources.0.mapping.fields.itme_code: unknown key (check the spelling)" in \
        str(error.value)


@pytest.mark.parametrize(("source", "expected"), [
    ('name = "a"\nkind = "database"\ntable = "t"\nwatermark = "xh"\nmapping_file = "m.toml"',
     "source a: give url or url_file"),
    ('name = "a"\nkind = "database"\nurl = "sqlite:///x.db"\ntable = "t"\n'
     'mapping_file = "m.toml"', "source a: watermark is missing"),
    ('name = "a"\nkind = "folder"\nfolder = "in"\nwatermark = "xh"\nmapping_file = "m.toml"',
     'source a: watermark is not for kind = "folder"'),
    ('name = "a"\nkind = "folder"\nfolder = "in"', "source a: give mapping_file"),
])
def test_source_sections_say_what_is_missing(tmp_path: Path, source: str, expected: str):
    (tmp_path / "box.toml").write_text(
        'version = 1\nbox_id = "440605-01"\ndistrict_code = "440605"\n'
        f'catalogue = "catalogue.json"\n[[sources]]\n{source}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_box_config(tmp_path / "box.toml")
    assert expected in str(error.value)


# -- fuzzing the intake --------------------------------------------------------------------
cells = st.one_of(st.none(), st.text(max_size=30), st.integers(-10**12, 10**12),
                  st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                  st.datetimes(min_value=dt.datetime(1900, 1, 1)),
                  st.decimals(allow_nan=True), st.binary(max_size=10))
column_names = st.sampled_from(["sblsh", "hjxh", "sxbm", "bmdm", "xzqh", "hjdm", "clsj", "blrgh",
                                "blrxm", "ckh", "yj", "sfje", "bjlx", "tbcx", "yqts", "fsbm",
                                "SBLSH", "其他"])
rows = st.one_of(
    st.dictionaries(column_names, cells, max_size=18),
    st.builds(lambda base, extra: {**base, **extra},
              st.just(platform_row()), st.dictionaries(column_names, cells, max_size=4)))


@settings(max_examples=300, deadline=None)
@given(rows)
def test_any_row_is_mapped_or_refused_with_named_fields(row):
    mapper = example_mapper()
    try:
        record = mapper.record(row)
    except MappingRefused as refused:
        assert refused.problems and all(p["field"] and p["message"] for p in refused.problems)
        return
    outcome = validate(0, json.dumps(record, ensure_ascii=False))
    assert hasattr(outcome, "event_id") or outcome.errors


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.recursive(
    st.one_of(st.none(), st.text(max_size=10), st.integers(), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10), max_size=6))
def test_any_mapping_document_is_taken_or_refused_by_validation(document):
    try:
        Mapping.model_validate(document)
    except ValidationError:
        pass


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("fuzz") / "box.db", box_id="440605-01")
    store.extra_schema.append(INTEGRATION_SCHEMA)
    yield store.open()
    store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(rows, min_size=1, max_size=8))
def test_every_row_given_is_stored_duplicated_or_quarantined(store, batch):
    before = store.query("select (select count(*) from case_events) as events,"
                         " (select count(*) from quarantine) as kept")[0]
    loaded = load_rows(Sink(store), example_mapper(), enumerate(batch), source="fuzz",
                       one_transaction=True)
    result = loaded.result
    # A known event_id with other content is a conflict: quarantined too (edge/ingest.py).
    refused = len(result.rejected) + len(result.conflicts)
    assert result.accepted + result.duplicates + refused == len(batch)
    after = store.query("select (select count(*) from case_events) as events,"
                        " (select count(*) from quarantine) as kept")[0]
    assert after["events"] - before["events"] == result.accepted
    assert after["kept"] - before["kept"] == refused
