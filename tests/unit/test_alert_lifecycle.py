"""The department answers its card: 说明理由 and 整改报告, each accepted or returned by the hall,
then 过错责任 after the deadline; every step in the append-only trail and the outbox."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from edge.supervision.alerts import ActionNotAllowed, InvalidInput
from edge.supervision.lifecycle import Progress, allowed_actions
from standard.supervision import ACTION_NAMES, LIABILITY_OUTCOMES, STATE_NAMES
from tests.unit.test_notices import at, make_box


class Clock:
    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment


@pytest.fixture
def carded(tmp_path):
    clock = Clock(at("2026-11-06", "10:00"))
    box = make_box(tmp_path, clock=clock)
    box.accept("C1", "2026-11-02")
    box.engine.check(at("2026-11-06"))
    (alert,) = box.service.alerts(card="any")
    yield box, alert.id, clock
    box.store.close()


def outbox_alerts(box):
    return [json.loads(row["body"])["body"] for row in box.store.query(
        "select body from outbox where kind = 'alert' order by seq")]


def test_explanation_returned_once_then_accepted(carded):
    box, alert_id, _ = carded
    service = box.service
    first = service.explain(alert_id, "区市场监管局（nh-scj）", "系统故障导致延误。")
    assert first.state == "explained" and first.explanation == "pending"
    assert {"accept_explanation", "return_explanation"} <= set(first.allowed_actions)
    returned = service.return_explanation(alert_id, "王芳", "未说明具体原因和整改措施，请补充。")
    assert returned.state == "returned" and returned.explanation == "returned"
    assert "accept_explanation" not in returned.allowed_actions
    assert "close" not in returned.allowed_actions  # a returned explanation does not count
    with pytest.raises(ActionNotAllowed, match="no explanation waiting for review"):
        service.accept_explanation(alert_id, "王芳", "采纳")
    again = service.explain(alert_id, "区市场监管局（nh-scj）", "受理系统升级停机两天，已补办。")
    accepted = service.accept_explanation(alert_id, "王芳", "理由成立")
    assert (again.state, accepted.state, accepted.explanation) == \
        ("explained", "accepted", "accepted")
    assert "explain" not in accepted.allowed_actions and "close" in accepted.allowed_actions
    trail = [(e.action, e.from_state, e.to_state) for e in service.alert(alert_id).events][2:]
    assert trail == [("explain", "open", "explained"), ("return_explanation", "explained",
                                                        "returned"),
                     ("explain", "returned", "explained"),
                     ("accept_explanation", "explained", "accepted")]
    assert [a["state"] for a in outbox_alerts(box)][-4:] == \
        ["explained", "returned", "explained", "accepted"]


def test_report_on_a_card_returned_and_accepted(carded):
    box, alert_id, _ = carded
    service = box.service
    reported = service.report(alert_id, "区市场监管局", "已办结该件，建立每日时限巡检。")
    assert reported.state == "reported" and reported.report == "pending"
    assert "report" not in reported.allowed_actions
    service.return_report(alert_id, "区监察室李明", "未附责任人处理情况。")
    assert service.alert(alert_id).allowed_actions[:2] == ("explain", "report")
    service.report(alert_id, "区市场监管局", "补充：对经办人批评教育。")
    rectified = service.accept_report(alert_id, "区监察室李明", "整改到位")
    assert rectified.state == "rectified" and rectified.report == "accepted"
    with pytest.raises(ActionNotAllowed, match="no report waiting for review"):
        service.return_report(alert_id, "区监察室李明", "再退回")


def test_a_report_needs_a_card(tmp_path):
    box = make_box(tmp_path)
    box.accept("C1", "2026-11-02")
    box.engine.check(at("2026-11-04"))
    (warning,) = box.service.alerts(level="yellow")
    assert "report" not in warning.allowed_actions
    with pytest.raises(ActionNotAllowed, match="no card to report on"):
        box.service.report(warning.id, "区市场监管局", "整改")
    box.store.close()


def test_liability_only_after_the_deadline_and_shown_on_the_alert(carded):
    box, alert_id, clock = carded
    service = box.service
    due = service.alert(alert_id).card_due
    assert "liability" not in service.alert(alert_id).allowed_actions
    with pytest.raises(ActionNotAllowed, match=f"deadline {due} has not passed"):
        service.liability(alert_id, "区监察室李明", "education", "逾期")
    with pytest.raises(InvalidInput, match="unknown liability outcome"):
        service.liability(alert_id, "区监察室李明", "fine", "罚款")
    service.explain(alert_id, "区市场监管局", "原因")
    service.accept_explanation(alert_id, "王芳", "成立")
    service.close(alert_id, "区监察室李明", "已办结")
    clock.moment = at(due) + dt.timedelta(days=1)
    closed = service.alert(alert_id)
    assert closed.allowed_actions == ("liability",)
    recorded = service.liability(alert_id, "区监察室李明", "criticism", "超期办结，通报批评。")
    assert recorded.liability == "criticism" and recorded.state == "closed"
    assert recorded.events[-1].note == "通报批评：超期办结，通报批评。"
    assert outbox_alerts(box)[-1]["liability"] == "criticism"
    corrected = service.liability(alert_id, "区监察室李明", "admonition", "复核后改为诫勉谈话")
    assert corrected.liability == "admonition"
    assert [e.action for e in corrected.events].count("liability") == 2


def test_the_trail_stays_append_only(carded):
    box, alert_id, _ = carded
    box.service.explain(alert_id, "区市场监管局", "原因")
    conn = sqlite3.connect(box.store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("update alert_events set note = 'x' where action = 'explain'")
    conn.close()


def test_every_action_and_state_has_a_chinese_name():
    assert set(LIABILITY_OUTCOMES.values()) == {"不予追究", "批评教育", "通报批评", "诫勉谈话",
                                                "移送纪检监察"}
    for action in ("report", "accept_explanation", "return_explanation", "accept_report",
                   "return_report", "liability"):
        assert ACTION_NAMES[action]
    for state in ("accepted", "returned", "reported", "rectified"):
        assert STATE_NAMES[state]


def test_progress_from_the_trail():
    progress = Progress.from_actions(["open", "explain", "accept_explanation", "report"])
    assert (progress.explanation, progress.report, progress.explained) == \
        ("accepted", "pending", True)
    facts = {"state": "reported", "level": "red", "case_no": "C1", "card": "red",
             "card_due": "2026-11-20"}
    assert allowed_actions(facts, progress, dt.date(2026, 11, 9)) == \
        ("accept_report", "return_report", "close", "escalate")
