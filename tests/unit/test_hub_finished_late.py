"""A case finished late counts in the month's score (超期办结), on both engines, and nothing the
platform reports after the 办结 (an approved 延期 sent late) cures it.

南海's 企业设立登记 (440605-SCJ-001) promises 3 working days: accepted Monday 2026-11-02, it is
due Thursday 11-05. One case finishes on 11-05 (on time), one on 11-09 (two working days late).
"""

from __future__ import annotations

import datetime as dt

import pytest

from hallwatch.hubsim import SimBox, feed
from hub.scoring import ScoringConfig, score_lines
from hub.scoring_inputs import month_counts
from standard.records import LOCAL_TZ
from tests.hubkit import Clock, open_dashboard, write_hub_folder

ITEM = {"item_code": "440605-SCJ-001", "dept_code": "440605SCJ"}


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"2026-{day}T09:00:00+08:00")


def finished_case(box: SimBox, case_no: str, finished: str) -> list[tuple]:
    case = {"case_no": case_no, "item": ITEM}
    steps = (("申请", "11-02"), ("受理", "11-02"), ("承办", "11-03"), ("审核", "11-04"),
             ("批准", "11-05"), ("办结", finished))
    return [box._event(case, kind, at(day)) for kind, day in steps]


@pytest.fixture
def hub(tmp_path, hub_database):
    from tests.conftest import hub_database_toml

    folder = tmp_path / "hub"
    write_hub_folder(folder, hub_database_toml(hub_database).get("database", {}).get("url"))
    dashboard = open_dashboard(folder, Clock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=LOCAL_TZ)))
    yield dashboard
    dashboard.data.store.close()


def scj(hub):
    return month_counts(hub.data, ScoringConfig(), "2026-11")[("440605", "440605SCJ")]


def test_a_case_finished_late_counts_in_the_score_and_stays_late(hub):
    box = SimBox("440605-01", "440605")
    store = hub.data.store
    feed(store, box, finished_case(box, "NH-ON-TIME", "11-05")
         + finished_case(box, "NH-LATE", "11-09"))
    counts = scj(hub)
    assert (counts.finished, counts.late) == (2, 1)
    line = {line.key: line for line in score_lines(ScoringConfig(), counts)}["overdue"]
    assert line.inputs == "超期办结 1 / 办结 2 件"
    (late,) = store.query("select outcome from hub_cases where case_no = 'NH-LATE'")
    assert late["outcome"] == "late"
    # A 延期 the platform reports after the 办结 extends nothing: still 超期办结.
    feed(store, box, [box._event({"case_no": "NH-LATE", "item": ITEM}, "延期", at("11-10"),
                                 extension_days=5)])
    assert (scj(hub).finished, scj(hub).late) == (2, 1)
    (late,) = store.query("select outcome from hub_cases where case_no = 'NH-LATE'")
    assert late["outcome"] == "late"
