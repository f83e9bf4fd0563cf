"""Fuzzing the hub's 12345 intake with Hypothesis against a real hub server (issue 15), on
SQLite and PostgreSQL.

A real hub (seeded, served by waitress on 127.0.0.1) gets random bodies on
``POST /api/v1/complaints``: JSON arrays, NDJSON (``\\n`` or ``\\r\\n``) and single
pretty-printed objects of tickets whose every field may be right, of the wrong type, out of
range, deeply nested, a 5,000-digit number, text with lone surrogates or U+2028/U+2029/U+0085,
invalid UTF-8; or plain random bytes. The strategies are the box's (test_intake_fuzz.py).
For every request:

- the answer is 200, 400 or 422, never a 500 (and no error is logged);
- every record sent is accounted for: created or an identical duplicate, or quarantined
  (rejected or conflicting), and the tables grew by exactly those numbers (a 400 keeps the
  body whole: one quarantine row);
- afterwards the hub still serves its pages, takes a good ticket, and (SQLite) its database
  passes ``PRAGMA quick_check``.

The examples are bounded (``max_examples``).
"""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from standard.districts import DISTRICTS
from standard.storecheck import quick_check
from tests.integration.test_hub_complaint_intake import Hub, served as served  # noqa: F401
from tests.integration.test_intake_fuzz import (
    ANY_JSON,
    CODE,
    FUZZ,
    ODD_TEXT,
    WHEN,
    Errors,
    bodies,
    encode,
    field,
    mostly,
)

TICKET = st.builds(
    lambda required, optional, rare, extra: {**required, **optional, **rare, **extra},
    st.fixed_dictionaries({
        "version": field(st.just(1)), "ticket_no": field(CODE | st.sampled_from(["T-1", "T-2"])),
        "kind": field(st.sampled_from(["投诉", "举报", "建言"])),
        "subject": field(ODD_TEXT), "content": field(ODD_TEXT), "received_at": field(WHEN)}),
    st.fixed_dictionaries({}, optional={
        "district_code": field(st.sampled_from(sorted(DISTRICTS))),
        "dept": field(st.sampled_from(["SCJ", "WJJ"])), "contact_name": field(ODD_TEXT),
        "contact_phone": field(ODD_TEXT), "publish": field(st.booleans())}),
    mostly(st.just({}), st.fixed_dictionaries({}, optional={
        "case_no": field(CODE), "colour": ANY_JSON}), odds=4),
    mostly(st.just({}), st.dictionaries(ODD_TEXT, ANY_JSON, max_size=2)))  # any key: "\x00"
PRETTY = st.builds(lambda record: (encode(json.dumps(record, indent=2, ensure_ascii=False)), 1),
                   TICKET)


@pytest.fixture(scope="module")
def errors():
    handler = Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@FUZZ
@given(body=st.one_of(bodies(TICKET), PRETTY))
def test_every_record_is_accounted_for_and_never_a_500(served: Hub, errors, body):
    raw, sent = body
    complaints, quarantined = served.counts()
    status, answer = served.post(raw)
    new_complaints, new_quarantined = served.counts()
    assert status in (200, 400, 422), (status, answer, raw[:200])
    event(f"answer {status}")
    assert not errors.records, [r.getMessage() for r in errors.records]
    if status == 400:  # the body could not be cut into records: kept whole
        assert answer["error"] and new_quarantined - quarantined == 1
        assert new_complaints == complaints
        return
    refused = len(answer["rejected"]) + answer["conflicts"]
    taken = answer["accepted"] + answer["duplicates"]
    if sent is not None:
        assert taken + refused == sent, (answer, raw[:300])
    assert new_quarantined - quarantined == refused == answer["quarantined"]
    assert new_complaints - complaints == answer["accepted"]
    assert (status == 422) == (taken == 0)
    for refusal in answer["rejected"]:
        assert all(e["field"] and e["message"] for e in refusal["errors"])
    event("some accepted" if answer["accepted"] else "none accepted")


def test_the_hub_is_healthy_afterwards(served: Hub, errors):
    with urllib.request.urlopen(served.url + "/login", timeout=30) as page:
        assert page.status == 200
    good = {"version": 1, "ticket_no": "AFTER-FUZZ-1", "kind": "建言", "subject": "延长午间办理",
            "content": "建议午间安排窗口值班。", "received_at": "2026-11-23T09:00:00+08:00"}
    status, answer = served.post(json.dumps(good, ensure_ascii=False).encode())
    assert (status, answer["accepted"]) == (200, 1)
    if served.store.engine.name == "sqlite":
        assert quick_check(served.dashboard.config.db_path) is None
    assert not errors.records, [r.getMessage() for r in errors.records]
