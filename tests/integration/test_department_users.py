"""Department users (审批部门) on a real box process: added from the shell with a checked
``--dept``, they see only their department's cases, alerts and notices, and answer their own
card; the hall manager returns the explanation once and then accepts it."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
from urllib.parse import quote

import pytest

from standard.records import LOCAL_TZ
from tests.boxes import REPO, start_box, write_box_folder
from tests.integration.relay_harness import wait_for
from tests.webclient import WebClient

SCJ_ITEM, MZJ_ITEM = "440605-SCJ-002", "440605-MZJ-006"


def user_command(box, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hallwatch", "edge", "user", *args, "--config",
         str(box.folder / "box.toml")], capture_output=True, text=True, cwd=REPO, timeout=60)


def add_user(box, username: str, *args: str) -> str:
    answer = user_command(box, "add", username, *args)
    assert answer.returncode == 0, answer.stderr
    return re.search(r"的密码：(\S+)", answer.stdout)[1]


def signed_in(box, username: str, one_time: str) -> WebClient:
    web = WebClient(box.url)
    assert web.sign_in(username, one_time).location == "/account/password"
    assert web.change_password(one_time, f"{username}-own-password-1").status == 302
    return web


def late_case(case_no: str, item: str) -> list[dict]:
    accepted = (dt.datetime.now(LOCAL_TZ) - dt.timedelta(weeks=8)).isoformat(timespec="seconds")
    dept = "440605" + item.split("-")[1]
    return [{"event_id": f"{case_no}-{n}", "case_no": case_no, "item_code": item,
             "dept_code": dept, "district_code": "440605", "event_type": kind,
             "occurred_at": accepted, "actor": {"id": "S001", "name": "李敏"}}
            for n, kind in enumerate(("申请", "受理"))]


def card_of(box, case_no: str) -> tuple[int, str]:
    """(alert id, notice number) of the case's card, once the box's rule pass issued it."""
    def carded():
        with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
            return db.execute("select a.id, n.number from alerts a join notices n"
                              " on n.alert_id = a.id where a.case_no = ?", (case_no,)).fetchone()
    return wait_for(carded, 20, what=f"a card on {case_no}")


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("box")
    write_box_folder(folder)
    box = start_box(folder)
    body = late_case("NH-SCJ-LATE", SCJ_ITEM) + late_case("NH-MZJ-LATE", MZJ_ITEM)
    assert box.post("/api/v1/platform/events", json.dumps(body).encode())[0] == 200
    yield box, card_of(box, "NH-SCJ-LATE"), card_of(box, "NH-MZJ-LATE")
    box.stop()


@pytest.mark.parametrize(("args", "message"), [
    (("--role", "department", "--dept", "440604SCJ"), "不属于本机所属的南海区"),
    (("--role", "department", "--dept", "440699SCJ"), "区代码 440699 不存在"),
    (("--role", "department", "--dept", "440605XYZ"), "部门 XYZ 不在南海区的事项目录中"),
    (("--role", "department"), "须指定所属部门代码"),
    (("--role", "manager", "--dept", "440605SCJ"), "只有审批部门用户需要指定部门"),
])
def test_a_department_the_box_does_not_know_is_refused(hall, args, message):
    box, _, _ = hall
    answer = user_command(box, "add", "wrong", *args)
    assert answer.returncode == 1 and message in answer.stderr and "Traceback" not in answer.stderr
    assert "wrong" not in user_command(box, "list").stdout


def test_a_department_sees_only_its_own_records(hall):
    box, (scj_alert, scj_notice), (mzj_alert, mzj_notice) = hall
    web = signed_in(box, "nh-scj", add_user(box, "nh-scj", "--role", "department", "--dept",
                                            "440605SCJ", "--name", "南海区市场监管局"))
    assert "440605SCJ" in user_command(box, "list").stdout
    cases = web.get("/cases?finished=1").body
    assert "NH-SCJ-LATE" in cases and "NH-MZJ-LATE" not in cases
    alerts = web.get("/alerts").body
    assert f'data-alert="{scj_alert}"' in alerts and f'data-alert="{mzj_alert}"' not in alerts
    assert web.get("/cases/NH-MZJ-LATE").status == 404
    exported = web.get("/cases.csv?finished=1").body
    assert "NH-SCJ-LATE" in exported and "NH-MZJ-LATE" not in exported
    assert web.get(f"/alerts/{mzj_alert}").status == 404
    assert web.get(f"/notices/{quote(mzj_notice)}").status == 404
    assert "限期办理通知书" in web.get(f"/notices/{quote(scj_notice)}").body
    for page in ("/", "/evaluations", "/presence", "/charts", "/health", "/users"):
        assert web.get(page).status == 403, page
    token = web.csrf(f"/alerts/{scj_alert}")
    refused = web.post(f"/alerts/{mzj_alert}/explain", {"note": "x", "csrf_token": token})
    assert refused.status == 404
    assert web.post(f"/alerts/{scj_alert}/close", {"note": "x", "csrf_token": token}).status == 403


def test_the_department_answers_and_the_manager_reviews(hall):
    box, (alert_id, notice), _ = hall
    department = signed_in(box, "nh-scj2", add_user(box, "nh-scj2", "--role", "department",
                                                    "--dept", "440605SCJ"))
    manager = signed_in(box, "wangfang", add_user(box, "wangfang", "--role", "manager"))
    supervisor = signed_in(box, "liming", add_user(box, "liming", "--role", "supervisor"))
    url = f"/alerts/{alert_id}"

    def act(web, action, note, **form):
        answer = web.post(f"{url}/{action}", {"note": note, "csrf_token": web.csrf(url), **form})
        assert answer.status == 302, answer.body
        return web.get(url).body

    page = act(department, "explain", "系统升级停机导致延误。")
    assert "已说明理由" in page and "待审核" in page
    page = act(manager, "return_explanation", "请说明整改措施。")
    assert "已退回" in page and "请说明整改措施。" in page
    assert "action-explain" in department.get(url).body
    act(department, "explain", "已办结，建立每日时限巡检。")
    page = act(manager, "accept_explanation", "理由成立")
    assert "理由已采纳" in page
    page = act(department, "report", "经办人已批评教育，流程已整改。")
    assert "已报送整改报告" in page
    page = act(supervisor, "accept_report", "整改到位")
    assert "整改已采纳" in page
    page = act(supervisor, "liability", "超期", outcome="education")
    assert "整改期限" in page and "届满后才能认定过错责任" in page  # refused before the deadline
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as db:
        trail = [row[0] for row in db.execute(
            "select action from alert_events where alert_id = ? order by id", (alert_id,))]
        outbox = [json.loads(body)["body"].get("action") for (body,) in db.execute(
            "select body from outbox where kind = 'alert_event' order by seq")]
    steps = ["explain", "return_explanation", "explain", "accept_explanation", "report",
             "accept_report"]
    assert trail[-6:] == steps and outbox[-6:] == steps  # every step goes to the hub too


def test_the_users_page_checks_the_department_too(hall):
    box = hall[0]
    admin = WebClient(box.url)
    username, password = box.admin_password()
    assert admin.sign_in(username, password).status == 302
    form = {"username": "cc-scj", "display_name": "禅城", "role": "department",
            "dept_code": "440604SCJ", "csrf_token": admin.csrf("/users")}
    refused = admin.post("/users", form)
    assert refused.status == 400 and "不属于本机所属的南海区" in refused.body
    added = admin.post("/users", {**form, "username": "nh-wjj", "dept_code": "440605WJJ"})
    assert added.status == 200 and "已添加用户 nh-wjj" in added.body
    assert "卫生健康局（440605WJJ）" in admin.get("/users").body
