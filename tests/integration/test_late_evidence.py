"""A verdict disproven by later-arriving events is withdrawn on the box and at the hub, and its
card is void: not counted in the month's score inputs (issue 14, "verdicts that stand up").

Real processes on 127.0.0.1 (tests/integration/relay_harness.py): ``hallwatch hub serve`` and
``hallwatch edge serve``. The platform first sends only a case's 申请 and 受理 from a month ago
(the rest is held back, as after an outage): the box finds it overdue and issues a yellow card
with its 限期办理通知书. Then the platform catches up: 承办 … 办结, all on the day of 受理, long
before the deadline. The box withdraws the 超期 (and the 超法定时限), the hub shows the notice
void, and the month's yellow cards of that department go back to none.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hub.scoring_inputs import month_counts
from hub.scores_cli import open_dashboard
from hub.services import Scope
from hub.services.notices import box_notice, notice_page
from standard.records import LOCAL_TZ
from tests.integration.relay_harness import wait_all_arrived, wait_for

pytestmark = pytest.mark.timeout(120)

ITEM, DEPT, DISTRICT = "440605-SCJ-001", "440605SCJ", "440605"   # promised 3 working days
CASE = "440605LATE000001"


def event(number: int, kind: str, at: dt.datetime, **extra) -> dict:
    return {"event_id": f"LATE-{number:03d}", "case_no": CASE, "item_code": ITEM,
            "dept_code": DEPT, "district_code": DISTRICT, "event_type": kind,
            "occurred_at": at.isoformat(timespec="seconds"),
            "actor": {"id": "S001", "name": "李敏"}, **extra}


def month_cards(hub) -> tuple[int, int]:
    """(yellow cards, red cards) of the department in this month's score inputs, read with
    the hub stopped (the same reading as ``hallwatch hub score``)."""
    hub.stop()
    dashboard = open_dashboard(hub.config_path)
    try:
        data = dashboard.data
        counts = month_counts(data, dashboard.scoring, data.today().strftime("%Y-%m"))
        # every department's cards: the case's department only appears while something counts
        assert all(key == (DISTRICT, DEPT) for key, dept in counts.items()
                   if dept.yellow_cards or dept.red_cards)
        dept = counts.get((DISTRICT, DEPT))
        return (dept.yellow_cards, dept.red_cards) if dept else (0, 0)
    finally:
        dashboard.data.store.close()
        hub.start()


def test_an_on_time_finish_arriving_late_withdraws_the_overdue_card_box_and_hub(deployment):
    hub, box = deployment.hub, deployment.add_box()
    hub.start()
    box.start()
    accepted = (dt.datetime.now(LOCAL_TZ) - dt.timedelta(days=30)).replace(
        hour=9, minute=0, second=0, microsecond=0)
    assert box.post([event(1, "申请", accepted, case_type="承诺件", window_no=1),
                     event(2, "受理", accepted + dt.timedelta(minutes=3), window_no=1)]) == 2

    def box_alert(rule: str):
        rows = box.query("select id, state, card from alerts where case_no = ? and rule = ?",
                         (CASE, rule))
        return rows[0] if rows else None

    alert_id = wait_for(lambda: box_alert("超期"), 20, what="the box's 超期")[0]
    wait_for(lambda: box_alert("超期")[2] == "yellow", 20, what="the yellow card")
    (number,) = [row[0] for row in box.query("select number from notices where alert_id = ?",
                                             (alert_id,))]
    wait_all_arrived(hub, box)
    assert hub.query("select card, state from hub_alerts where box_id = ? and alert_id = ?",
                     (box.box_id, alert_id)) == [("yellow", "open")]
    assert month_cards(hub) == (1, 0)                      # the card counts against 市场监管局

    # The platform catches up: the case was finished the day it was accepted.
    done = accepted + dt.timedelta(hours=1)
    assert box.post([event(3, "承办", done), event(4, "审核", done + dt.timedelta(minutes=10)),
                     event(5, "批准", done + dt.timedelta(minutes=20)),
                     event(6, "办结", done + dt.timedelta(minutes=30))]) == 4
    wait_for(lambda: box_alert("超期")[1] == "withdrawn", 20, what="the 超期 withdrawn")
    assert box_alert("超期")[2] == "yellow"                 # the card stays on record, void
    assert box_alert("超期办结") is None                    # it was on time
    (note,) = [row[0] for row in box.query(
        "select note from alert_events where alert_id = ? and action = 'withdraw'",
        (alert_id,))]
    assert "LATE-006（办结" in note and f"{number}作废" in note
    told = [row[0] for row in box.query("select text from notifications where notice_number = ?"
                                        " order by id", (number,))]
    assert told and told[-1].endswith(f"{number}作废，无需办理。")  # the department is told

    wait_all_arrived(hub, box)
    assert hub.query("select card, state from hub_alerts where box_id = ? and alert_id = ?",
                     (box.box_id, alert_id)) == [("yellow", "withdrawn")]
    assert hub.query("select count(*) from hub_alert_events where box_id = ? and alert_id = ?"
                     " and action = 'withdraw'", (box.box_id, alert_id)) == [(1,)]
    assert hub.query("select count(*) from hub_notices where number = ?", (number,)) == [(1,)]
    assert month_cards(hub) == (0, 0)                      # void: not counted

    hub.stop()
    dashboard = open_dashboard(hub.config_path)
    try:
        page = notice_page(dashboard.data, box_notice(dashboard.data, Scope.city(), box.box_id,
                                                      number))
    finally:
        dashboard.data.store.close()
    assert "【作废】本文书已作废" in page and "LATE-006" in page
