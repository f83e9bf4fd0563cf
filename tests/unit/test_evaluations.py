"""Ratings and the bad-review workflow over simulated working days (the clock is injected)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from click.testing import CliRunner

from edge.cli import edge
from edge.config import EvaluationSection
from edge.evaluations.followups import (
    AWAITING_CALL,
    INVALIDATED,
    RECTIFIED,
    RECTIFYING,
    ExtensionRefused,
    MissingField,
    ReviewInvalidated,
    ReviewNotFound,
    StepAlreadyDone,
    StepOutOfOrder,
)
from edge.evaluations.intake import parse_evaluations
from edge.evaluations.ratings import KeyPress
from edge.evaluations.report import rating_report, rating_rows, uncounted_reason
from edge.evaluations.tables import SCHEMA_SCRIPT
from edge.evaluations.wiring import build_evaluations
from edge.ingest import ingest_texts
from edge.store import Store
from standard.calendar import WorkCalendar
from standard.evaluations import Evaluation
from standard.records import LOCAL_TZ

CALENDAR = WorkCalendar()
FRIDAY = dt.datetime(2026, 11, 6, 10, 0, tzinfo=LOCAL_TZ)


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def to_day(self, day: dt.date, hour: int = 10) -> None:
        self.now = dt.datetime.combine(day, dt.time(hour), LOCAL_TZ)


@pytest.fixture
def clock():
    return Clock(FRIDAY)


def make(tmp_path, clock, **policy):
    store = Store(tmp_path / "box.db", box_id="t", clock=clock)
    store.extra_schema.append(SCHEMA_SCRIPT)
    store.open()
    return store, build_evaluations(store, CALENDAR, EvaluationSection(**policy))


@pytest.fixture
def hall(tmp_path, clock):
    store, evaluations = make(tmp_path, clock)
    yield store, evaluations
    store.close()


def event(n: int, case_no: str, event_type: str, at: dt.datetime, window_no: int | None = 3,
          staff=("S021", "陈丽")) -> tuple[int, str]:
    body = {"event_id": f"E{n}", "case_no": case_no, "item_code": "440605-MZJ-006",
            "dept_code": "440605MZJ", "district_code": "440605", "event_type": event_type,
            "occurred_at": at.isoformat(), "actor": {"id": staff[0], "name": staff[1]}}
    if window_no is not None:
        body["window_no"] = window_no
    return n, json.dumps(body, ensure_ascii=False)


def serve(store, evaluations, *events):
    ingest_texts(store, list(events), source="test", hooks=[evaluations.ratings.arm_from_events])


def press(evaluations, clock, window_no: int, level: int):
    return evaluations.ratings.record_press(KeyPress.new(window_no, level, clock()))


def channel(n: int, case_no: str, level: int, **extra) -> tuple[int, Evaluation]:
    body = {"evaluation_id": f"QR-{n}", "channel": "二维码", "case_no": case_no, "level": level,
            "rated_at": FRIDAY.isoformat(), **extra}
    return n, Evaluation.model_validate_json(json.dumps(body, ensure_ascii=False))


def outbox_kinds(store) -> list[str]:
    return [r["kind"] for r in store.query("select kind from outbox order by seq")]


def test_bad_review_opens_a_follow_up_with_working_day_deadlines(hall, clock):
    store, evaluations = hall
    outcome = press(evaluations, clock, 3, 1)
    assert outcome.followup_opened and not outcome.armed
    item = evaluations.followups.get(outcome.rating_id)
    assert item.state == AWAITING_CALL
    assert item.return_call_due == "2026-11-09"  # Friday -> Monday
    assert item.rectify_due == CALENDAR.add_workdays(FRIDAY.date(), 15).isoformat()
    assert outbox_kinds(store) == ["rating", "review_followup"]
    assert press(evaluations, clock, 3, 3).followup_opened is False


def test_workflow_return_call_then_rectification_with_audit(hall, clock):
    store, evaluations = hall
    rating_id = press(evaluations, clock, 3, 2).rating_id
    followups = evaluations.followups
    with pytest.raises(StepOutOfOrder, match="请先登记回访"):
        followups.record_rectification(rating_id, by="王主任", note="增开窗口")
    with pytest.raises(MissingField, match="请填写回访情况"):
        followups.record_return_call(rating_id, by="王主任", note="  ")
    assert followups.get(rating_id).state == AWAITING_CALL
    assert [a["action"] for a in followups.audit(rating_id)] == ["opened"]

    clock.to_day(dt.date(2026, 11, 9))
    item = followups.record_return_call(rating_id, by="王主任", note="已电话联系，反映排队久")
    assert item.state == RECTIFYING and item.return_called_at.startswith("2026-11-09")
    with pytest.raises(StepAlreadyDone):
        followups.record_return_call(rating_id, by="王主任", note="again")
    item = followups.record_rectification(rating_id, by="王主任", note="高峰期增开两个窗口")
    assert item.state == RECTIFIED
    trail = followups.audit(rating_id)
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("opened", "system"), ("return_call", "王主任"), ("rectification", "王主任")]
    assert trail[1]["detail"] == {"note": "已电话联系，反映排队久"}
    assert outbox_kinds(store).count("review_followup") == 3
    for sql in ("update review_audit set actor = 'x'", "delete from review_audit"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.write(lambda tx, sql=sql: tx.conn.execute(sql))
    assert len(followups.audit(rating_id)) == 3


def test_overdue_follow_ups_raise_alerts_once(hall, clock):
    store, evaluations = hall
    rating_id = press(evaluations, clock, 3, 1).rating_id
    followups = evaluations.followups
    assert followups.check_overdue(clock()) == 0
    clock.to_day(dt.date(2026, 11, 9), hour=23)  # the due day itself: not yet late
    assert followups.check_overdue(clock()) == 0
    clock.to_day(dt.date(2026, 11, 10))
    assert followups.check_overdue(clock()) == 1
    assert followups.check_overdue(clock()) == 0  # once per (subject, rule)
    alerts = store.query("select subject, rule, level, detail, dept_code from alerts")
    assert [(a["subject"], a["rule"], a["level"]) for a in alerts] == [
        (f"review:{rating_id}", "差评回访超期", "red")]
    assert "回访期限 2026-11-09 已过" in alerts[0]["detail"]
    followups.record_return_call(rating_id, by="王主任", note="迟到的回访")
    due = dt.date.fromisoformat(followups.get(rating_id).rectify_due)
    clock.to_day(CALENDAR.add_workdays(due, 1))
    assert followups.check_overdue(clock()) == 1
    assert {a["rule"] for a in store.query("select rule from alerts")} == {
        "差评回访超期", "差评整改超期"}


def test_one_extension_of_at_most_15_working_days(hall, clock):
    _, evaluations = hall
    rating_id = press(evaluations, clock, 3, 2).rating_id
    followups = evaluations.followups
    before = followups.get(rating_id)
    with pytest.raises(ExtensionRefused, match="1–15"):
        followups.extend(rating_id, by="李局", days=16, reason="需要采购设备")
    with pytest.raises(MissingField, match="延期理由"):
        followups.extend(rating_id, by="李局", days=5, reason="")
    assert followups.get(rating_id) == before  # refused steps change nothing
    item = followups.extend(rating_id, by="李局", days=15, reason="需要采购设备")
    assert item.rectify_due == CALENDAR.add_workdays(FRIDAY.date(), 30).isoformat()
    with pytest.raises(ExtensionRefused, match="已延长过一次"):
        followups.extend(rating_id, by="李局", days=1, reason="再延一天")
    with pytest.raises(ReviewNotFound):
        followups.extend(999, by="李局", days=1, reason="x")


def test_one_follow_up_review(hall, clock):
    _, evaluations = hall
    rating_id = press(evaluations, clock, 3, 1).rating_id
    item = evaluations.followups.add_follow_up_review(rating_id, level=4, text="整改后好多了")
    assert (item.follow_up_level, item.follow_up_text) == (4, "整改后好多了")
    with pytest.raises(StepAlreadyDone, match="只能追评一次"):
        evaluations.followups.add_follow_up_review(rating_id, level=5)
    assert evaluations.ratings.get(rating_id)["level"] == 1  # the original stays as it was


def test_appeal_marks_a_review_invalid_and_leaves_the_counts(hall, clock):
    store, evaluations = hall
    press(evaluations, clock, 3, 5)
    rating_id = press(evaluations, clock, 3, 1).rating_id
    window = rating_report(store, today=clock().date())["windows"][0]
    assert (window["counted"], window["bad"], window["satisfaction"]) == (2, 1, 0.5)
    with pytest.raises(MissingField, match="复核批准人"):
        evaluations.followups.appeal(rating_id, verdict="恶意", reason="辱骂工作人员",
                                     approved_by="", by="王主任")
    with pytest.raises(MissingField, match="恶意 或 误评"):
        evaluations.followups.appeal(rating_id, verdict="不满", reason="x", approved_by="李局",
                                     by="王主任")
    item = evaluations.followups.appeal(rating_id, verdict="误评", reason="老人按错键，已核实",
                                        approved_by="李局", by="王主任")
    assert item.state == INVALIDATED and item.appeal_approved_by == "李局"
    stored = evaluations.ratings.get(rating_id)
    assert (stored["counted"], stored["invalid_reason"]) == (0, "误评")
    window = rating_report(store, today=clock().date())["windows"][0]
    assert (window["total"], window["counted"], window["bad"], window["invalid"],
            window["satisfaction"]) == (2, 1, 0, 1, 1.0)
    assert window["followups"][INVALIDATED] == 1
    for step in (lambda: evaluations.followups.record_return_call(rating_id, by="a", note="b"),
                 lambda: evaluations.followups.appeal(rating_id, verdict="恶意", reason="r",
                                                      approved_by="c", by="d")):
        with pytest.raises(ReviewInvalidated, match="误评"):
            step()
    clock.to_day(dt.date(2026, 12, 31))
    assert evaluations.followups.check_overdue(clock()) == 0  # invalid reviews are not chased


def test_one_rating_per_service_across_channels(hall, clock):
    store, evaluations = hall
    serve(store, evaluations, event(1, "NH1", "受理", FRIDAY - dt.timedelta(minutes=5)))
    first = press(evaluations, clock, 3, 5)
    assert (first.armed, first.case_no, first.staff_id) == (True, "NH1", "S021")
    [(_, again)] = evaluations.ratings.record_evaluations([channel(1, "NH1", 2)])
    assert (again.counted, again.repeat_of, again.followup_opened) == (False, first.rating_id,
                                                                       False)
    # Re-sending the same evaluation is harmless.
    [(_, resent)] = evaluations.ratings.record_evaluations([channel(1, "NH1", 2)])
    assert resent.duplicate and resent.rating_id == again.rating_id
    report = rating_report(store, today=clock().date())
    assert report["staff"][0]["key"] == "S021" and report["staff"][0]["label"] == "陈丽"
    assert (report["staff"][0]["counted"], report["staff"][0]["repeats"]) == (1, 1)


def test_old_events_do_not_arm_a_window(hall, clock):
    store, evaluations = hall
    serve(store, evaluations, event(1, "NH9", "受理", FRIDAY - dt.timedelta(days=3)))
    outcome = press(evaluations, clock, 3, 5)
    assert not outcome.armed and outcome.case_no is None


def test_channel_evaluation_links_case_staff_and_hides_personal_data(hall, clock):
    store, evaluations = hall
    serve(store, evaluations, event(1, "NH2", "受理", FRIDAY - dt.timedelta(days=2)))
    [(_, outcome)] = evaluations.ratings.record_evaluations([channel(
        7, "NH2", 2, tags=["等候时间长"], text="排队一小时", citizen_name="张三丰",
        citizen_phone="13800138000")])
    assert (outcome.staff_id, outcome.dept_code, outcome.window_no) == ("S021", "440605MZJ", 3)
    masked = evaluations.ratings.get(outcome.rating_id)
    assert (masked["citizen_name"], masked["citizen_phone"]) == ("张**", "138****8000")
    shown = evaluations.ratings.get(outcome.rating_id, reveal_personal=True)
    assert (shown["citizen_name"], shown["citizen_phone"]) == ("张三丰", "13800138000")
    assert shown["tags"] == ["等候时间长"] and shown["staff_name"] == "陈丽"
    sent = [json.loads(r["body"])["body"] for r in store.query(
        "select body from outbox where kind = 'rating'")]
    assert sent[0]["has_contact"] is True
    assert "citizen_phone" not in sent[0] and "citizen_name" not in sent[0]


def test_malformed_evaluations_name_each_field():
    good, bad = parse_evaluations(json.dumps([
        {"evaluation_id": "S-1", "channel": "短信", "case_no": "NH1", "level": 4,
         "rated_at": "2026-11-06T10:00:00+08:00"},
        {"evaluation_id": "S-2", "channel": "微信", "case_no": "NH1", "level": "4",
         "rated_at": "2026-11-06T10:00:00", "mood": "ok"},
    ], ensure_ascii=False).encode())
    assert [index for index, _ in good] == [0]
    fields = {e["field"]: e["message"] for e in bad[0].errors}
    assert set(fields) == {"channel", "level", "rated_at", "mood"}
    assert fields["mood"].startswith("未知字段")
    assert "offset" in fields["rated_at"]


def test_default_satisfied_after_n_working_days(tmp_path, clock):
    store, evaluations = make(tmp_path, clock, default_satisfied=True)
    try:
        serve(store, evaluations, event(1, "NH3", "受理", FRIDAY, window_no=None),
              event(2, "NH3", "办结", FRIDAY, window_no=None),
              event(3, "NH4", "受理", FRIDAY, window_no=None),
              event(4, "NH4", "办结", FRIDAY, window_no=None))
        last_day = CALENDAR.add_workdays(FRIDAY.date(), 5)
        clock.to_day(last_day, hour=23)
        assert evaluations.ratings.apply_default_ratings(clock()) == 0
        clock.to_day(last_day + dt.timedelta(days=1))
        [(_, real)] = evaluations.ratings.record_evaluations([channel(1, "NH4", 5)])
        assert evaluations.scheduled_pass(clock()) == {"alerts_opened": 0, "defaulted": 1}
        assert evaluations.ratings.apply_default_ratings(clock()) == 0
        [assumed] = evaluations.ratings.find(case_no="NH3")
        assert (assumed["level"], assumed["defaulted"], assumed["channel"]) == (4, 1, "默认好评")
        # A late real rating replaces the assumed one.
        [(_, late)] = evaluations.ratings.record_evaluations([channel(2, "NH3", 3)])
        assert late.counted and evaluations.ratings.get(assumed["id"])["counted"] == 0
        assert real.counted
    finally:
        store.close()


def test_default_satisfied_is_off_by_default(hall, clock):
    store, evaluations = hall
    serve(store, evaluations, event(1, "NH5", "办结", FRIDAY - dt.timedelta(days=30)))
    assert evaluations.ratings.apply_default_ratings(clock()) == 0


def test_press_and_ratings_commands(tmp_path):
    db = tmp_path / "box.db"
    runner = CliRunner()
    result = runner.invoke(edge, ["press", "--db", str(db), "--window", "2", "--level", "1"])
    assert result.exit_code == 0, result.output
    assert "已记录评价 #1：窗口 2，1 非常不满意" in result.output
    assert "差评：已生成回访整改任务" in result.output
    runner.invoke(edge, ["press", "--db", str(db), "--window", "2", "--level", "5"])
    result = runner.invoke(edge, ["ratings", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [window] = report["windows"]
    assert (window["key"], window["total"], window["bad"], window["satisfaction"]) == (2, 2, 1, 0.5)
    assert window["followups"][AWAITING_CALL] == 1
    text = runner.invoke(edge, ["ratings", "--db", str(db), "--since", "2000-01-01"]).output
    assert "== 窗口 window ==" in text and "50.0%" in text
    bad = runner.invoke(edge, ["press", "--db", str(db), "--window", "2", "--level", "6"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_report_counts_local_days_up_to_until_and_the_whole_hall(hall, clock):
    store, evaluations = hall
    for day, hour, minute, level in ((dt.date(2026, 10, 31), 23, 59, 1),
                                     (dt.date(2026, 11, 2), 0, 0, 5),
                                     (dt.date(2026, 11, 30), 23, 59, 2),
                                     (dt.date(2026, 12, 1), 0, 0, 4)):
        clock.now = dt.datetime.combine(day, dt.time(hour, minute), LOCAL_TZ)
        press(evaluations, clock, 3, level)
    report = rating_report(store, since=dt.date(2026, 11, 1), until=dt.date(2026, 12, 1),
                           today=dt.date(2026, 12, 1))
    assert (report["since"], report["until"]) == ("2026-11-01", "2026-12-01")
    hall_entry = report["hall"]
    assert (hall_entry["counted"], hall_entry["bad"], hall_entry["satisfaction"]) == (2, 1, 0.5)
    assert hall_entry["levels"] == {"5": 1, "4": 0, "3": 0, "2": 1, "1": 0}
    assert hall_entry["followups"]["待回访"] == 1
    [window] = report["windows"]
    assert (window["key"], window["counted"]) == (3, 2)
    everything = rating_report(store, today=dt.date(2026, 12, 1))
    assert everything["hall"]["counted"] == 4 and everything["until"] is None


def test_rating_rows_say_why_a_rating_is_not_counted(hall, clock):
    store, evaluations = hall
    serve(store, evaluations, event(1, "NH7", "受理", FRIDAY - dt.timedelta(minutes=5)))
    first = press(evaluations, clock, 3, 1)
    [(_, repeat)] = evaluations.ratings.record_evaluations([channel(
        1, "NH7", 5, citizen_name="张三丰", citizen_phone="13800138000")])
    evaluations.followups.appeal(first.rating_id, verdict="恶意", reason="辱骂工作人员",
                                 approved_by="李局", by="王主任")
    rows = rating_rows(store, since=FRIDAY.date(), until=FRIDAY.date() + dt.timedelta(days=1))
    assert [(r["id"], r["state"], r["case_no"]) for r in rows] == [
        (first.rating_id, "已撤销", "NH7"), (repeat.rating_id, None, "NH7")]
    assert [uncounted_reason(r) for r in rows] == [
        "申诉撤销（恶意）", f"重复评价（首次评价 #{first.rating_id}）"]
    assert not {"citizen_name", "citizen_phone", "text"} & set(rows[1])
    assert rows[0]["return_call_due"] == "2026-11-09"
    assert rating_rows(store, since=dt.date(2026, 11, 7), until=dt.date(2026, 12, 1)) == []
    replaced = {"invalid_reason": None, "superseded_by": 9, "repeat_of": None}
    assert uncounted_reason(replaced) == "默认好评被替换（被评价 #9 取代）"
    assert uncounted_reason({**replaced, "superseded_by": None}) == ""


def test_worklist_keeps_open_reviews_and_the_periods_closed_ones(hall, clock):
    store, evaluations = hall
    followups = evaluations.followups
    old_open = press(evaluations, clock, 3, 1).rating_id            # Friday 6 Nov, never called
    old_done = press(evaluations, clock, 3, 2).rating_id
    followups.record_return_call(old_done, by="王主任", note="已回访")
    followups.record_rectification(old_done, by="王主任", note="已整改")
    clock.to_day(dt.date(2026, 12, 2))
    new_open = press(evaluations, clock, 2, 2).rating_id
    new_done = press(evaluations, clock, 2, 1).rating_id
    followups.appeal(new_done, verdict="误评", reason="按错键", approved_by="李局", by="王主任")
    press(evaluations, clock, 2, 5)                                 # not a bad review
    december = (dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    listed = followups.worklist(*december)
    assert [item.rating_id for _, item in listed] == [old_open, new_open, new_done]
    rating, item = listed[1]
    assert (rating["window_no"], rating["level"], item.state) == (2, 2, AWAITING_CALL)
    assert "citizen_phone" not in rating
    november = followups.worklist(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert [item.rating_id for _, item in november] == [old_open, new_open, old_done]
    assert [i.rating_id for _, i in followups.worklist(*december, state=INVALIDATED)] == [new_done]
    late = followups.worklist(*december, overdue_on=dt.date(2026, 12, 2))
    assert [item.rating_id for _, item in late] == [old_open]  # due 9 Nov; the new one is not


def test_next_steps_follow_the_workflow(hall, clock):
    _, evaluations = hall
    followups = evaluations.followups
    rating_id = press(evaluations, clock, 3, 1).rating_id
    assert followups.get(rating_id).next_steps == ("return_call", "extension", "appeal")
    followups.extend(rating_id, by="王主任", days=3, reason="需协调部门")
    assert followups.get(rating_id).next_steps == ("return_call", "appeal")
    followups.record_return_call(rating_id, by="王主任", note="已回访")
    assert followups.get(rating_id).next_steps == ("rectification", "appeal")
    followups.record_rectification(rating_id, by="王主任", note="已整改")
    assert followups.get(rating_id).next_steps == ("appeal",)
    followups.appeal(rating_id, verdict="恶意", reason="辱骂", approved_by="李局", by="李局")
    assert followups.get(rating_id).next_steps == ()
