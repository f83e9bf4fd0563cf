"""Joint cases (联办件): each participating department's share on its own clock, against the real
2026 calendar.

Worked dates: November 2026 working days after Monday 11-02, numbered: 11-03 (1), 04 (2),
05 (3), 06 (4), 09 (5), 10 (6), 11 (7), 12 (8), 13 (9), 16 (10), 17 (11), 18 (12), 19 (13),
20 (14), 23 (15), 24 (16), 25 (17), 26 (18), 27 (19), 30 (20).

The item: the lead 发展和改革局 (FGJ) promises 20 working days (11-30 from a 受理 on 11-02);
住建局 (ZJJ) has 15 working days, 交通局 (JTJ) 10.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from standard.calendar import WorkCalendar
from standard.deadlines import CaseFacts, LightSettings, apply_event, evaluate_on
from standard.records import CaseEvent, CatalogueItem
from standard.shares import participants

CODE = "440605-FGJ-010"
LEAD, ZJJ, JTJ = "440605FGJ", "440605ZJJ", "440605JTJ"
ITEM = CatalogueItem.model_validate_json(json.dumps({
    "item_code": CODE, "name": "企业投资项目核准", "dept_code": LEAD, "dept_name": "发展和改革局",
    "legal_days": 45, "promised_days": 20, "fee_yuan": "0.00", "case_type": "联办件",
    "legal_basis": "《企业投资项目核准和备案管理条例》",
    "joint_depts": [{"dept_code": ZJJ, "dept_name": "住房和城乡建设局", "days": 15},
                    {"dept_code": JTJ, "dept_name": "交通运输局", "days": 10}],
}, ensure_ascii=False))
JOINT = participants(ITEM)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar()


class Case:
    """Folds events of one joint case as the box does (with the catalogue's departments)."""

    def __init__(self, joint=JOINT):
        self.facts: CaseFacts | None = None
        self.joint = joint
        self.serial = 0

    def add(self, event_type: str, day: str, dept: str = LEAD, **extra) -> Case:
        self.serial += 1
        raw = {"event_id": f"E{self.serial}", "case_no": "NH2026110005", "item_code": CODE,
               "dept_code": dept, "district_code": "440605", "event_type": event_type,
               "occurred_at": f"2026-{day}T10:00:00+08:00",
               "actor": {"id": "S050", "name": "陈静"}, **extra}
        event = CaseEvent.model_validate_json(json.dumps(raw, ensure_ascii=False))
        self.facts = apply_event(self.facts, event, self.joint)
        return self

    def judged(self, calendar, day: str, item=ITEM):
        return evaluate_on(self.facts, item, calendar, date.fromisoformat(f"2026-{day}"),
                           LightSettings())


def shares(status) -> dict:
    return {share.dept_code: share for share in status.departments}


def accepted(**extra) -> Case:
    return Case().add("申请", "11-02", case_type="联办件").add("受理", "11-02", **extra)


def test_shares_run_in_parallel_each_on_its_own_clock(calendar):
    case = (accepted().add("分送", "11-02", to_dept_code=ZJJ).add("分送", "11-04", to_dept_code=JTJ)
            .add("承办", "11-05", JTJ).add("承办", "11-05", ZJJ).add("承办", "11-05")
            .add("审核", "11-06", ZJJ))
    status = case.judged(calendar, "11-10")
    by_dept = shares(status)
    assert (by_dept[ZJJ].started_on, by_dept[ZJJ].deadline, by_dept[ZJJ].remaining_working_days,
            by_dept[ZJJ].state, by_dept[ZJJ].light) == (
        date(2026, 11, 2), date(2026, 11, 23), 9, "waiting", "green")
    assert (by_dept[JTJ].started_on, by_dept[JTJ].deadline,
            by_dept[JTJ].remaining_working_days) == (date(2026, 11, 4), date(2026, 11, 18), 6)
    # The shares' 承办 and 审核 ran beside the lead's 承办: nothing is out of order.
    assert (status.light, status.reasons, status.stage) == ("green", [], "承办")
    assert (status.deadline, status.remaining_working_days) == (date(2026, 11, 30), 14)
    assert case.facts.anomalies == []
    # The case can change by itself first when 交通局's share nears its limit (yellow window 1).
    assert status.changes_on == date(2026, 11, 17)


def test_a_late_co_department_is_its_own_red_not_the_leads(calendar):
    case = accepted().add("分送", "11-04", to_dept_code=JTJ).add("反馈", "11-16", ZJJ, reason="同意")
    status = case.judged(calendar, "11-19")
    jtj, zjj = shares(status)[JTJ], shares(status)[ZJJ]
    assert (jtj.deadline, jtj.remaining_working_days, jtj.state, jtj.light) == (
        date(2026, 11, 18), -1, "late", "red")
    assert jtj.reasons[0] == "已超过办理时限1个工作日（时限10个工作日，2026-11-18截止）"
    # 住建局 had no 分送: its clock ran from 受理 and stopped at its 反馈, 5 days early.
    assert (zjj.started_on, zjj.back_on, zjj.remaining_working_days, zjj.state, zjj.light) == (
        date(2026, 11, 2), date(2026, 11, 16), 5, "done", "green")
    assert (status.light, status.remaining_working_days) == ("green", 7)  # the lead: 11-30
    late_back = (accepted().add("分送", "11-04", to_dept_code=JTJ)
                 .add("反馈", "11-20", JTJ).judged(calendar, "11-25"))
    jtj = shares(late_back)[JTJ]
    assert (jtj.state, jtj.light, jtj.remaining_working_days) == ("late", "red", -2)
    assert jtj.reasons[0].startswith("反馈晚于办理时限2个工作日")


def test_without_dispatch_every_listed_department_starts_at_acceptance(calendar):
    status = accepted().judged(calendar, "11-03")
    assert [(s.dept_code, s.started_on, s.deadline, s.state) for s in status.departments] == [
        (ZJJ, date(2026, 11, 2), date(2026, 11, 23), "waiting"),
        (JTJ, date(2026, 11, 2), date(2026, 11, 16), "waiting")]
    before = Case().add("申请", "11-02").judged(calendar, "11-03")
    assert [(s.started_on, s.deadline, s.light) for s in before.departments] == [
        (None, None, "green"), (None, None, "green")]


def test_feedback_before_acceptance_is_flagged_on_that_department(calendar):
    case = Case().add("申请", "11-02").add("反馈", "11-03", JTJ).add("受理", "11-04")
    status = case.judged(calendar, "11-05")
    jtj = shares(status)[JTJ]
    assert (jtj.light, jtj.reasons[0]) == ("red", "程序异常：受理前即反馈")
    assert (status.light, case.facts.anomalies) == ("green", [])


def test_pauses_of_the_case_stop_every_clock_a_share_pause_only_its_own(calendar):
    case = (accepted().add("特别程序开始", "11-05", ZJJ, procedure_kind="专家评审")
            .add("特别程序结束", "11-09", ZJJ, procedure_kind="专家评审"))
    by_dept = shares(case.judged(calendar, "11-10"))
    assert by_dept[ZJJ].deadline == date(2026, 11, 25)   # 11-06 and 11-09 do not count
    assert by_dept[JTJ].deadline == date(2026, 11, 16)
    case.add("补正开始", "11-10").add("补正结束", "11-11")  # the lead's: the whole case waits
    by_dept = shares(case.judged(calendar, "11-12"))
    assert (by_dept[ZJJ].deadline, by_dept[JTJ].deadline) == (date(2026, 11, 26),
                                                               date(2026, 11, 17))


def test_the_standards_example_is_judged_without_a_false_anomaly(calendar):
    from standard.schema import DEFAULT_DIR

    facts = None
    for line in (DEFAULT_DIR / "examples" / "joint.ndjson").read_text().splitlines():
        facts = apply_event(facts, CaseEvent.model_validate_json(line), JOINT)
    status = evaluate_on(facts, ITEM, calendar, date(2026, 12, 1), LightSettings())
    assert (facts.anomalies, status.light, status.outcome) == ([], "green", "early")
    assert {s.dept_code: (s.state, s.back_on) for s in status.departments} == {
        ZJJ: ("done", date(2026, 11, 16)), JTJ: ("done", date(2026, 11, 10))}
    assert status.to_dict()["departments"][0]["state"] == "done"


def test_which_events_are_a_share_without_the_catalogue(calendar):
    """Without the catalogue's list, a 分送, a 反馈 or a case reported as 联办件 still tells."""
    plain = Case(joint=()).add("申请", "11-02").add("受理", "11-02").add("承办", "11-03", JTJ)
    assert (plain.facts.stage, plain.facts.shares) == ("承办", {})  # another department's stage
    told = Case(joint=()).add("申请", "11-02", case_type="联办件").add("受理", "11-02")
    told.add("承办", "11-03", JTJ)
    assert (told.facts.stage, told.facts.shares[JTJ]["stage"]) == ("受理", "承办")


def test_an_unknown_item_cannot_judge_its_shares_and_a_plain_case_has_none(calendar):
    case = accepted().add("分送", "11-02", to_dept_code=ZJJ)
    status = case.judged(calendar, "11-03", item=None)
    assert status.light == "unknown"
    assert [(s.dept_code, s.light, s.deadline) for s in status.departments] == [
        (ZJJ, "unknown", None)]
    plain = Case(joint=()).add("受理", "11-02")
    other = CatalogueItem.model_validate_json(
        ITEM.model_copy(update={"case_type": "承诺件", "joint_depts": []}).model_dump_json())
    judged = evaluate_on(plain.facts, other, calendar, date(2026, 11, 3), LightSettings())
    assert judged.departments == [] and "departments" not in judged.to_dict()
