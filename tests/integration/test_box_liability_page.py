"""过错责任 on the box's pages: once the card's deadline (整改期限) has passed, the district
supervisor records the outcome on the alert's page; the alert page and the card's notice show
it, the notice otherwise exactly as issued, and the hall manager cannot record it.

A real box with a real store and its own clock: a case accepted 2026-11-02 (3 working days,
due 11-05) is judged on Tuesday 12-01, carded, answered and closed; the clock then moves past
the card's deadline.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

import pytest

from edge.app import build_box
from edge.config import load_box_config
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from tests.integration.test_box_pages import PASSWORDS, event, signed_in, text, token
from web.box import create_app

AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture
def hall(tmp_path):
    write_box_folder(tmp_path)
    clock = [AT]
    box = build_box(load_box_config(tmp_path / "box.toml"), clock=lambda: clock[0]).start()
    app = create_app(box)
    app.config["TESTING"] = True
    for role in ("manager", "supervisor"):
        app.extensions["users"].add(role, f"{role}-用户", role, password=PASSWORDS[role])
    platform = (tmp_path / "keys" / "platform.token").read_text().strip()
    body = [event("NH-LIAB-0001", kind, "2026-11-02T09:00:00") for kind in ("申请", "受理")]
    answer = app.test_client().post(
        "/api/v1/platform/events", headers={"Authorization": f"Bearer {platform}"},
        data="\n".join(json.dumps(e, ensure_ascii=False) for e in body).encode())
    assert answer.status_code == 200, answer.get_json()
    assert box.checker.wait_idle(timeout=60)
    yield box, app, clock
    box.stop()


def test_the_supervisor_records_the_outcome_after_the_deadline_and_the_card_shows_it(hall):
    box, app, clock = hall
    (alert,) = [a for a in box.supervision.alerts(case_no="NH-LIAB-0001") if a.card]
    url, (notice,) = f"/alerts/{alert.id}", alert.notices
    manager, supervisor = signed_in(app, "manager"), signed_in(app, "supervisor")

    def act(client, action: str, note: str, **form) -> int:
        return client.post(f"{url}/{action}", data={"note": note, "csrf_token": token(client),
                                                    **form}).status_code

    assert act(manager, "explain", "系统升级停机导致延误。") == 302
    assert act(supervisor, "accept_explanation", "理由成立") == 302
    assert act(supervisor, "close", "已办结") == 302
    assert "action-liability" not in text(supervisor.get(url))       # the deadline has not passed
    clock[0] = dt.datetime.combine(dt.date.fromisoformat(alert.card_due) + dt.timedelta(days=1),
                                   dt.time(10), LOCAL_TZ)
    manager, supervisor = signed_in(app, "manager"), signed_in(app, "supervisor")  # days later
    page = text(supervisor.get(url))
    assert "action-liability" in page and "过错责任认定结果" in page
    assert all(name in page for name in ("不予追究", "批评教育", "通报批评", "诫勉谈话", "移送纪检监察"))
    assert "action-liability" not in text(manager.get(url))           # the supervisor's step
    assert act(manager, "liability", "超期", outcome="criticism") == 403
    assert act(supervisor, "liability", "超期办结，经办人负主要责任。", outcome="criticism") == 302
    page = text(supervisor.get(url))
    shown = re.search(r'<dd id="liability"><strong>([^<]+)</strong>', page)
    assert shown and shown[1] == "通报批评"
    assert "超期办结，经办人负主要责任。" in page
    card = text(manager.get(f"/notices/{quote(notice)}"))
    assert "过错责任认定：通报批评" in card and "supervisor-用户（supervisor）" in card
    assert "限期办理通知书" in card                                    # as issued, note below
    relayed = [json.loads(row["body"])["body"] for row in box.store.query(
        "select body from outbox where kind = 'alert' order by seq")]
    assert relayed[-1]["liability"] == "criticism"                    # and on its way to the hub


def test_a_card_disproven_by_a_late_on_time_finish_is_void_on_the_pages(hall):
    """The platform catches up: the case was finished on 11-05, its deadline. The 超期 is
    withdrawn, its alert page says so and offers nothing to do, and its notice shows 【作废】
    with the evidence, the notice itself as issued."""
    box, app, _clock = hall
    (alert,) = [a for a in box.supervision.alerts(case_no="NH-LIAB-0001") if a.card]
    (notice,) = alert.notices
    platform = box.config.path("keys/platform.token").read_text().strip()
    body = [event("NH-LIAB-0001", kind, f"2026-11-05T{hour}:00:00")
            for kind, hour in (("承办", "09"), ("审核", "10"), ("批准", "11"), ("办结", "15"))]
    answer = app.test_client().post(
        "/api/v1/platform/events", headers={"Authorization": f"Bearer {platform}"},
        data="\n".join(json.dumps(e, ensure_ascii=False) for e in body).encode())
    assert answer.status_code == 200, answer.get_json()
    assert box.checker.wait_idle(timeout=60)
    manager = signed_in(app, "manager")
    page = text(manager.get(f"/alerts/{alert.id}"))
    assert "已撤销" in page and "（已作废）" in page and "action-close" not in page
    card = text(manager.get(f"/notices/{quote(notice)}"))
    assert "【作废】本文书已作废" in card and "限期办理通知书" in card
    assert f"事件{body[-1]['event_id']}（办结，2026-11-05 15:00）" in card
    assert f"{notice}作废" in card
