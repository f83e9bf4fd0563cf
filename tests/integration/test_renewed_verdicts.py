"""A real 程序异常 after a withdrawn false one opens a new alert, on the box and at the hub.

Real processes on 127.0.0.1 (tests/integration/relay_harness.py): ``hallwatch hub serve`` and
``hallwatch edge serve``; the platform posts over HTTP. The case is accepted, handled and
approved within the last hour, but the platform sends its 审核 late: the box finds 跳过审核环节
(程序异常), issues a yellow card, and withdraws both when the 审核, dated before the 批准,
arrives. Then the platform reports a second 审核, dated after the 批准: a real anomaly. A
department must not escape it because the false one was withdrawn: a new alert with its own id
and card, relayed as a record of its own, on the box's and the hub's case pages beside the
withdrawn one, and counted once in the month's cards.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest

from hub.scores_cli import open_dashboard
from standard.records import LOCAL_TZ
from tests.boxes import REPO
from tests.hubkit import sign_in
from tests.integration.relay_harness import wait_all_arrived, wait_for
from tests.integration.test_late_evidence import month_cards
from tests.webclient import WebClient
from web.hub import create_app

pytestmark = pytest.mark.timeout(180)

ITEM, DEPT, DISTRICT = "440605-SCJ-001", "440605SCJ", "440605"
CASE = "440605RENEW0000001"


def event(name: str, kind: str, at: dt.datetime) -> dict:
    return {"event_id": f"RENEW-{name}", "case_no": CASE, "item_code": ITEM, "dept_code": DEPT,
            "district_code": DISTRICT, "event_type": kind, "window_no": 1,
            "occurred_at": at.isoformat(timespec="seconds"),
            "actor": {"id": "S001", "name": "李敏"}}


def box_page(box, path: str) -> str:
    """A page of the running box, read by a hall manager added from the shell."""
    added = subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "user", "add", "zhangli", "--role", "manager",
         "--config", str(box.config_path)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert added.returncode == 0, added.stderr
    one_time = re.search(r"的密码：(\S+)", added.stdout)[1]
    web = WebClient(box.url)
    assert web.sign_in("zhangli", one_time).location == "/account/password"
    assert web.change_password(one_time, "zhangli-own-password-1").status == 302
    return web.get(path).body


def test_a_real_anomaly_after_a_withdrawn_one_is_a_new_alert_box_and_hub(deployment):
    hub, box = deployment.hub, deployment.add_box()  # next year's calendar: add_box's own
    hub.start()
    box.start()
    now = dt.datetime.now(LOCAL_TZ).replace(microsecond=0)
    start = now - dt.timedelta(minutes=60)
    assert box.post([event("1", "申请", start), event("2", "受理", start),
                     event("3", "承办", start + dt.timedelta(minutes=10)),
                     event("5", "批准", start + dt.timedelta(minutes=30))]) == 4

    def alerts() -> list[tuple]:
        return box.query("select id, state, card, detail from alerts where case_no = ?"
                         " and rule = '程序异常' order by id", (CASE,))

    wait_for(lambda: [a[2] for a in alerts()] == ["yellow"], 20, what="the false anomaly's card")
    false_id = alerts()[0][0]
    assert "跳过审核环节" in alerts()[0][3]

    # The 审核 arrives late, dated before the 批准: the anomaly was false.
    assert box.post([event("4", "审核", start + dt.timedelta(minutes=20))]) == 1
    wait_for(lambda: [a[1] for a in alerts()] == ["withdrawn"], 20, what="the withdrawal")

    # Then a real one: 审核 again, after the 批准.
    assert box.post([event("6", "审核", start + dt.timedelta(minutes=40))]) == 1
    wait_for(lambda: len(alerts()) == 2 and alerts()[1][2] == "yellow", 20,
             what="a new alert with its own card")
    (old, new) = alerts()
    assert old[:3] == (false_id, "withdrawn", "yellow")
    assert new[0] > false_id and new[1:] == ("open", "yellow", "审核在批准之后上报")
    numbers = dict(box.query("select alert_id, number from notices"))
    assert set(numbers) == {false_id, new[0]}

    # The box's case page lists both: the withdrawn one and the one that stands.
    page = box_page(box, f"/cases/{CASE}")
    assert f"#{false_id}" in page and f"#{new[0]}" in page and "已撤销" in page

    wait_all_arrived(hub, box)
    assert hub.query("select alert_id, state, card from hub_alerts where box_id = ?"
                     " and rule = '程序异常' order by alert_id", (box.box_id,)) == \
        [(false_id, "withdrawn", "yellow"), (new[0], "open", "yellow")]
    assert hub.query("select count(*) from hub_notices where box_id = ?", (box.box_id,)) == [(2,)]
    assert month_cards(hub) == (1, 0)  # the void card is not counted, the real one once

    hub.stop()
    dashboard = open_dashboard(hub.config_path)
    try:
        dashboard.users.setup().add("chief", "city", None, is_admin=True,
                                    password="chief-password-1")
        app = create_app(dashboard, {"TESTING": True}, announce=lambda *first: None)
        signed = sign_in(app, "chief", "chief-password-1")
        page = signed.client.get(f"/cases/{CASE}").get_data(as_text=True)
    finally:
        dashboard.data.store.close()
    assert page.count("程序异常") >= 2 and "已撤销" in page and "审核在批准之后上报" in page
    assert numbers[false_id] in page and numbers[new[0]] in page
