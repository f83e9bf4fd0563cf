"""Every case is judged, open or finished, however its events came; a joint case's late share is
its own department's 超期; an unknown item fails closed. Real SQLite files, the real 2026
calendar, the box's own ingest (no rule check after it: as ``edge ingest`` leaves a store).

Dates: a case accepted Monday 2026-11-02 with a promised limit of 3 is due Thursday 11-05.
The joint item's 交通局 share (10 working days) from a 分送 on 11-04 is due 11-18.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.cases import CaseBoard
from edge.ingest import ingest_texts
from edge.store import Store
from edge.supervision.config import RulesSection
from edge.supervision.rules import RuleEngine
from edge.supervision.wiring import build_supervision
from standard.calendar import WorkCalendar
from standard.deadlines import LightSettings
from standard.records import CatalogueItem

SCJ, FGJ, ZJJ, JTJ = "440605SCJ", "440605FGJ", "440605ZJJ", "440605JTJ"


def item(code: str, dept: str, **changes) -> CatalogueItem:
    raw = {"item_code": code, "name": "企业设立登记", "dept_code": dept,
           "dept_name": "区市场监督管理局", "legal_days": 15, "promised_days": 3,
           "fee_yuan": "0.00", "case_type": "承诺件", "legal_basis": "《中华人民共和国行政许可法》",
           **changes}
    return CatalogueItem.model_validate_json(json.dumps(raw, ensure_ascii=False))


PLAIN = item("440605-SCJ-001", SCJ)
JOINT = item("440605-FGJ-010", FGJ, name="企业投资项目核准", dept_name="发展和改革局",
             legal_days=45, promised_days=20, case_type="联办件",
             joint_depts=[{"dept_code": ZJJ, "dept_name": "住房和城乡建设局", "days": 15},
                          {"dept_code": JTJ, "dept_name": "交通运输局", "days": 10}])
CATALOGUE = {PLAIN.item_code: PLAIN, JOINT.item_code: JOINT}


def at(day: str, time: str = "09:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{day}T{time}:00+08:00")


@dataclass
class Box:
    store: Store
    board: CaseBoard
    engine: RuleEngine
    serial: int = 0

    def load(self, case_no: str, *steps, item_code: str = PLAIN.item_code) -> None:
        """Ingest (day, event type, extra...) steps of one case, without judging them."""
        lines = []
        for day, event_type, *rest in steps:
            extra = rest[0] if rest else {}
            self.serial += 1
            lines.append((self.serial, json.dumps({
                "event_id": f"E{self.serial:05d}", "case_no": case_no, "item_code": item_code,
                "dept_code": CATALOGUE.get(item_code, PLAIN).dept_code, "district_code": "440605",
                "event_type": event_type, "occurred_at": f"2026-{day}T09:00:00+08:00",
                "actor": {"id": "S001", "name": "李敏"}, **extra}, ensure_ascii=False)))
        result = ingest_texts(self.store, lines, source="file", catalogue=self.board.catalogue)
        assert result.accepted == len(lines), result.as_dict()

    def alerts(self, case_no: str) -> dict[tuple[str, str], dict]:
        return {(row["dept_code"], row["rule"]): row for row in self.store.query(
            "select * from alerts where case_no = ? order by id", (case_no,))}


def make_box(path: Path, catalogue=None) -> Box:
    store = Store(path, box_id="440605-01")
    board = CaseBoard(store, dict(CATALOGUE if catalogue is None else catalogue), WorkCalendar(),
                      LightSettings())
    parts = build_supervision(store, board, lambda: at("11-02"), rules=RulesSection(),
                              contacts=[], notify=None, box_id="t", data_dir=path.parent)
    store.open()
    return Box(store, board, parts.rules)


@pytest.fixture
def box(tmp_path):
    made = make_box(tmp_path / "box.db")
    yield made
    made.store.close()


def test_finished_cases_loaded_from_a_file_are_judged(box):
    box.load("F1", ("11-02", "申请"), ("11-03", "办结"))                   # no 受理
    box.load("F2", ("11-02", "申请"), ("11-02", "不予受理"))               # no reason
    box.load("F3", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"), ("11-03", "审核"),
             ("11-04", "批准"), ("11-05", "办结"))                           # on time: nothing
    result = box.engine.check(at("11-20"))
    assert result.checked == 3
    assert "未受理即办结" in box.alerts("F1")[(SCJ, "程序异常")]["detail"]
    assert "不予受理未说明理由" in box.alerts("F2")[(SCJ, "无理由拒绝")]["detail"]
    assert box.alerts("F3") == {}
    assert box.store.query("select count(*) as n from cases_to_judge")[0]["n"] == 0
    assert box.engine.check(at("11-20", "09:01")).checked == 0            # nothing open, nothing new


def test_a_case_finished_late_keeps_a_red_finding_nothing_cures(box):
    box.load("L1", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"), ("11-04", "审核"),
             ("11-05", "批准"), ("11-09", "办结"))                           # due 11-05
    box.engine.check(at("11-20"))
    alerts = box.alerts("L1")
    assert set(alerts) == {(SCJ, "超期办结")}
    late = alerts[(SCJ, "超期办结")]
    assert (late["level"], late["state"], late["card"]) == ("red", "open", None)
    assert late["detail"] == "2026-11-09办结，超过承诺时限2个工作日（承诺办结日期2026-11-05）"
    box.load("L1", ("11-10", "延期", {"extension_days": 5}))              # after the end: no cure
    box.engine.check(at("11-20", "10:00"))
    assert box.alerts("L1")[(SCJ, "超期办结")]["cleared_at"] is None
    assert "办结后仍有延期" in box.alerts("L1")[(SCJ, "程序异常")]["detail"]


def test_an_open_overdue_case_that_finishes_late_moves_from_overdue_to_finished_late(box):
    box.load("L2", ("11-02", "申请"), ("11-02", "受理"))
    box.engine.check(at("11-06"))
    assert box.alerts("L2")[(SCJ, "超期")]["card"] == "yellow"
    box.load("L2", ("11-06", "承办"), ("11-06", "审核"), ("11-06", "批准"), ("11-06", "办结"))
    box.engine.check(at("11-06", "15:00"))
    alerts = box.alerts("L2")
    assert alerts[(SCJ, "超期")]["cleared_at"] and alerts[(SCJ, "超期")]["state"] == "open"
    assert alerts[(SCJ, "超期办结")]["cleared_at"] is None


def test_a_late_share_is_its_own_departments_alert_card_and_notice(box):
    box.load("J1", ("11-02", "申请", {"case_type": "联办件"}), ("11-02", "受理"),
             ("11-02", "分送", {"to_dept_code": ZJJ}), ("11-04", "分送", {"to_dept_code": JTJ}),
             ("11-05", "承办", {"dept_code": JTJ}), ("11-05", "承办", {"dept_code": ZJJ}),
             ("11-05", "承办"), item_code=JOINT.item_code)
    box.engine.check(at("11-17"))
    near = box.alerts("J1")[(JTJ, "临近时限")]
    assert (near["subject"], near["level"]) == ("case:J1:dept:440605JTJ", "yellow")
    box.engine.check(at("11-19"))
    from edge.cases import CaseFilter
    for dept in (JTJ, ZJJ, FGJ):   # the lead and both participants find it under their name
        assert [r.case_no for r in box.board.cases(at("11-19"), CaseFilter(dept_code=dept))] \
            == ["J1"]
    assert box.board.cases(at("11-19"), CaseFilter(dept_code=SCJ)) == []
    alerts = box.alerts("J1")
    assert set(alerts) == {(JTJ, "临近时限"), (JTJ, "超期")}   # no 程序异常, nothing for the lead
    late = alerts[(JTJ, "超期")]
    assert late["detail"].startswith("协办部门交通运输局已超过办理时限1个工作日")
    assert late["card"] == "yellow"
    (notice,) = box.store.query("select * from notices")
    content = json.loads(notice["content"])
    assert (notice["dept_code"], content["recipient"]) == (JTJ, "交通运输局")
    assert ["本部门办理期限", "2026年11月18日（10个工作日）"] in content["lines"]
    assert "向牵头部门反馈办理意见" in content["requirements"][0]
    box.load("J1", ("11-19", "反馈", {"dept_code": JTJ, "reason": "同意"}), item_code=JOINT.item_code)
    box.engine.check(at("11-27"))                                         # card due 11-24 passed
    assert box.alerts("J1")[(JTJ, "超期")]["card"] == "yellow"            # it answered: no red card
    assert box.alerts("J1")[(JTJ, "超期")]["cleared_at"] is None          # but it was late


def test_an_unknown_item_fails_closed_and_clears_when_the_catalogue_knows_it(tmp_path):
    path = tmp_path / "box.db"
    box = make_box(path, catalogue={})
    box.load("U1", ("11-02", "申请"), ("11-02", "受理"), item_code="440605-XYZ-404")
    (row,) = [r for r in box.board.cases(at("11-03"), _all()) if r.case_no == "U1"]
    assert row.light == "unknown" and "事项目录中没有该事项：440605-XYZ-404" in row.reasons
    box.engine.check(at("11-03"))
    missing = box.alerts("U1")[(SCJ, "事项缺失")]
    assert (missing["level"], missing["card"]) == ("red", None)
    assert "440605-XYZ-404" in missing["detail"]
    box.engine.check(at("11-06"))                                          # still no card
    assert box.store.query("select count(*) as n from notices")[0]["n"] == 0
    box.store.close()
    known = {**CATALOGUE, "440605-XYZ-404": item("440605-XYZ-404", SCJ, promised_days=10)}
    again = make_box(path, catalogue=known)                                # restart, new catalogue
    again.engine.check(at("11-06", "10:00"))
    missing = again.alerts("U1")[(SCJ, "事项缺失")]
    assert (missing["state"], bool(missing["cleared_at"])) == ("resolved", True)
    again.store.close()


def test_a_catalogue_that_names_the_departments_refolds_their_events(box):
    """Loaded before the catalogue listed the item: the co-department's 承办 was the lead's."""
    box.board.catalogue = {PLAIN.item_code: PLAIN}
    box.load("J2", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"),
             ("11-03", "承办", {"dept_code": JTJ}), item_code=JOINT.item_code)
    box.engine.check(at("11-04"))
    assert "承办在承办之后上报" in box.alerts("J2")[(FGJ, "程序异常")]["detail"]
    box.board.catalogue = dict(CATALOGUE)                                   # the city's update
    box.engine.check(at("11-04", "10:00"))
    alerts = box.alerts("J2")
    assert alerts[(FGJ, "程序异常")]["cleared_at"] and alerts[(FGJ, "事项缺失")]["state"] == "resolved"
    (row,) = [r for r in box.board.cases(at("11-04"), _all()) if r.case_no == "J2"]
    assert [(d["dept_code"], d["state"]) for d in row.as_dict()["departments"]] == [
        (ZJJ, "waiting"), (JTJ, "waiting")]


def test_a_refold_over_many_cases_goes_a_chunk_at_a_time_and_misses_none(box, monkeypatch):
    """A box's first sync refolds a joint item's whole history (issue 15: memory bounded): it
    holds the facts of REFOLD_CHUNK cases at a time, and every case is refolded and judged."""
    monkeypatch.setattr("edge.ingest.REFOLD_CHUNK", 2)
    box.board.catalogue = {PLAIN.item_code: PLAIN}
    numbers = [f"J{n}" for n in range(5)]
    for case_no in numbers:
        box.load(case_no, ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"),
                 ("11-03", "承办", {"dept_code": JTJ}), item_code=JOINT.item_code)
    box.engine.check(at("11-04"))
    box.board.catalogue = dict(CATALOGUE)                                   # the city's update
    box.engine.check(at("11-04", "10:00"))
    rows = {r.case_no: r for r in box.board.cases(at("11-04"), _all())}
    for case_no in numbers:
        assert box.alerts(case_no)[(FGJ, "程序异常")]["cleared_at"], case_no
        assert [(d["dept_code"], d["state"]) for d in rows[case_no].as_dict()["departments"]] \
            == [(ZJJ, "waiting"), (JTJ, "waiting")], case_no
    assert box.store.query("select count(*) as n from cases_to_judge")[0]["n"] == 0


def test_a_backlog_is_judged_a_bounded_chunk_at_a_time_and_every_case_once(box, monkeypatch):
    """Issue 15: the box's memory while it judges a history is one chunk's, not the history's."""
    box.engine.chunk = 2
    for n in range(5):
        box.load(f"C{n}", ("10-09", "受理"), ("10-10", "办结"))
    sizes = []
    check = box.engine._check
    monkeypatch.setattr(box.engine, "_check", lambda at, case_nos, result: (
        sizes.append(len(case_nos)), check(at, case_nos, result)))
    result = box.engine.drain(at("11-04"))
    assert sizes == [2, 2, 1] and result.checked == 5
    assert box.store.query("select count(*) as n from cases_to_judge")[0]["n"] == 0


def _all():
    from edge.cases import CaseFilter
    return CaseFilter(include_finished=True)


def test_a_catalogue_pushed_by_the_hub_clears_the_missing_item(tmp_path):
    from edge.config import load_box_config
    from edge.configsync import ConfigApplier
    from tests.boxes import write_box_folder

    config = load_box_config(write_box_folder(tmp_path))
    box = make_box(tmp_path / "box.db", catalogue={})
    box.load("U2", ("11-02", "申请"), ("11-02", "受理"), item_code=PLAIN.item_code)
    box.engine.drain(at("11-03"))
    assert box.alerts("U2")[(SCJ, "事项缺失")]["state"] == "open"
    woken = []
    apply = ConfigApplier(config, box.store, box.board, on_applied=lambda: woken.append(True))
    apply("catalogue", 7, {"version": 1, "items": [json.loads(PLAIN.model_dump_json())]})
    assert woken == [True]                       # the running box's checker is woken ...
    box.engine.drain(at("11-04"))                # ... and judges what the new item concerns
    assert box.alerts("U2")[(SCJ, "事项缺失")]["state"] == "resolved"
    assert box.alerts("U2")[(SCJ, "临近时限")]["detail"].startswith("距承诺办结日期2026-11-05")
    box.store.close()


def test_a_share_the_catalogue_gives_no_limit_fails_closed_until_it_does(box):
    """The lead sends the case to 卫生健康局, which the item does not list: its share cannot be
    judged, and a 事项缺失 alert says so (no card), until the catalogue lists it."""
    WJJ = "440605WJJ"
    box.load("J3", ("11-02", "申请", {"case_type": "联办件"}), ("11-02", "受理"),
             ("11-02", "分送", {"to_dept_code": WJJ}), ("11-03", "承办", {"dept_code": WJJ}),
             item_code=JOINT.item_code)
    box.engine.check(at("11-04"))
    missing = box.alerts("J3")[(WJJ, "事项缺失")]
    assert (missing["subject"], missing["level"], missing["card"]) == (
        "case:J3:dept:440605WJJ", "red", None)
    assert "440605-FGJ-010" in missing["detail"] and WJJ in missing["detail"]
    assert (FGJ, "程序异常") not in box.alerts("J3")          # its 承办 is still its share's
    listed = JOINT.model_copy(update={"joint_depts": [
        *JOINT.joint_depts, JOINT.joint_depts[0].model_copy(
            update={"dept_code": WJJ, "dept_name": "卫生健康局", "days": 5})]})
    box.board.catalogue = {**CATALOGUE, JOINT.item_code: listed}        # the city's update
    box.engine.check(at("11-04", "10:00"))
    missing = box.alerts("J3")[(WJJ, "事项缺失")]
    assert (missing["state"], bool(missing["cleared_at"])) == ("resolved", True)
    assert box.alerts("J3").get((WJJ, "临近时限")) is None             # due 11-09: judged now


def test_a_share_due_in_a_year_the_calendar_does_not_know_fails_closed(box):
    """The lead is due within 2026, but 住建局's 15 days from a 分送 on 12-15 run into 2027,
    which the calendar does not know: that share raises 日历缺失, the lead does not."""
    box.load("J4", ("12-01", "申请", {"case_type": "联办件"}), ("12-01", "受理"),
             ("12-15", "分送", {"to_dept_code": ZJJ}), item_code=JOINT.item_code)
    box.engine.check(at("12-16"))
    alerts = box.alerts("J4")
    gap = alerts[(ZJJ, "日历缺失")]
    assert (gap["subject"], gap["level"]) == ("case:J4:dept:440605ZJJ", "red")
    assert "2027" in gap["detail"] and "住房和城乡建设局" in gap["detail"]
    assert (FGJ, "日历缺失") not in alerts


def test_events_after_a_refold_build_on_the_refolded_facts(box):
    """The writer keeps recently written facts in memory (edge/casefold.py): a refold must
    not leave the old ones there for the case's next event to be folded into."""
    box.board.catalogue = {PLAIN.item_code: PLAIN}
    box.load("J3", ("11-02", "申请"), ("11-02", "受理"), ("11-03", "承办"),
             ("11-03", "承办", {"dept_code": JTJ}), item_code=JOINT.item_code)
    box.board.catalogue = dict(CATALOGUE)                                   # the city's update
    box.engine.check(at("11-04"))                                           # refolds J3
    box.load("J3", ("11-04", "审核"), item_code=JOINT.item_code)
    [row] = box.store.query("select facts from cases where case_no = 'J3'")
    facts = json.loads(row["facts"])
    assert facts["event_count"] == 5 and facts["stage"] == "审核"
    assert JTJ in facts["shares"] and not facts.get("anomalies")
