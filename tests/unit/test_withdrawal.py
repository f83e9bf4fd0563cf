"""Verdicts that later-arriving events disprove are withdrawn, visibly and auditably.

Real SQLite files, the real 2026 calendar, the box's own ingest (as tests/unit/
test_rules_backlog.py). A case accepted Monday 2026-11-02 with a promised limit of 3 is due
Thursday 11-05; every event is dated 09:00 local on its day.
"""

from __future__ import annotations

import json

import pytest

from edge.ingest import ingest_texts
from edge.supervision.service import Supervision
from standard.supervision import STATE_NAMES
from tests.unit.test_rules_backlog import (  # noqa: F401 (box: a fixture)
    CATALOGUE,
    JOINT,
    JTJ,
    PLAIN,
    SCJ,
    ZJJ,
    at,
    box,
    item,
    make_box,
)


def audit(box, alert_id: int) -> list[dict]:
    return box.store.query("select * from alert_events where alert_id = ? order by id",
                           (alert_id,))


def test_an_overdue_card_disproven_by_a_late_arriving_on_time_finish_is_withdrawn(box):
    # The platform has sent 申请 and 受理 only; the rest comes after an outage.
    box.load("W1", ("11-02", "申请"), ("11-02", "受理"))
    box.engine.check(at("11-06"))
    overdue = box.alerts("W1")[(SCJ, "超期")]
    assert (overdue["state"], overdue["card"]) == ("open", "yellow")
    (number,) = [n["number"] for n in box.store.query("select number from notices")]
    box.load("W1", ("11-03", "承办"), ("11-04", "审核"), ("11-05", "批准"), ("11-05", "办结"))
    result = box.engine.check(at("11-06", "15:00"))
    assert result.withdrawn == [("case:W1", "超期")]
    alerts = box.alerts("W1")
    assert set(alerts) == {(SCJ, "超期")}                      # no 超期办结: it was on time
    withdrawn = alerts[(SCJ, "超期")]
    assert withdrawn["state"] == "withdrawn" and withdrawn["card"] == "yellow"
    assert STATE_NAMES["withdrawn"].startswith("已撤销")
    last = audit(box, withdrawn["id"])[-1]
    assert (last["actor"], last["action"], last["from_state"], last["to_state"]) == \
        ("system", "withdraw", "open", "withdrawn")
    # the evidence: the 办结 event (E00006, the sixth loaded), its time, the voided notice
    assert "E00006（办结，2026-11-05 09:00）" in last["note"]
    assert "未超过办结期限2026-11-05" in last["note"] and f"{number}作废" in last["note"]
    # Relayed: the alert with its new state and the audit entry go to the outbox.
    sent = [(row["kind"], json.loads(row["body"])["body"]) for row in box.store.query(
        "select kind, body from outbox_records order by seq")]
    relayed = [body for kind, body in sent if kind == "alert" and body["id"] == withdrawn["id"]]
    assert (relayed[-1]["state"], relayed[-1]["card"]) == ("withdrawn", "yellow")
    assert any(kind == "alert_event" and body["action"] == "withdraw" for kind, body in sent)
    # Nobody can act on it any more, the card never turns red, and passes leave it alone.
    view = Supervision(box.store, lambda: at("11-13")).alert(withdrawn["id"])
    assert view.allowed_actions == () and view.notices == [number]
    entries = len(audit(box, withdrawn["id"]))
    box.engine.check(at("11-13"))                               # the card's due date has passed
    assert box.store.query("select count(*) as n from notices")[0]["n"] == 1
    assert box.alerts("W1")[(SCJ, "超期")]["state"] == "withdrawn"
    assert len(audit(box, withdrawn["id"])) == entries


def test_a_case_that_really_finished_late_keeps_its_overdue_card_and_gets_finished_late(box):
    box.load("W2", ("11-02", "申请"), ("11-02", "受理"))
    box.engine.check(at("11-06", "15:00"))                       # 超期 opened at 15:00
    box.load("W2", ("11-03", "承办"), ("11-04", "审核"), ("11-05", "批准"), ("11-06", "办结"))
    result = box.engine.check(at("11-06", "16:00"))              # 办结 11-06 09:00: late
    assert result.withdrawn == []
    alerts = box.alerts("W2")
    assert alerts[(SCJ, "超期")]["state"] == "open" and alerts[(SCJ, "超期")]["cleared_at"]
    assert alerts[(SCJ, "超期")]["card"] == "yellow"
    assert alerts[(SCJ, "超期办结")]["state"] == "open"


def test_a_warning_is_withdrawn_only_when_the_finish_came_before_it(box):
    box.load("W3", ("11-02", "申请"), ("11-02", "受理"))
    box.load("W4", ("11-02", "申请"), ("11-02", "受理"))
    box.engine.check(at("11-04", "08:00"))                       # 临近时限 on both
    box.load("W3", ("11-03", "承办"), ("11-03", "审核"), ("11-03", "批准"), ("11-03", "办结"))
    box.load("W4", ("11-04", "承办"), ("11-04", "审核"), ("11-04", "批准"), ("11-04", "办结"))
    result = box.engine.check(at("11-04", "10:00"))
    assert result.withdrawn == [("case:W3", "临近时限")]          # finished the day before
    assert box.alerts("W3")[(SCJ, "临近时限")]["state"] == "withdrawn"
    assert box.alerts("W4")[(SCJ, "临近时限")]["state"] == "resolved"   # cured by action


def test_a_share_whose_feedback_arrives_late_but_dated_in_time_is_withdrawn(box):
    box.load("J2", ("11-02", "申请", {"case_type": "联办件"}), ("11-02", "受理"),
             ("11-02", "分送", {"to_dept_code": ZJJ}), ("11-04", "分送", {"to_dept_code": JTJ}),
             ("11-05", "承办", {"dept_code": JTJ}), ("11-05", "承办", {"dept_code": ZJJ}),
             ("11-05", "承办"), item_code=JOINT.item_code)
    box.engine.check(at("11-19"))                                 # 交通局's share was due 11-18
    late = box.alerts("J2")[(JTJ, "超期")]
    assert late["card"] == "yellow"
    box.load("J2", ("11-18", "反馈", {"dept_code": JTJ, "reason": "同意"}),
             item_code=JOINT.item_code)
    result = box.engine.check(at("11-19", "11:00"))
    assert ("case:J2:dept:440605JTJ", "超期") in result.withdrawn
    assert box.alerts("J2")[(JTJ, "超期")]["state"] == "withdrawn"
    note = audit(box, late["id"])[-1]["note"]
    assert "E00008（反馈，2026-11-18 09:00）" in note and "已反馈" in note
    box.engine.check(at("11-27"))                                 # no red card on a void one
    assert box.alerts("J2")[(JTJ, "超期")]["card"] == "yellow"


def test_a_stage_overtime_disproven_by_the_next_stage_arriving_late_is_withdrawn(tmp_path):
    """审核 may take 1 working day: started Tuesday 11-03, it looked overtime on Friday 11-06
    (a yellow card on 环节超时) until 批准 dated Wednesday 11-04 arrived."""
    staged = item("440605-SCJ-002", SCJ, promised_days=10, legal_days=20,
                  stage_days={"审核": 1})
    box = make_box(tmp_path / "box.db", catalogue={**CATALOGUE, staged.item_code: staged})
    try:
        box.load("S1", ("11-02", "申请"), ("11-02", "受理"), ("11-02", "承办"), ("11-03", "审核"),
                 item_code=staged.item_code)
        box.engine.check(at("11-06"))
        overtime = box.alerts("S1")[(SCJ, "环节超时")]
        assert overtime["card"] == "yellow"
        box.load("S1", ("11-04", "批准"), item_code=staged.item_code)
        result = box.engine.check(at("11-06", "15:00"))
        assert result.withdrawn == [("case:S1", "环节超时")]
        assert box.alerts("S1")[(SCJ, "环节超时")]["state"] == "withdrawn"
        note = audit(box, overtime["id"])[-1]["note"]
        assert "事件E00005（批准，2026-11-04 09:00）" in note and "环节超时并不成立" in note
        # 批准 dated after the alert opened, 审核 really took too long: the finding stands.
        box.load("S2", ("11-02", "申请"), ("11-02", "受理"), ("11-02", "承办"), ("11-03", "审核"),
                 item_code=staged.item_code)
        box.engine.check(at("11-06", "16:00"))
        box.load("S2", ("11-09", "批准"), item_code=staged.item_code)
        box.engine.check(at("11-09", "15:00"))
        stands = box.alerts("S2")[(SCJ, "环节超时")]
        assert (stands["state"], stands["card"]) == ("open", "yellow")
    finally:
        box.store.close()


def test_a_legal_limit_finding_names_the_legal_deadline_when_withdrawn(box):
    """Accepted 11-02: promised by 11-05, legal limit (15 working days) 11-23. Judged on 11-24
    with only 受理 known (超期, 超法定时限); the 办结 of 11-10 arrives: late by the promised
    deadline (超期 stands, 超期办结 opens) but within the legal one (超法定时限 withdrawn)."""
    box.load("W5", ("11-02", "申请"), ("11-02", "受理"))
    box.engine.check(at("11-24"))
    assert {"超期", "超法定时限"} <= {rule for _dept, rule in box.alerts("W5")}
    box.load("W5", ("11-03", "承办"), ("11-04", "审核"), ("11-05", "批准"), ("11-10", "办结"))
    result = box.engine.check(at("11-24", "15:00"))
    assert result.withdrawn == [("case:W5", "超法定时限")]
    alerts = box.alerts("W5")
    assert alerts[(SCJ, "超期")]["state"] == "open" and alerts[(SCJ, "超期")]["card"] == "yellow"
    assert alerts[(SCJ, "超期办结")]["state"] == "open"
    note = audit(box, alerts[(SCJ, "超法定时限")]["id"])[-1]["note"]
    assert "2026-11-10已办结，未超过法定办结期限2026-11-23" in note


def test_a_procedure_anomaly_from_stages_sent_out_of_order_is_withdrawn(box):
    """The platform sent 申请 and 办结 first (未受理即办结, stages skipped: a red 程序异常; a
    finished case gets no card);
    the 受理, 承办, 审核 and 批准 it followed come later, dated before the 办结: in the order the
    events happened the case was in order all along."""
    box.load("P1", ("11-02", "申请"), ("11-05", "办结"))
    box.engine.check(at("11-06"))
    anomaly = box.alerts("P1")[(SCJ, "程序异常")]
    assert (anomaly["state"], anomaly["level"]) == ("open", "red")
    assert "未受理即办结" in anomaly["detail"]
    box.load("P1", ("11-02", "受理"), ("11-03", "承办"), ("11-04", "审核"), ("11-05", "批准"))
    result = box.engine.check(at("11-06", "15:00"))
    assert result.withdrawn == [("case:P1", "程序异常")]
    withdrawn = box.alerts("P1")[(SCJ, "程序异常")]
    assert withdrawn["state"] == "withdrawn"
    last = audit(box, withdrawn["id"])[-1]
    assert (last["actor"], last["action"], last["to_state"]) == ("system", "withdraw", "withdrawn")
    # the evidence: the events that arrived late (E00003 受理 first), and the order
    assert "事件E00003（受理，2026-11-02 09:00）、E00004（承办，2026-11-03 09:00）" in last["note"]
    assert "等4个事件" in last["note"] and "程序异常并不成立" in last["note"]
    # The arrival-order facts still say 程序异常; the withdrawn alert stays withdrawn.
    entries = len(audit(box, withdrawn["id"]))
    box.engine.check(at("11-20"))
    assert box.alerts("P1")[(SCJ, "程序异常")]["state"] == "withdrawn"
    assert len(audit(box, withdrawn["id"])) == entries


def test_a_stage_filled_in_late_withdraws_a_skip_but_a_real_anomaly_stands(box):
    """P2: 批准 came before the 审核 it followed (跳过审核环节), 审核 dated 11-04 arrives after the
    alert: withdrawn. P3: 审核 arrives late too, but dated after its 批准 (truly out of order):
    stands. P4: 审核 never comes, the case finishes (truly skipped): stands."""
    for case_no, approved in (("P2", "11-05"), ("P3", "11-04"), ("P4", "11-05")):
        box.load(case_no, ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"),
                 (approved, "批准"))
    box.engine.check(at("11-05", "18:00"))
    opened = {case_no: box.alerts(case_no)[(SCJ, "程序异常")] for case_no in ("P2", "P3", "P4")}
    assert all("跳过审核环节" in alert["detail"] and alert["card"] == "yellow"
               for alert in opened.values())
    box.load("P2", ("11-04", "审核"), ("11-06", "办结"))
    box.load("P3", ("11-05", "审核"), ("11-06", "办结"))   # a day after its 批准
    box.load("P4", ("11-06", "办结"))
    result = box.engine.check(at("11-06", "15:00"))
    assert result.withdrawn == [("case:P2", "程序异常")]
    assert box.alerts("P2")[(SCJ, "程序异常")]["state"] == "withdrawn"
    note = audit(box, opened["P2"]["id"])[-1]["note"]
    assert "事件E00013（审核，2026-11-04 09:00）早于本预警开启时间（2026-11-05 18:00）" in note
    for case_no in ("P3", "P4"):
        stands = box.alerts(case_no)[(SCJ, "程序异常")]
        assert (stands["state"], stands["card"]) == ("open", "yellow"), case_no
        assert audit(box, stands["id"])[-1]["action"] != "withdraw"


def test_a_joint_share_feedback_sent_before_the_acceptance_it_followed_is_withdrawn(box):
    """交通局's 反馈 (11-04) arrived before the lead's 受理 and 分送 (11-02): 受理前即反馈, that
    department's own 程序异常. Once they arrive, dated before it, it is withdrawn; 住建局's 反馈
    dated 11-02 08:00, before the 受理 at 09:00 (truly before it), keeps its own."""
    box.load("J5", ("11-02", "申请", {"case_type": "联办件"}),
             ("11-04", "反馈", {"dept_code": JTJ, "reason": "同意"}), item_code=JOINT.item_code)
    lines = [json.dumps({
        "event_id": "E09001", "case_no": "J5", "item_code": JOINT.item_code, "dept_code": ZJJ,
        "district_code": "440605", "event_type": "反馈", "reason": "同意",
        "occurred_at": "2026-11-02T08:00:00+08:00", "actor": {"id": "S002", "name": "王芳"}},
        ensure_ascii=False)]
    assert ingest_texts(box.store, list(enumerate(lines)), source="file",
                        catalogue=box.board.catalogue).accepted == 1
    box.engine.check(at("11-05"))
    alerts = box.alerts("J5")
    assert "受理前即反馈" in alerts[(JTJ, "程序异常")]["detail"]
    assert "受理前即反馈" in alerts[(ZJJ, "程序异常")]["detail"]
    box.load("J5", ("11-02", "受理"), ("11-02", "分送", {"to_dept_code": JTJ}),
             ("11-02", "分送", {"to_dept_code": ZJJ}), item_code=JOINT.item_code)
    result = box.engine.check(at("11-05", "15:00"))
    assert result.withdrawn == [("case:J5:dept:440605JTJ", "程序异常")]
    alerts = box.alerts("J5")
    assert alerts[(JTJ, "程序异常")]["state"] == "withdrawn"
    assert alerts[(ZJJ, "程序异常")]["state"] == "open"
    note = audit(box, alerts[(JTJ, "程序异常")]["id"])[-1]["note"]
    assert "事件E00003（受理，2026-11-02 09:00）" in note and "程序异常并不成立" in note


def by_rule(box, case_no: str, rule: str) -> list[dict]:
    """Every alert of the case for that rule, oldest first (a withdrawn one and its successor)."""
    return box.store.query("select * from alerts where case_no = ? and rule = ? order by id",
                           (case_no, rule))


@pytest.fixture
def roomy(tmp_path):
    """A box whose item is promised in 10 working days (due 11-16): no 超期 card in the way."""
    made = make_box(tmp_path / "box.db", {PLAIN.item_code: item(PLAIN.item_code, SCJ,
                                                                promised_days=10)})
    yield made
    made.store.close()


def test_a_real_anomaly_after_a_withdrawn_one_opens_a_new_alert_and_card(roomy):
    """R1: 批准 came before the 审核 it followed: a false 程序异常 and its yellow card, withdrawn
    once the 审核 (dated before 批准) arrives. Then the platform reports another 审核 dated
    after the 批准: truly out of order. That is a new alert with its own id and its own card;
    the void card does not stand in its way, and passes over the same facts add nothing."""
    box = roomy
    box.load("R1", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"), ("11-05", "批准"))
    box.engine.check(at("11-05", "18:00"))
    (false,) = by_rule(box, "R1", "程序异常")
    assert (false["state"], false["card"]) == ("open", "yellow")
    box.load("R1", ("11-04", "审核"))
    assert box.engine.check(at("11-06")).withdrawn == [("case:R1", "程序异常")]
    assert [a["state"] for a in by_rule(box, "R1", "程序异常")] == ["withdrawn"]
    for day in ("11-06", "11-09"):  # the arrival order still says 程序异常: no new alert
        assert box.engine.check(at(day, "15:00")).opened == []
    assert [a["state"] for a in by_rule(box, "R1", "程序异常")] == ["withdrawn"]

    box.load("R1", ("11-10", "审核"))  # a real one: 审核 again, five days after the 批准
    result = box.engine.check(at("11-10", "15:00"))
    assert [(f.subject, f.rule) for f in result.opened] == [("case:R1", "程序异常")]
    withdrawn, real = by_rule(box, "R1", "程序异常")
    assert withdrawn["id"] == false["id"] and withdrawn["state"] == "withdrawn"
    assert real["id"] > false["id"] and (real["state"], real["level"]) == ("open", "red")
    # its detail is the real anomaly, told in the order the events happened
    assert real["detail"] == "审核在批准之后上报"
    assert real["card"] == "yellow"  # its own 限期办理通知书, the first one stays void
    notices = box.store.query("select number, alert_id from notices order by id")
    assert [n["alert_id"] for n in notices] == [false["id"], real["id"]]
    # The new alert goes to the hub as a record of its own.
    sent = [json.loads(row["body"])["body"] for row in box.store.query(
        "select body from outbox_records where kind = 'alert' order by seq")]
    assert {body["id"] for body in sent if body["subject"] == "case:R1"} == \
        {false["id"], real["id"]}
    # Judged again and again on the same facts: still two alerts, two notices.
    for day in ("11-11", "11-16"):
        box.engine.check(at(day))
        box.engine.check(at(day), case_nos={"R1"})
    assert [a["state"] for a in by_rule(box, "R1", "程序异常")] == ["withdrawn", "open"]
    assert box.store.query("select count(*) as n from notices")[0]["n"] == 3  # + its red card
    assert box.store.query("select kind from notices order by id")[-1]["kind"] == "整改建议书"
    assert box.store.query("select alert_id from notices order by id")[-1]["alert_id"] == \
        real["id"]


def test_an_event_after_a_withdrawn_anomaly_that_is_in_order_opens_nothing(roomy):
    """R2: as R1, but what comes after the withdrawal is in order (办结 after 批准)."""
    box = roomy
    box.load("R2", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"), ("11-05", "批准"))
    box.engine.check(at("11-05", "18:00"))
    box.load("R2", ("11-04", "审核"))
    box.engine.check(at("11-06"))
    box.load("R2", ("11-06", "办结"))
    box.engine.check(at("11-06", "15:00"))
    box.engine.check(at("11-06", "16:00"), case_nos={"R2"})
    assert [a["state"] for a in by_rule(box, "R2", "程序异常")] == ["withdrawn"]
    assert box.store.query("select count(*) as n from notices")[0]["n"] == 1


def test_a_stage_over_its_limit_after_a_withdrawn_stage_finding_opens_a_new_alert(tmp_path):
    """S3: 审核 (1 working day) looked overtime on 11-06 until 批准 dated 11-04 arrived:
    withdrawn. 批准 (3 working days from 11-04, due 11-09) then really runs over: the pass of
    11-10, with no new event, opens a new 环节超时 and its own card; the next passes add none."""
    staged = item("440605-SCJ-002", SCJ, promised_days=10, legal_days=20,
                  stage_days={"审核": 1, "批准": 3})
    box = make_box(tmp_path / "box.db", catalogue={**CATALOGUE, staged.item_code: staged})
    try:
        box.load("S3", ("11-02", "申请"), ("11-02", "受理"), ("11-02", "承办"), ("11-03", "审核"),
                 item_code=staged.item_code)
        box.engine.check(at("11-06"))
        box.load("S3", ("11-04", "批准"), item_code=staged.item_code)
        assert box.engine.check(at("11-06", "15:00")).withdrawn == [("case:S3", "环节超时")]
        early = box.engine.check(at("11-09")).opened  # 批准 on its last day: only near it
        assert [f.rule for f in early] == ["环节临近时限"]
        result = box.engine.check(at("11-10"))
        assert [(f.subject, f.rule) for f in result.opened] == [("case:S3", "环节超时")]
        for day in ("11-10", "11-11"):
            box.engine.check(at(day, "15:00"))
        withdrawn, real = by_rule(box, "S3", "环节超时")
        assert withdrawn["state"] == "withdrawn" and "审核" in withdrawn["detail"]
        assert (real["state"], real["card"]) == ("open", "yellow") and "批准" in real["detail"]
        assert [n["alert_id"] for n in box.store.query(
            "select alert_id from notices order by id")] == [withdrawn["id"], real["id"]]
    finally:
        box.store.close()
