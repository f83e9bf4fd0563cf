"""Cards, notices and the supervision service, on real SQLite files with injected time.

A case accepted Monday 2026-11-02 with a promised limit of 3 is due Thursday 11-05. It is red
on Friday 11-06; the yellow card's 限期办理通知书 then gives 3 working days: 11-09, 10, 11.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cases import CaseBoard
from edge.ingest import ingest_texts
from edge.store import Store
from edge.supervision.alerts import (
    ActionNotAllowed,
    AlertNotFound,
    InvalidInput,
    NoticeNotFound,
)
from edge.supervision.config import CardSection, RulesSection
from edge.supervision.lifecycle import ALLOWED_ACTIONS
from edge.supervision.noticebook import (
    DEADLINE_NOTICE,
    RECTIFY_NOTICE,
    format_number,
    load_notice,
    next_seq,
    render_notice_html,
)
from edge.supervision.rules import RuleEngine
from edge.supervision.service import Supervision
from edge.supervision.wiring import build_supervision
from standard.calendar import CalendarOverrides, WorkCalendar
from standard.deadlines import LightSettings
from standard.records import CatalogueItem

CODE = "440605-SCJ-001"
ITEM = CatalogueItem.model_validate_json(json.dumps({
    "item_code": CODE, "name": "企业设立登记", "dept_code": "440605SCJ",
    "dept_name": "区市场监督管理局", "legal_days": 15, "promised_days": 3, "stage_days": {},
    "fee_yuan": "0.00", "case_type": "承诺件", "legal_basis": "《中华人民共和国行政许可法》"},
    ensure_ascii=False))
# 2027 is not in the package yet: the hub's override file supplies it.
CALENDAR_2027 = CalendarOverrides(version=1, years={2027: {"holidays": ["2027-01-01"]}})


def at(day: str, time: str = "09:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}:00+08:00")


@dataclass
class Box:
    store: Store
    engine: RuleEngine
    service: Supervision
    serial: int = 0

    def event(self, case_no: str, event_type: str, day: str, **extra) -> None:
        self.serial += 1
        body = {"event_id": f"E{self.serial:05d}", "case_no": case_no, "item_code": CODE,
                "dept_code": "440605SCJ", "district_code": "440605", "event_type": event_type,
                "occurred_at": f"{day}T09:00:00+08:00", "actor": {"id": "S001", "name": "李敏"},
                **extra}
        assert ingest_texts(self.store, [(0, json.dumps(body, ensure_ascii=False))],
                            source="t").accepted == 1

    def accept(self, case_no: str, day: str) -> None:
        self.event(case_no, "申请", day)
        self.event(case_no, "受理", day)

    def cards(self) -> list[dict]:
        return self.store.query("select number, kind, case_no, issued_on, due_on, year, seq"
                                " from notices order by id")

    def count(self, table: str) -> int:
        return self.store.query(f"select count(*) as n from {table}")[0]["n"]


def make_box(folder: Path, clock=lambda: at("2026-11-06", "10:00"), **cards) -> Box:
    store = Store(folder / "box.db", box_id="440605-01")
    board = CaseBoard(store, {CODE: ITEM}, WorkCalendar(CALENDAR_2027), LightSettings())
    parts = build_supervision(store, board, clock, rules=RulesSection(cards=CardSection(**cards)),
                              contacts=[], notify=None, box_id="440605-01", data_dir=folder)
    store.open()
    return Box(store, parts.rules, parts.supervision)


@pytest.fixture
def box(tmp_path):
    made = make_box(tmp_path)
    yield made
    made.store.close()


def test_red_light_yellow_card_then_red_card_over_days(box):
    box.accept("C1", "2026-11-02")
    assert box.engine.check(at("2026-11-05", "17:00")).notices == []
    first = box.engine.check(at("2026-11-06"))
    (notice,) = first.notices
    assert (notice.number, notice.kind, notice.due_on) == ("南海电监〔2026〕1号", DEADLINE_NOTICE,
                                                           "2026-11-11")
    assert box.engine.check(at("2026-11-11", "23:59")).notices == []       # the due day itself
    (rectify,) = box.engine.check(at("2026-11-12")).notices
    assert (rectify.number, rectify.kind, rectify.due_on) == ("南海电监〔2026〕2号", RECTIFY_NOTICE,
                                                              "2026-11-19")
    assert "南海电监〔2026〕1号" in rectify.text and "2026年11月11日仍未办结" in rectify.text
    assert box.engine.check(at("2026-11-20")).notices == []                # red is the last card
    (alert,) = box.service.alerts(card="red")
    assert (alert.rule, alert.card, alert.notices) == ("超期", "red", ["南海电监〔2026〕1号",
                                                                    "南海电监〔2026〕2号"])
    actions = [e.action for e in box.service.alert(alert.id).events]
    assert actions == ["open", "yellow_card", "red_card"]


def test_no_red_card_when_the_case_is_finished_in_time(box):
    box.accept("C1", "2026-11-02")
    box.engine.check(at("2026-11-06"))
    box.event("C1", "办结", "2026-11-10")
    box.engine.check(at("2026-11-10", "10:00"))
    assert box.engine.check(at("2026-11-16")).notices == []
    (alert,) = box.service.alerts(card="any")
    assert alert.card == "yellow" and alert.state == "open"          # still to be explained


def test_one_card_per_case_even_with_several_red_alerts(box):
    box.accept("C1", "2026-11-02")
    box.event("C1", "批准", "2026-11-03")                              # 程序异常 on 11-03
    (notice,) = box.engine.check(at("2026-11-03", "10:00")).notices
    box.engine.check(at("2026-11-06"))                                  # 超期 too
    assert len(box.cards()) == 1
    assert "程序异常：跳过承办环节；跳过审核环节" in notice.text


def test_numbers_restart_with_the_local_year_and_have_no_gaps(tmp_path):
    box = make_box(tmp_path)
    for n in range(1, 4):
        box.accept(f"C{n}", "2026-12-24")                               # due 12-29
    box.accept("C4", "2026-12-25")                                      # due 12-30
    box.engine.check(at("2026-12-30", "10:00"))                         # C1-C3 overdue
    # 2026-12-31T17:00Z is 2027-01-01 01:00 in the hall: a 2027 number.
    box.engine.check(dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.timezone.utc))
    numbers = [(row["number"], row["issued_on"], row["due_on"]) for row in box.cards()]
    assert numbers == [
        ("南海电监〔2026〕1号", "2026-12-30", "2027-01-05"),
        ("南海电监〔2026〕2号", "2026-12-30", "2027-01-05"),
        ("南海电监〔2026〕3号", "2026-12-30", "2027-01-05"),
        ("南海电监〔2027〕1号", "2027-01-01", "2027-01-06"),
    ]
    # A transaction that fails after taking a number gives it back.
    with pytest.raises(ZeroDivisionError):
        box.store.write(lambda tx: (next_seq(tx, "440605", 2027), 1 / 0))
    assert box.store.write(lambda tx: next_seq(tx, "440605", 2027)) == 2
    box.store.close()


def make_box_without_2027(folder: Path) -> Box:
    store = Store(folder / "box.db", box_id="440605-01")
    board = CaseBoard(store, {CODE: ITEM}, WorkCalendar(), LightSettings())   # no 2027
    parts = build_supervision(store, board, lambda: at("2026-12-30"), rules=RulesSection(),
                              contacts=[], notify=None, box_id="x", data_dir=folder)
    store.open()
    return Box(store, parts.rules, parts.supervision)


def test_no_card_when_the_due_date_needs_an_unknown_year(tmp_path):
    box = make_box_without_2027(tmp_path)
    box.accept("C1", "2026-12-24")
    result = box.engine.check(at("2026-12-30"))
    assert [f.rule for f in result.opened] == ["超期"] and result.notices == []
    assert box.count("notices") == 0 and box.count("notice_counters") == 0
    box.store.close()


def test_a_calendar_gap_is_logged_once_a_day_not_per_case(tmp_path, caplog):
    box = make_box_without_2027(tmp_path)
    for case_no in ("C1", "C2", "C3"):
        box.accept(case_no, "2026-12-24")
    caplog.set_level("WARNING", logger="edge.supervision.notices")
    for moment in (at("2026-12-30"), at("2026-12-30", "10:00"), at("2026-12-30", "11:00")):
        assert box.engine.check(moment).notices == []
    gaps = [r for r in caplog.records if "calendar has no data for 2027" in r.getMessage()]
    assert len(gaps) == 1 and "2026-12-30" in gaps[0].getMessage()
    box.engine.check(at("2026-12-31"))
    assert len([r for r in caplog.records if "2027" in r.getMessage()]) == 2
    box.store.close()


def test_notice_is_kept_exactly_as_issued(box):
    box.accept("C1", "2026-11-02")
    (notice,) = box.engine.check(at("2026-11-06")).notices
    box.engine.board.catalogue = {CODE: ITEM.model_copy(update={"name": "改名后的事项"})}
    with box.store.read() as db:
        stored = load_notice(db.conn, notice.number)
    assert stored == notice
    assert "企业设立登记" in stored.html and "改名后的事项" not in stored.html
    assert render_notice_html(stored) == stored.html
    for sql in ("update notices set html = 'x'", "delete from notices",
                "update alert_events set note = 'x'", "delete from alert_events"):
        with pytest.raises(sqlite3.IntegrityError):
            box.store.write(lambda tx, sql=sql: tx.conn.execute(sql))


def test_notice_html_is_printable_and_self_contained(box):
    box.engine.board.catalogue = {CODE: ITEM.model_copy(update={"dept_name": "<b>区局</b>"})}
    box.accept("C1", "2026-11-02")
    (notice,) = box.engine.check(at("2026-11-06")).notices
    page = notice.html
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "size: A4" in page and "@page" in page
    assert not re.search(r"(src|href)=|https?://|@import|url\(", page)
    assert "&lt;b&gt;区局&lt;/b&gt;" in page and "<b>区局" not in page
    for text in ("限期办理通知书", "南海电监〔2026〕1号", "南海区行政服务中心电子监察室",
                 "2026年11月6日", "2026年11月11日前"):
        assert text in page


def test_card_settings_from_config(tmp_path):
    box = make_box(tmp_path, notice_due_working_days=1, document_word="监察",
                   issuer="南海区电子监察室")
    box.accept("C1", "2026-11-02")
    (notice,) = box.engine.check(at("2026-11-06")).notices
    assert (notice.number, notice.due_on) == ("南海监察〔2026〕1号", "2026-11-09")
    assert notice.content["issuer"] == "南海区电子监察室"
    assert format_number("440699", 2026, 3) == "440699电监〔2026〕3号"   # unknown district
    assert format_number("440600", 2026, 4) == "佛山电监〔2026〕4号"     # the city level
    box.store.close()


# -- the service the web pages call ---------------------------------------------------------
@pytest.fixture
def carded(box):
    box.accept("C1", "2026-11-02")
    box.engine.check(at("2026-11-06"))
    (alert,) = box.service.alerts(card="any")
    return box, alert.id


def test_lifecycle_with_audit_trail(carded):
    box, alert_id = carded
    service = box.service
    assert service.alert(alert_id).allowed_actions == ("acknowledge", "explain", "report",
                                                       "escalate")
    service.acknowledge(alert_id, "王芳", "已转承办科室")
    explained = service.explain(alert_id, "张伟", "系统故障导致延误，已办结并加强巡检。")
    assert explained.state == "explained" and explained.explained
    assert "close" in explained.allowed_actions
    corrected = service.explain(alert_id, "张伟", "更正：延误系申请人补充材料所致。")
    assert corrected.state == "explained"
    closed = service.close(alert_id, "区监察室李明", "理由成立，予以办结")
    assert closed.state == "closed" and closed.allowed_actions == ()
    trail = [(e.actor, e.action, e.from_state, e.to_state) for e in service.alert(alert_id).events]
    assert trail[:2] == [("system", "open", None, "open"),
                         ("system", "yellow_card", "open", "open")]
    assert trail[2:] == [
        ("王芳", "acknowledge", "open", "acknowledged"),
        ("张伟", "explain", "acknowledged", "explained"),
        ("张伟", "explain", "explained", "explained"),
        ("区监察室李明", "close", "explained", "closed"),
    ]
    last = box.store.query("select kind from outbox order by seq desc limit 2")
    kinds = [row["kind"] for row in last]
    assert kinds == ["alert", "alert_event"]


def test_escalate_then_explain_and_close(carded):
    box, alert_id = carded
    escalated = box.service.escalate(alert_id, "区监察室李明", "多次督办未果，报市监察局")
    assert escalated.state == "escalated" and escalated.allowed_actions == ("explain", "report")
    box.service.explain(alert_id, "张伟", "已办结。")
    assert box.service.close(alert_id, "区监察室李明", "已核实").state == "closed"


@pytest.mark.parametrize(("action", "args", "error", "message"), [
    ("close", ("李明", "办结"), ActionNotAllowed, "须先说明理由"),
    ("explain", ("张伟", "   "), InvalidInput, "理由说明不能为空"),
    ("explain", ("张伟", "长" * 2001), InvalidInput, "at most 2000"),
    ("acknowledge", ("", "收到"), InvalidInput, "用户不能为空"),
    ("acknowledge", ("王芳", ""), InvalidInput, "note must not be empty"),
])
def test_bad_actions_change_nothing(carded, action, args, error, message):
    box, alert_id = carded
    before = [box.count(t) for t in ("alert_events", "outbox")]
    with pytest.raises(error, match=message):
        getattr(box.service, action)(alert_id, *args)
    assert [box.count(t) for t in ("alert_events", "outbox")] == before
    assert box.service.alert(alert_id).state == "open"


def test_state_rules_and_unknown_alerts(carded):
    box, alert_id = carded
    box.service.acknowledge(alert_id, "王芳", "收到")
    with pytest.raises(ActionNotAllowed, match="cannot acknowledge alert .* in state acknowledged"):
        box.service.acknowledge(alert_id, "王芳", "再次签收")
    with pytest.raises(AlertNotFound, match="alert 999 not found"):
        box.service.explain(999, "张伟", "说明")
    with pytest.raises(AlertNotFound):
        box.service.alert(999)
    with pytest.raises(InvalidInput, match="unknown state"):
        box.service.alerts(state="done")
    assert ALLOWED_ACTIONS["closed"] == () and ALLOWED_ACTIONS["resolved"] == ()


def test_a_yellow_warning_can_be_closed_without_explanation(box):
    box.accept("C1", "2026-11-02")
    box.engine.check(at("2026-11-04"))
    (alert,) = box.service.alerts(level="yellow")
    assert alert.rule == "临近时限" and "close" in alert.allowed_actions
    assert box.service.close(alert.id, "王芳", "已提醒科室").state == "closed"
    filtered = box.service.alerts(state="closed", rule="临近时限", case_no="C1",
                                  dept_code="440605SCJ")
    assert [a.id for a in filtered] == [alert.id]


def test_service_serves_notices_as_issued(carded):
    box, alert_id = carded
    (number,) = box.service.alert(alert_id).notices
    notice = box.service.notice(number)
    assert notice.kind == DEADLINE_NOTICE and notice.html.startswith("<!DOCTYPE html>")
    with pytest.raises(NoticeNotFound, match="no notice numbered 南海电监〔2026〕99号"):
        box.service.notice("南海电监〔2026〕99号")


@pytest.mark.parametrize("subject, label", [
    ("case:NH1", "办件 NH1"), ("window:3:absence:17", "3号窗口 离岗"),
    ("device:camera:cam-a", "摄像头"), ("device:clock", "本机时钟"),
    ("device:notifier:sms", "通知渠道 sms"), ("review:12", "差评回访整改"),
    ("dept:440605SCJ:2026-11:不予许可", "部门 440605SCJ 2026-11 不予许可"),
])
def test_alert_subjects_are_named_in_words(subject, label):
    from edge.supervision import subject_label

    assert subject_label(subject) == label


def test_bulk_sign_off_signs_each_alert_once_and_reports_the_rest(box):
    box.accept("C1", "2026-11-02")
    box.accept("C2", "2026-11-02")
    box.engine.check(at("2026-11-06"))
    first, second = (a.id for a in box.service.alerts(state="open", rule="超期"))
    box.service.acknowledge(second, user="王芳", note="已阅")
    result = box.service.acknowledge_many([first, second, first, 999], "李敏", "批量签收")
    assert result.done == [first]
    assert set(result.refused) == {second, 999} and "不能签收" in result.refused[second]
    assert [e.action for e in box.service.alert(first).events].count("acknowledge") == 1
    assert [e.actor for e in box.service.alert(second).events][-1] == "王芳"
    with pytest.raises(InvalidInput):
        box.service.acknowledge_many([first], "李敏", " ")
