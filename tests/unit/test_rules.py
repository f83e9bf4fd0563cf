"""Supervision rules against the real 2026 calendar, on real SQLite files.

Worked dates (2026): a case accepted Tuesday 09-29 counts 09-30 (1), then National Day
10-01..10-07 is off, 10-08 (2), 10-09 (3), Saturday 10-10 is a 调休 workday (4), 10-12 (5) …
10-19 (10) … 10-26 (15). So a promised limit of 3 ends on 10-09, a legal limit of 15 on 10-26.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cases import CaseBoard
from edge.ingest import ingest_texts
from edge.store import Store
from edge.supervision import rules as rules_module
from edge.supervision.config import RULE_NAMES, RulesSection
from edge.supervision.rules import CASE_RULES, RULE_DESCRIPTIONS, RuleEngine, RuleSettings, next_run
from edge.supervision.schedule import Scheduler
from edge.supervision.service import Supervision
from edge.supervision.wiring import build_supervision
from standard.calendar import CalendarOverrides, WorkCalendar
from standard.deadlines import LightSettings
from standard.records import CatalogueItem

DISTRICT = "440605"
DEPT = "440605SCJ"


def item(code: str, **changes) -> CatalogueItem:
    raw = {"item_code": code, "name": "企业设立登记", "dept_code": DEPT,
           "dept_name": "区市场监督管理局", "legal_days": 15, "promised_days": 3,
           "stage_days": {}, "fee_yuan": "0.00", "case_type": "承诺件",
           "legal_basis": "《中华人民共和国行政许可法》"}
    raw.update(changes)
    return CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))


CATALOGUE = {i.item_code: i for i in (
    item("440605-SCJ-001"),
    item("440605-SCJ-002", name="食品经营许可", promised_days=10, legal_days=20,
         stage_days={"审核": 1}),
    item("440605-SCJ-003", name="特种设备使用登记", fee_yuan="20.00"),
    item("440605-MZJ-001", name="婚姻登记", dept_code="440605MZJ", dept_name="区民政局",
         case_type="即办件", promised_days=0, legal_days=0),
    item("440605-ZJJ-001", name="建筑工程施工许可", dept_code="440605ZJJ",
         dept_name="区住房和城乡建设局"),
)}


def at(day: str, time: str = "09:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}:00+08:00")


@dataclass
class Box:
    store: Store
    engine: RuleEngine
    serial: int = 0

    def event(self, case_no: str, event_type: str, day: str, item_code: str = "440605-SCJ-001",
              **extra) -> None:
        self.serial += 1
        body = {"event_id": f"E{self.serial:05d}", "case_no": case_no, "item_code": item_code,
                "dept_code": CATALOGUE[item_code].dept_code, "district_code": DISTRICT,
                "event_type": event_type, "occurred_at": f"{day}T09:00:00+08:00",
                "actor": {"id": "S001", "name": "李敏"}, **extra}
        result = ingest_texts(self.store, [(0, json.dumps(body, ensure_ascii=False))], source="t")
        assert result.accepted == 1, result.as_dict()

    def accept(self, case_no: str, day: str = "2026-09-29", item_code: str = "440605-SCJ-001"):
        self.event(case_no, "申请", day, item_code)
        self.event(case_no, "受理", day, item_code)

    def alerts(self, case_no: str | None = None) -> dict[str, dict]:
        rows = self.store.query("select * from alerts order by id")
        return {row["rule"]: row for row in rows if case_no is None or row["case_no"] == case_no}

    def count(self, table: str) -> int:
        return self.store.query(f"select count(*) as n from {table}")[0]["n"]


def make_box(tmp_path: Path, calendar: WorkCalendar | None = None,
             rules: RulesSection | None = None) -> Box:
    store = Store(tmp_path / "box.db", box_id=f"{DISTRICT}-01")
    board = CaseBoard(store, CATALOGUE, calendar or WorkCalendar(), LightSettings())
    parts = build_supervision(store, board, lambda: at("2026-09-29"), rules=rules or RulesSection(),
                              contacts=[], notify=None, box_id="t", data_dir=tmp_path)
    store.open()
    return Box(store, parts.rules)


@pytest.fixture
def box(tmp_path):
    made = make_box(tmp_path)
    yield made
    made.store.close()


def test_every_configured_rule_has_a_function_and_a_chinese_description():
    assert set(RULE_DESCRIPTIONS) == set(RULE_NAMES)
    for rule in CASE_RULES.values():
        assert rule.level in ("yellow", "red") and rule.description and rule.check.__doc__


def test_near_deadline_counts_working_days_across_national_day(box):
    box.accept("C1")                                     # deadline 10-09
    box.engine.check(at("2026-09-30"))                   # 2 working days left (10-08, 10-09)
    box.engine.check(at("2026-10-07", "18:00"))          # still 2: the holiday does not count
    assert box.alerts() == {}
    box.engine.check(at("2026-10-08"))                   # 1 left: just inside
    alert = box.alerts()["临近时限"]
    assert (alert["level"], alert["state"], alert["case_no"]) == ("yellow", "open", "C1")
    assert "2026-10-09还剩1个工作日" in alert["detail"]


def test_near_deadline_threshold_is_configurable(tmp_path):
    box = make_box(tmp_path, rules=RulesSection(near_deadline_working_days=0))
    box.accept("C1")
    box.engine.check(at("2026-10-08"))
    assert "临近时限" not in box.alerts()
    box.engine.check(at("2026-10-09"))
    assert "还剩0个工作日" in box.alerts()["临近时限"]["detail"]
    box.store.close()


def test_overdue_starts_on_the_adjusted_saturday_and_legal_limit_is_its_own_rule(box):
    box.accept("C1")
    box.engine.check(at("2026-10-09", "23:30"))          # the deadline day itself
    assert "超期" not in box.alerts()
    box.engine.check(at("2026-10-10"))                   # 调休 Saturday: a working day
    assert box.alerts()["超期"]["detail"].startswith("已超过承诺时限1个工作日")
    box.engine.check(at("2026-10-26", "17:00"))          # legal deadline day
    assert "超法定时限" not in box.alerts()
    box.engine.check(at("2026-10-27"))
    legal = box.alerts()["超法定时限"]
    assert legal["level"] == "red" and "2026-10-26" in legal["detail"]


def test_stage_overtime_while_the_case_is_on_time(box):
    code = "440605-SCJ-002"                              # promised 10 (10-19), 审核 limit 1
    box.accept("C2", item_code=code)
    box.event("C2", "承办", "2026-09-29", code)
    box.event("C2", "审核", "2026-09-30", code)
    box.engine.check(at("2026-10-08"))                   # 审核 has used 1 working day
    assert "环节超时" not in box.alerts()
    assert box.alerts()["环节临近时限"]["level"] == "yellow"
    box.engine.check(at("2026-10-09"))                   # 2 > 1
    alerts = box.alerts()
    assert alerts["环节超时"]["detail"] == "审核已用2个工作日，时限1个工作日"
    assert "超期" not in alerts


@pytest.mark.parametrize(("code", "fee", "flagged"), [
    ("440605-SCJ-003", "20.00", False),
    ("440605-SCJ-003", "20.01", True),
    ("440605-SCJ-001", "5.00", True),                    # a fee on an item that charges none
])
def test_fee_must_equal_the_catalogue_standard(box, code, fee, flagged):
    box.accept("C3", item_code=code)
    box.event("C3", "收费", "2026-09-29", code, fee_amount=fee)
    box.engine.check(at("2026-09-30"))
    assert ("违规收费" in box.alerts()) is flagged


def test_skipped_stage_is_a_procedure_anomaly(box):
    box.accept("C4")
    box.event("C4", "批准", "2026-09-30")                # 承办 and 审核 skipped
    box.accept("C5")
    for stage in ("承办", "审核", "批准"):
        box.event("C5", stage, "2026-09-30")
    box.engine.check(at("2026-09-30"))
    assert box.alerts("C4")["程序异常"]["detail"] == "跳过承办环节；跳过审核环节"
    assert "程序异常" not in box.alerts("C5")


def test_finish_without_acceptance_and_immediate_cases(box):
    box.event("C6", "申请", "2026-09-29")
    box.event("C6", "办结", "2026-09-29")
    code = "440605-MZJ-001"                              # 即办件: 受理 → 办结 is normal
    box.accept("C7", item_code=code)
    box.event("C7", "办结", "2026-09-29", code)
    box.engine.check(at("2026-09-29", "17:00"), case_nos={"C6", "C7"})
    assert "未受理即办结" in box.alerts("C6")["程序异常"]["detail"]
    assert box.alerts("C7") == {}


def test_required_stages_are_configurable(tmp_path):
    box = make_box(tmp_path, rules=RulesSection(required_stages=["受理", "审核"]))
    box.accept("C4")
    box.event("C4", "审核", "2026-09-30")                # 承办 is not required here
    box.event("C4", "办结", "2026-09-30")
    box.engine.check(at("2026-09-30"), case_nos={"C4"})
    assert "程序异常" not in box.alerts()
    box.store.close()


def test_refusal_needs_a_reason(box):
    box.accept("C8")
    box.event("C8", "不予许可", "2026-09-30")
    box.accept("C9")
    box.event("C9", "不予许可", "2026-09-30", reason="申请人不符合法定条件")
    box.event("C10", "申请", "2026-09-30")
    box.event("C10", "不予受理", "2026-09-30")
    box.engine.check(at("2026-09-30"), case_nos={"C8", "C9", "C10"})
    assert box.alerts("C8")["无理由拒绝"]["level"] == "red"
    assert box.alerts("C9") == {}
    assert "不予受理未说明理由" in box.alerts("C10")["无理由拒绝"]["detail"]


def test_deadline_in_an_unknown_year_fails_closed(tmp_path):
    box = make_box(tmp_path)
    box.accept("C11", day="2026-12-28", item_code="440605-SCJ-002")   # 10 days: into 2027
    box.engine.check(at("2026-12-29"))
    assert "2027" in box.alerts()["日历缺失"]["detail"]
    box.store.close()
    overrides = CalendarOverrides(version=1, years={2027: {"holidays": ["2027-01-01"]}})
    known = make_box(tmp_path / "known", calendar=WorkCalendar(overrides))
    known.accept("C11", day="2026-12-28", item_code="440605-SCJ-002")
    known.engine.check(at("2026-12-29"))
    assert known.alerts() == {}
    known.store.close()


def test_a_second_pass_over_unchanged_cases_writes_nothing(box):
    box.accept("C1")
    box.accept("C4")
    box.event("C4", "批准", "2026-09-30")
    first = box.engine.check(at("2026-10-10"))
    assert first.created >= 3 and first.notices                      # red light: a yellow card
    counts = [box.count(t) for t in ("alerts", "alert_events", "outbox", "notices")]
    again = box.engine.check(at("2026-10-10", "09:01"))
    assert again.created == 0 and not again.cleared
    assert [box.count(t) for t in ("alerts", "alert_events", "outbox", "notices")] == counts
    fresh = RuleEngine(box.store, box.engine.board, cards=box.engine.cards)   # no memo
    assert fresh.check(at("2026-10-10", "09:02")).created == 0
    assert box.count("outbox") == counts[2]


def test_a_restarted_engine_takes_the_remembered_verdicts_and_judges_changed_cases(box,
                                                                                  monkeypatch):
    box.accept("C1")
    box.accept("C4")
    box.event("C4", "批准", "2026-09-30")
    box.engine.check(at("2026-10-10"))
    counts = [box.count(t) for t in ("alerts", "alert_events", "outbox", "notices")]
    engine = box.engine
    restarted = RuleEngine(box.store, engine.board, engine.rules, settings=engine.settings,
                           focus=engine.focus, cards=engine.cards)
    parsed: list[str] = []
    real = rules_module.CaseFacts.from_json
    monkeypatch.setattr(rules_module.CaseFacts, "from_json",
                        lambda text: parsed.append(text) or real(text))
    again = restarted.check(at("2026-10-10", "09:05"))
    assert again.created == 0 and not again.cleared
    assert [box.count(t) for t in ("alerts", "alert_events", "outbox", "notices")] == counts
    assert parsed == []  # the same day, the same facts: nothing parsed or judged again
    # A case whose facts changed behind the marks is judged again all the same (its digest).
    box.store.write(lambda tx: tx.conn.execute(
        "update cases set facts = json_set(facts, '$.terminal', '办结', '$.finished_on',"
        " '2026-10-10') , is_open = 1 where case_no = 'C1'"))
    later = RuleEngine(box.store, engine.board, engine.rules, settings=engine.settings,
                       focus=engine.focus, cards=engine.cards)
    later.check(at("2026-10-10", "09:10"))
    assert len(parsed) == 1


def test_every_alert_change_goes_to_the_outbox(box):
    box.accept("C1")
    box.engine.check(at("2026-10-08"))
    kinds = [row["kind"] for row in box.store.query("select kind from outbox order by seq")]
    assert kinds[-2:] == ["alert_event", "alert"]
    (event,) = box.store.query("select * from alert_events")
    assert (event["actor"], event["action"], event["to_state"]) == ("system", "open", "open")


def test_a_yellow_warning_resolves_itself_when_the_case_finishes(box):
    box.accept("C1")
    box.engine.check(at("2026-10-08"))
    box.event("C1", "办结", "2026-10-08")
    result = box.engine.check(at("2026-10-08", "15:00"), case_nos={"C1"})
    assert result.cleared == [("case:C1", "临近时限")]
    alert = box.alerts()["临近时限"]
    assert alert["state"] == "resolved" and alert["cleared_at"]
    last = box.store.query("select * from alert_events order by id desc limit 1")[0]
    assert (last["actor"], last["action"], last["to_state"]) == ("system", "resolve", "resolved")


def test_an_extension_clears_then_the_warning_comes_back(box):
    box.accept("C1")
    box.engine.check(at("2026-10-08"))
    box.event("C1", "延期", "2026-10-08", extension_days=3)          # deadline 10-09 → 10-13
    box.engine.check(at("2026-10-08", "10:00"))
    assert box.alerts()["临近时限"]["state"] == "resolved"
    result = box.engine.check(at("2026-10-12"))
    assert [f.rule for f in result.reopened] == ["临近时限"]
    assert box.alerts()["临近时限"]["state"] == "open"


def test_a_cleared_red_alert_stays_for_people_to_close(box):
    box.accept("C1")
    box.engine.check(at("2026-10-10"))                               # 超期 + yellow card
    box.event("C1", "延期", "2026-10-10", extension_days=5)          # no longer overdue
    box.engine.check(at("2026-10-10", "11:00"))
    alert = box.alerts()["超期"]
    assert alert["state"] == "open" and alert["cleared_at"] and alert["card"] == "yellow"
    box.engine.check(at("2026-10-30"))                               # overdue again
    assert box.alerts()["超期"]["cleared_at"] is None
    actions = [r["action"] for r in box.store.query(
        "select action from alert_events where alert_id = ? order by id", (alert["id"],))]
    assert actions == ["open", "yellow_card", "clear", "recur", "red_card"]


@pytest.mark.parametrize(("refused_c", "intake_c", "flagged"), [
    (5, 25, True),     # 20% = 2 x the median 10%, and 5 cases: just inside
    (5, 26, False),    # 19.2% < 2 x 10%
    (4, 20, False),    # 20%, but only 4 cases (min_count 5)
])
def test_focus_flags_a_department_far_above_the_median(tmp_path, refused_c, intake_c, flagged):
    box = make_box(tmp_path)
    codes = {"A": "440605-SCJ-001", "B": "440605-MZJ-001", "C": "440605-ZJJ-001"}
    for dept, total, refused in (("A", 10, 0), ("B", 10, 1), ("C", intake_c, refused_c)):
        for n in range(total):
            box.event(f"{dept}{n:03d}", "申请", "2026-11-03", codes[dept])
            if n < refused:
                box.event(f"{dept}{n:03d}", "不予许可", "2026-11-10", codes[dept], reason="不符合条件")
    box.engine.check(at("2026-11-30"))
    counts = Supervision(box.store, lambda: at("2026-11-30")).focus_counts(dt.date(2026, 11, 30))
    row = next(c for c in counts if c.dept_code == "440605ZJJ" and c.kind == "不予许可")
    assert (row.month, row.count, row.intake, row.median, row.flagged) == (
        "2026-11", refused_c, intake_c, 0.1, flagged)
    found = box.store.query("select * from alerts where rule = '重点监察'")
    assert bool(found) is flagged
    if flagged:
        (alert,) = found
        assert alert["subject"] == "dept:440605ZJJ:2026-11:不予许可"
        assert alert["level"] == "yellow" and alert["dept_code"] == "440605ZJJ"
        assert "中位数10.0%" in alert["detail"]
    box.store.close()


def test_next_run_adds_the_start_of_each_working_day():
    calendar = WorkCalendar()
    start = dt.time(8, 30)
    friday = at("2026-10-09", "18:00")
    assert next_run(friday, 60, start, calendar) == friday + dt.timedelta(seconds=60)
    assert next_run(friday, 86_400, start, calendar) == at("2026-10-10", "08:30")  # 调休
    holiday_eve = at("2026-09-30", "18:00")
    assert next_run(holiday_eve, 86_400, start, calendar) == at("2026-10-01", "18:00")
    assert next_run(at("2027-06-01", "18:00"), 86_400, start, calendar) == at("2027-06-02", "18:00")


def test_scheduler_runs_a_pass_at_start_and_stops():
    ran = threading.Event()
    moments = []

    def job(moment):
        moments.append(moment)
        ran.set()

    scheduler = Scheduler(job, lambda: at("2026-10-08"), 3600, dt.time(8, 30), WorkCalendar())
    scheduler.start()
    assert ran.wait(timeout=10)
    scheduler.stop()
    assert moments[0] == at("2026-10-08")


def test_rule_settings_from_config(tmp_path):
    rules = RulesSection(enabled=["超期"], near_deadline_working_days=2)
    box = make_box(tmp_path, rules=rules)
    assert [rule.name for rule in box.engine.rules] == ["超期"]
    assert box.engine.focus is None
    assert box.engine.settings == RuleSettings(2, ("受理", "承办", "审核", "批准"),
                                               frozenset({"即办件"}))
    box.store.close()


def test_focus_counter_reads_only_new_events_and_uses_local_months(box):
    from edge.supervision.focus import FocusCounter, FocusSettings, focus_counts

    counter = FocusCounter(FocusSettings(kinds=("不予许可",)))
    box.event("C1", "申请", "2026-11-03")
    november = dt.date(2026, 11, 30)
    with box.store.read() as db:
        (row,) = counter.counts(db.conn, november)
        assert (row.count, row.intake) == (0, 1)
    box.event("C1", "不予许可", "2026-11-04", reason="不符合条件")
    box.event("C2", "申请", "2026-11-30", occurred_at="2026-11-30T20:00:00-05:00")  # 12-01 local
    with box.store.read() as db:
        (row,) = counter.counts(db.conn, november)
        assert (row.count, row.intake, row.rate) == (1, 1, 1.0)
        assert counter.counts(db.conn, november) == focus_counts(db.conn, november,
                                                                  counter.settings)
        (december,) = counter.counts(db.conn, dt.date(2026, 12, 1))
        assert (december.month, december.count, december.intake) == ("2026-12", 0, 1)


# -- remembered judgements: a case is judged again only when its findings can change -------

STORY = {  # day -> (case, event type, item, extra) happening that morning
    "2026-09-29": [("C1", "受理", "440605-SCJ-001", {}), ("C2", "受理", "440605-SCJ-002", {}),
                   ("C2", "承办", "440605-SCJ-002", {}), ("C4", "受理", "440605-MZJ-001", {})],
    "2026-09-30": [("C2", "审核", "440605-SCJ-002", {}), ("C5", "受理", "440605-SCJ-002", {})],
    "2026-10-09": [("C5", "补正开始", "440605-SCJ-002", {}),
                   ("C6", "受理", "440605-SCJ-001", {})],
    "2026-10-12": [("C6", "延期", "440605-SCJ-001", {"extension_days": 2})],
    "2026-10-16": [("C5", "补正结束", "440605-SCJ-002", {}), ("C1", "办结", "440605-SCJ-001", {})],
}


def alert_states(box: Box) -> list[tuple]:
    return [tuple(row.values()) for row in box.store.query(
        "select subject, rule, state, detail, card, card_due, cleared_at from alerts"
        " order by subject, rule")]


@pytest.mark.parametrize("near", [1, 3])                 # 3: wider than the yellow light's 1
def test_remembered_judgements_match_a_fresh_engine_every_day(tmp_path, near):
    rules = RulesSection(near_deadline_working_days=near)
    kept, fresh = (make_box(tmp_path / name, rules=rules) for name in ("kept", "fresh"))
    day = dt.date(2026, 9, 29)
    while day <= dt.date(2026, 11, 6):                   # over National Day and its 调休
        for box in (kept, fresh):
            for case_no, kind, code, extra in STORY.get(day.isoformat(), []):
                box.event(case_no, kind, day.isoformat(), code, **extra)
        for hour in ("09:00", "18:00"):
            kept.engine.check(at(day.isoformat(), hour))
            engine = RuleEngine(fresh.store, fresh.engine.board, cards=fresh.engine.cards,
                                settings=fresh.engine.settings)
            engine.check(at(day.isoformat(), hour))
            assert alert_states(kept) == alert_states(fresh), (day, hour)
        day += dt.timedelta(days=1)
    assert {rule for _s, rule, *_rest in alert_states(kept)} >= {"临近时限", "超期", "环节超时"}
    kept.store.close()
    fresh.store.close()


def test_the_next_day_judges_only_cases_whose_findings_can_change(box):
    box.accept("C1")                                     # due 10-09
    box.accept("C2", item_code="440605-SCJ-002")         # due 10-19
    judged = set()
    status = box.engine.board.status
    box.engine.board.status = lambda facts, day: judged.add(facts.case_no) or status(facts, day)
    for day, expected in (("2026-10-08", {"C1", "C2"}),  # C1: 1 day left; C2: 8
                          ("2026-10-09", {"C1"}),        # C2 waits for 10-16 (1 day left)
                          ("2026-10-15", {"C1"}),
                          ("2026-10-16", {"C1", "C2"})):
        judged.clear()
        box.engine.check(at(day))
        assert judged == expected, day
    assert "临近时限" in box.alerts("C2")
