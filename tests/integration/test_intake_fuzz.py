"""Fuzzing the box's intake with Hypothesis against a real server (issue 15).

A real box (build_box with the 4-window profile, served by waitress on 127.0.0.1, its SQLite
file on disk) gets random bodies: JSON arrays and NDJSON of case events and evaluations whose
every field may be right, of the wrong type, out of range, deeply nested, a 5,000-digit number,
text with lone surrogates or U+2028/U+2029/U+0085, invalid UTF-8, or plain random bytes; and
the daily reconciliation's body, the same way.
For every request:

- the answer is never a 500 (and no exception is logged);
- every record sent is accounted for: accepted, an identical duplicate, or quarantined
  (rejected or conflicting), and the box's tables grew by exactly those numbers;
- afterwards the box still serves its pages, takes a good record, and its database passes
  ``PRAGMA quick_check``.

The examples are bounded (``max_examples``) so the whole file runs in well under a minute.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import urllib.request

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from standard.storecheck import quick_check
from tests.boxes import keyed_box_in_process, post_body

EVENTS = "/api/v1/platform/events"
EVALUATIONS = "/api/v1/evaluations"
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Errors(logging.Handler):
    """Collects every ERROR the box logs (a caught bug still logs its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    errors = Errors()
    logging.getLogger().addHandler(errors)
    try:
        with keyed_box_in_process(tmp_path_factory.mktemp("fuzzbox")) as (box, url):
            yield box, url, errors
    finally:
        logging.getLogger().removeHandler(errors)


# -- what a platform (or an attacker) can put in a field ------------------------------------
SURROGATES = st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010, exclude_categories=())
ODD_TEXT = st.sampled_from(range(4)).flatmap(lambda n: st.one_of(
    st.text(max_size=12), st.text(SURROGATES, max_size=4),
    st.sampled_from(["李\u2028敏", "a\u2029b", "c\u0085d", "\ud800x", "\udfff", "", " ", "\x00"]))
    if n == 3 else st.text(min_size=1, max_size=12))
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ODD_TEXT)
ANY_JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(ODD_TEXT, inner, max_size=3), max_leaves=8)


def mostly(good: st.SearchStrategy, odd: st.SearchStrategy, odds: int = 10
           ) -> st.SearchStrategy:
    """``good`` nine times in ``odds``, else ``odd`` (one_of would draw them half and half)."""
    return st.sampled_from(range(odds)).flatmap(lambda n: odd if n == odds - 1 else good)


def field(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a good value, sometimes anything at all."""
    return mostly(good, ANY_JSON)


CODE = st.from_regex(r"[A-Z0-9][A-Z0-9\-]{0,10}", fullmatch=True)
ZONES = st.sampled_from([dt.timezone(dt.timedelta(hours=h)) for h in (8, 0, -5)])
WHEN = mostly(st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31), timezones=ZONES),
              st.datetimes(timezones=ZONES)).map(lambda moment: moment.isoformat("T", "seconds"))
EVENT = st.builds(
    lambda required, common, rare: {**required, **common, **rare},
    st.fixed_dictionaries({
        "event_id": field(st.sampled_from(["F-1", "F-2", "F-3"]) | CODE),
        "case_no": field(CODE), "item_code": field(st.just("440605-SCJ-002") | CODE),
        "dept_code": field(st.just("440605SCJ")), "district_code": field(st.just("440605")),
        "event_type": mostly(st.just("受理"), st.sampled_from([
            "申请", "承办", "审核", "批准", "办结", "收费", "延期", "不予受理", "补正开始",
            "特别程序开始", "分送"]), odds=3),
        "occurred_at": field(WHEN),
        "actor": field(st.fixed_dictionaries({"id": field(CODE), "name": field(ODD_TEXT)}))}),
    st.fixed_dictionaries({}, optional={
        "window_no": field(st.integers(1, 4) | st.integers(-5, 1200)), "reason": field(ODD_TEXT),
        "case_type": field(st.sampled_from(["即办件", "承诺件", "联办件"])),
        "version": field(st.just(1))}),
    mostly(st.just({}), st.fixed_dictionaries({}, optional={  # fields most events must not have
        "fee_amount": field(st.decimals(places=3, allow_nan=False).map(str)),
        "extension_days": field(st.integers(-1, 400)),
        "procedure_kind": field(st.sampled_from(["听证", "检验", "鉴定"])),
        "to_dept_code": field(CODE), "colour": ANY_JSON}), odds=4))
EVALUATION = st.fixed_dictionaries(
    {"version": field(st.just(1)), "evaluation_id": field(CODE),
     "channel": field(st.sampled_from(["二维码", "网上", "短信", "12345", "自助终端"])),
     "case_no": field(CODE), "level": field(st.integers(0, 6)), "rated_at": field(WHEN)},
    optional={"tags": field(st.lists(ODD_TEXT, max_size=12)), "text": field(ODD_TEXT),
              "citizen_name": field(ODD_TEXT), "citizen_phone": field(ODD_TEXT)})
# Records written as text: JSON (either escaping), or what JSON parsers choke on.
STRANGE = st.one_of(st.integers(1, 1500).map(lambda n: "[" * n + "]" * n),
                    st.integers(1, 1200).map(lambda n: '{"a":' * n + "1" + "}" * n),
                    st.integers(4000, 6000).map(lambda n: "9" * n),
                    st.sampled_from(["NaN", '"\\ud800"', "{", "[1,", "{}", "null"]))


def as_text(record: st.SearchStrategy) -> st.SearchStrategy:
    """One record's text: JSON of ``record`` (escaped or not), or a strange fragment."""
    return mostly(st.builds(json.dumps, record, ensure_ascii=st.booleans()), STRANGE)


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogatepass")  # lone surrogates: invalid UTF-8


@st.composite
def bodies(draw, record: st.SearchStrategy) -> tuple[bytes, int | None]:
    """(body, records sent); None when the body is not meant to be cut into records."""
    texts = draw(st.lists(as_text(record), min_size=1, max_size=8))
    form = draw(st.sampled_from(["array"] * 3 + ["ndjson"] * 3 + ["crlf", "bytes"]))
    if form == "array":
        return encode("[" + ", ".join(texts) + "]"), None if _broken(texts) else len(texts)
    if form in ("ndjson", "crlf"):
        end = "\r\n" if form == "crlf" else "\n"
        lines = [t for t in texts if t.strip(" \t\r\x0b\x0c")]
        blank = draw(st.sampled_from(["", end, end + "  " + end]))
        # A body whose first record opens with "[" is a JSON array, by the API's own rule.
        return encode(blank + end.join(lines) + end), None if lines[0].startswith("[") \
            else len(lines)
    raw = draw(st.binary(max_size=600))
    return raw, None


def _broken(texts: list[str]) -> bool:
    return any(t in ("{", "[1,") for t in texts)


# -- the checks ------------------------------------------------------------------------------
def counts(box, table: str) -> tuple[int, int]:
    with sqlite3.connect(f"file:{box.config.db_path}?mode=ro", uri=True, timeout=30) as db:
        return (db.execute("select count(*) from quarantine").fetchone()[0],
                db.execute(f"select count(*) from {table}").fetchone()[0])


def check_answer(served, path: str, table: str, body: bytes, sent: int | None) -> None:
    box, url, errors = served
    quarantined, stored = counts(box, table)
    status, answer = post_body(url + path, body, box.platform_token)
    new_quarantined, new_stored = counts(box, table)
    assert status in (200, 400, 422), (status, answer, body[:200])
    event(f"answer {status}")  # shown by --hypothesis-show-statistics
    assert not errors.records, [r.getMessage() for r in errors.records]
    if status == 400:  # the body itself could not be cut into records: kept whole
        assert "error" in answer and new_quarantined - quarantined == 1
        assert new_stored == stored
        return
    conflicts = answer.get("conflicts", 0)
    refused = len(answer["rejected"]) + conflicts
    taken = answer["accepted"] + answer["duplicates"]
    if sent is not None:
        assert taken + refused == sent, (answer, body[:300])
    assert new_quarantined - quarantined == refused
    assert new_stored - stored == answer["accepted"]
    assert (status == 422) == (taken == 0 and refused > 0)
    event("some accepted" if answer["accepted"] else "none accepted")


@FUZZ
@given(body=bodies(EVENT))
def test_case_events_every_record_accounted_for_and_never_a_500(served, body):
    check_answer(served, EVENTS, "case_events", *body)


@FUZZ
@given(body=bodies(EVALUATION))
def test_evaluations_every_record_accounted_for_and_never_a_500(served, body):
    check_answer(served, EVALUATIONS, "ratings", *body)


RECONCILIATION = "/api/v1/platform/reconciliation"
COUNTS = st.fixed_dictionaries(
    {"version": field(st.just(1)), "date": field(st.dates(dt.date(2026, 1, 1),
                                                         dt.date(2026, 12, 31)).map(str)),
     "counts": field(st.lists(st.fixed_dictionaries({
         "item_code": field(st.just("440605-SCJ-002") | CODE),
         "count": field(st.integers(0, 50) | st.integers(-5, 10**12))}), max_size=4))},
    optional={"district_code": field(st.just("440605"))})


@FUZZ
@given(body=st.one_of(st.builds(json.dumps, COUNTS, ensure_ascii=st.booleans()).map(encode),
                      as_text(COUNTS).map(encode), st.binary(max_size=300)))
def test_reconciliations_are_answered_200_or_422_and_a_refused_body_is_kept(served, body):
    box, url, errors = served
    quarantined, _ = counts(box, "case_events")
    status, answer = post_body(url + RECONCILIATION, body, box.platform_token)
    assert status in (200, 422), (status, answer, body[:200])
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert counts(box, "case_events")[0] - quarantined == (status == 422)
    event(f"answer {status}")


def test_the_box_is_healthy_afterwards(served):
    box, url, errors = served
    with urllib.request.urlopen(url + "/login", timeout=30) as page:
        assert page.status == 200
    good = {"event_id": "AFTER-1", "case_no": "AFTER-1", "item_code": "440605-SCJ-002",
            "dept_code": "440605SCJ", "district_code": "440605", "event_type": "受理",
            "occurred_at": "2026-11-23T09:00:00+08:00", "actor": {"id": "S1", "name": "李敏"}}
    status, answer = post_body(url + EVENTS, json.dumps([good]).encode(), box.platform_token)
    assert (status, answer["accepted"]) == (200, 1)
    assert box.checker.wait_idle(timeout=60)
    assert quick_check(box.config.db_path) is None
    assert not errors.records, [r.getMessage() for r in errors.records]
