"""The hall manager's pages, through the Flask test client, on a real box with a real store.

Cases arrive through the platform API exactly as in a hall, so the rules and the supervision
service open their alerts as they would. The box's clock is fixed at a Tuesday morning.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import threading

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from edge.app import build_box
from edge.config import load_box_config
from hallwatch.cli import main
from hallwatch.sim import catalogue_for
from standard.records import LOCAL_TZ
from web.box import create_app

AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=LOCAL_TZ)
TOKEN = "pages-test-platform-token-0123456789"
PASSWORDS = {"manager": "manager-password-1", "supervisor": "supervisor-password-1",
             "auditor": "auditor-password-1", "technician": "technician-password-1"}
BULK = 230
EVENT_IDS = itertools.count(1)


def event(case_no: str, kind: str, day: str, item: str = "440605-SCJ-001",
          staff: tuple[str, str] = ("S001", "李敏"), **extra) -> dict:
    dept = item.split("-")[1]
    return {"event_id": f"{case_no}-{next(EVENT_IDS)}", "case_no": case_no, "item_code": item,
            "dept_code": f"440605{dept}", "district_code": "440605", "event_type": kind,
            "occurred_at": f"{day}+08:00", "actor": {"id": staff[0], "name": staff[1]}, **extra}


def hall_events() -> list[dict]:
    food = "440605-SCJ-002"
    marriage = "440605-MZJ-006"
    events = [
        event("NH-RED-0001", "申请", "2026-11-02T09:00:00", window_no=1),
        event("NH-RED-0001", "受理", "2026-11-02T09:05:00", window_no=1),
        event("NH-YEL-0001", "申请", "2026-11-27T09:00:00", window_no=2),
        event("NH-YEL-0001", "受理", "2026-11-27T09:05:00", window_no=2),
        event("NH-GRN-0001", "受理", "2026-12-01T09:30:00", food, window_no=2,
              staff=("S002", "王芳")),
        event("NH-FEE-0001", "受理", "2026-12-01T09:10:00", marriage, window_no=3,
              staff=("S003", "陈刚")),
        event("NH-FEE-0001", "收费", "2026-12-01T09:12:00", marriage, fee_amount="50.00"),
        event("NH-PAU-0001", "受理", "2026-11-25T09:00:00", food, window_no=2),
        event("NH-PAU-0001", "补正开始", "2026-11-26T10:00:00", food,
              reason="申请材料不齐全，需补充营业场所证明"),
        event("NH-PAU-0001", "补正结束", "2026-11-30T15:00:00", food),
    ]
    for n, kind in enumerate(("受理", "承办", "审核", "批准", "办结")):
        events.append(event("NH-FIN-0001", kind, f"2026-11-{20 + n}T10:00:00", food))
    for n in range(BULK):
        events.append(event(f"NH-BULK-{n:04d}", "受理", "2026-12-01T08:40:00", food,
                            window_no=4, staff=("S004", "黄强")))
    return events


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("box")
    (folder / "keys").mkdir()
    (folder / "keys" / "platform.token").write_text(TOKEN)
    (folder / "catalogue.json").write_text(json.dumps(catalogue_for("440605"), ensure_ascii=False),
                                           encoding="utf-8")
    (folder / "box.toml").write_text(
        'version = 1\nbox_id = "440605-01"\ndistrict_code = "440605"\n'
        'district_name = "南海区"\ncatalogue = "catalogue.json"\n[web]\nport = 0\n',
        encoding="utf-8")
    box = build_box(load_box_config(folder / "box.toml"), clock=lambda: AT).start()
    box.hall.refresh_seconds = 0  # pages see every ingest at once
    yield box
    box.stop()


@pytest.fixture(scope="module")
def app(box):
    app = create_app(box)
    app.config["TESTING"] = True
    users = app.extensions["users"]
    for role, password in PASSWORDS.items():
        users.add(role, f"{role}-用户", role, password=password, is_admin=role == "manager")
    answer = app.test_client().post("/api/v1/platform/events", data="\n".join(
        json.dumps(e, ensure_ascii=False) for e in hall_events()).encode(),
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.get_json()
    assert box.checker.wait_idle(timeout=60)  # the alerts of the hall's red cases are open
    return app


def signed_in(app, role: str):
    client = app.test_client()
    answer = client.post("/login", data={"username": role, "password": PASSWORDS[role],
                                         "csrf_token": token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found:
        return found[1]
    with client.session_transaction() as session:
        return session["csrf"]


def text(answer) -> str:
    return answer.get_data(as_text=True)


@pytest.fixture(scope="module")
def manager(app):
    return signed_in(app, "manager")


def test_the_first_administrator_is_announced_once_without_its_password(tmp_path, box, capsys):
    # The module's box already has users; a fresh app on an empty store makes the admin. Its
    # stdout is not a terminal here (as under systemd), so the password stays out of it.
    config_path = _copy_config(box, tmp_path)
    other = build_box(load_box_config(config_path), clock=lambda: AT).start()
    try:
        create_app(other)
        line = capsys.readouterr().out
        assert "首次登录：已创建管理员账户 admin" in line and " 密码 " not in line
        assert f"hallwatch edge user reset admin --config {config_path}" in line
        again = create_app(other)
        assert "首次登录" not in capsys.readouterr().out
        reset = CliRunner().invoke(main, ["edge", "user", "reset", "admin", "--config",
                                          str(config_path)])
        password = re.search(r"密码：(\S+)", reset.output)[1]
        client = again.test_client()
        answer = client.post("/login", data={"username": "admin", "password": password,
                                             "csrf_token": token(client)})
        assert answer.headers["Location"] == "/account/password"  # a one-time password
    finally:
        other.stop()


def _copy_config(box, tmp_path):
    source = box.config.path("box.toml")
    for name in ("box.toml", "catalogue.json", "keys/platform.token"):
        target = tmp_path / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(box.config.path(name).read_bytes())
    return tmp_path / source.name


def test_every_page_needs_sign_in(app):
    client = app.test_client()
    samples = {"case_no": "NH-RED-0001", "alert_id": 1, "username": "auditor",
               "action": "acknowledge", "change": "disable", "filename": "hallwatch.css",
               "number": "南海电监〔2026〕1号", "rating_id": 1, "window_no": 1}
    checked = 0
    for rule in app.url_map.iter_rules():
        skipped = rule.rule.startswith(("/api/", "/static/", "/assets/", "/login"))
        if skipped or "GET" not in rule.methods:
            continue
        path = rule.build({name: samples[name] for name in rule.arguments})[1]
        answer = client.get(path)
        if path.endswith(".json"):
            assert answer.status_code == 401 and "登录" in answer.get_json()["error"], path
        else:
            assert answer.status_code == 302 and "/login" in answer.headers["Location"], path
        checked += 1
    assert checked >= 9


def test_assets_are_served_by_the_box_itself(app, manager):
    page = text(manager.get("/"))
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for asset, kind in (("hallwatch.css", "text/css"), ("hallwatch.js", "text/javascript")):
        assert f'/assets/{asset}' in page
        answer = app.test_client().get(f"/assets/{asset}")
        assert answer.status_code == 200 and answer.mimetype == kind


def test_board_shows_windows_lights_and_urgent_cases(manager):
    page = text(manager.get("/"))
    for expected in ("大厅实时看板", "南海区行政服务中心", "1号窗口", "2号窗口", "王芳",
                     "NH-RED-0001", "已超过承诺时限", "在岗：未接入", "今日暂无评价"):
        assert expected in page, expected
    assert 'data-poll="/board.json"' in page
    live = manager.get("/board.json").get_json()
    assert set(live["html"]) == {"summary", "windows", "urgent", "departments"}
    assert "NH-RED-0001" in live["html"]["urgent"] and "<svg" in live["html"]["departments"]


def test_case_list_is_most_urgent_first_with_filters_and_pages(manager):
    page = text(manager.get("/cases"))
    rows = re.findall(r'data-case="([^"]+)"', page)
    assert len(rows) == 100 and rows[0] in ("NH-RED-0001", "NH-FEE-0001")
    assert f"共 <b id=\"case-total\">{BULK + 5}</b> 件" in page
    red = re.findall(r'data-case="([^"]+)"', text(manager.get("/cases?light=red")))
    assert sorted(red) == ["NH-FEE-0001", "NH-RED-0001"]
    marriage = re.findall(r'data-case="([^"]+)"', text(manager.get("/cases?dept=440605MZJ")))
    assert marriage == ["NH-FEE-0001"]
    last = re.findall(r'data-case="([^"]+)"', text(manager.get("/cases?page=3")))
    assert len(last) == BULK + 5 - 200
    finished = text(manager.get("/cases?finished=1&stage=办结"))
    assert re.findall(r'data-case="([^"]+)"', finished) == ["NH-FIN-0001"]
    assert "（已办结）" in finished
    ignored = text(manager.get("/cases?light=purple&page=x"))
    assert len(re.findall(r'data-case="', ignored)) == 100


def test_cases_are_found_by_number_item_or_staff(manager):
    def found(query: str) -> list[str]:
        page = text(manager.get("/cases", query_string={"q": query, "finished": "1"}))
        return sorted(re.findall(r'data-case="([^"]+)"', page))

    assert found("fee-0001") == ["NH-FEE-0001"]              # part of the number, any case
    assert found("婚姻") == found("440605-MZJ-006") == ["NH-FEE-0001"]  # item name or code
    assert found("王芳") == found("S002") == ["NH-GRN-0001"]  # staff name or id
    many = text(manager.get("/cases", query_string={"q": "黄强"}))  # a page of 100 of them
    assert f"共 <b id=\"case-total\">{BULK}</b> 件" in many
    assert found("没有这个人") == []
    page = text(manager.get("/cases", query_string={"q": "王芳"}))
    assert 'value="王芳"' in page and "共 <b id=\"case-total\">1</b> 件" in page


def test_case_page_has_the_timeline_pauses_fees_and_alerts(manager):
    page = text(manager.get("/cases/NH-PAU-0001"))
    for expected in ("补正开始", "申请材料不齐全，需补充营业场所证明", "暂停计时", "2026-11-26",
                     "食品经营许可"):
        assert expected in page, expected
    fee = text(manager.get("/cases/NH-FEE-0001"))
    assert "违规收费" in fee and "50.00 元" in fee and "标准 9.00 元" in fee
    overdue = text(manager.get("/cases/NH-RED-0001"))
    assert "超期" in overdue and "/alerts/" in overdue
    assert manager.get("/cases/NO-SUCH-CASE").status_code == 404


def test_exports_have_the_same_filters_as_the_list(manager):
    answer = manager.get("/cases.csv?light=red")
    assert answer.mimetype == "text/csv"
    body = answer.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "办件编号" and sorted(r[0] for r in rows[1:]) == ["NH-FEE-0001",
                                                                          "NH-RED-0001"]
    assert all(r[8] == "红灯" for r in rows[1:])
    book = load_workbook(io.BytesIO(manager.get("/cases.xlsx").get_data()), read_only=True)
    rows = list(book["办件"].iter_rows(values_only=True))
    assert rows[0][0] == "办件编号" and len(rows) == BULK + 5 + 1
    assert rows[1][8] == "红灯"


def test_alert_actions_follow_the_roles(app, manager, box):
    (alert,) = [a for a in box.supervision.alerts(case_no="NH-RED-0001") if a.rule == "超期"]
    url = f"/alerts/{alert.id}"
    page = text(manager.get(url))
    assert "签收" in page and "action-close" not in page
    supervisor = signed_in(app, "supervisor")
    assert supervisor.post(f"{url}/acknowledge", data={
        "note": "已阅", "csrf_token": token(supervisor)}).status_code == 403
    answer = manager.post(f"{url}/acknowledge", data={"note": "已转承办科室",
                                                      "csrf_token": token(manager)})
    assert answer.status_code == 302
    assert box.supervision.alert(alert.id).state == "acknowledged"
    manager.post(f"{url}/explain", data={"note": "申请人补充材料延误",
                                         "csrf_token": token(manager)})
    page = text(supervisor.get(url))
    assert "action-close" in page and "action-acknowledge" not in page
    supervisor.post(f"{url}/close", data={"note": "理由成立，办结", "csrf_token": token(supervisor)})
    done = box.supervision.alert(alert.id)
    assert done.state == "closed"
    assert [e.action for e in done.events][-3:] == ["acknowledge", "explain", "close"]
    assert "manager-用户（manager）" in [e.actor for e in done.events]
    empty = manager.post(f"{url}/explain", data={"note": " ", "csrf_token": token(manager)},
                         follow_redirects=True)
    assert "不能" in text(empty)  # refused by the service, shown as a message


def test_auditors_read_and_technicians_do_not(app, box):
    auditor = signed_in(app, "auditor")
    page = text(auditor.get("/alerts"))
    assert "预警纠错" in page and "超期" in page
    listed = len(re.findall(r'<tr data-alert="', page))
    assert f"共 {box.supervision.count()} 条" in page and 0 < listed <= box.supervision.count()
    red = box.supervision.count(level="red")
    assert f"共 {red} 条" in text(auditor.get("/alerts?level=red"))
    alert_id = re.search(r'href="/alerts/(\d+)"', page)[1]
    assert "<textarea" not in text(auditor.get(f"/alerts/{alert_id}"))
    assert auditor.post(f"/alerts/{alert_id}/acknowledge", data={
        "note": "x", "csrf_token": token(auditor)}).status_code == 403
    technician = signed_in(app, "technician")
    assert technician.get("/alerts").status_code == 403
    assert technician.get("/cases").status_code == 403
    assert "设备状态" in text(technician.get("/health"))


def test_technicians_land_on_health_and_see_intake_problems(app, manager):
    client = app.test_client()
    answer = client.post("/login", data={"username": "technician",
                                         "password": PASSWORDS["technician"],
                                         "csrf_token": token(client)})
    assert answer.headers["Location"] == "/health"
    app.test_client().post("/api/v1/platform/events", data=b'{"event_id": "broken"}',
                           headers={"Authorization": f"Bearer {TOKEN}"})
    page = text(client.get("/health/quarantine"))
    assert "接入异常记录" in page and "broken" in page
    assert manager.get("/health/quarantine").status_code == 403


def test_health_shows_store_size_and_outbox_backlog(manager, box):
    page = text(manager.get("/health"))
    backlog = box.store.query("select count(*) as n from outbox")[0]["n"]
    assert f'<b id="outbox-backlog">{backlog}</b>' in page
    assert "数据库" in page and ("MB" in page or "KB" in page)
    assert "上报中心（中继）" in page and "未接入" in page


def test_a_new_event_shows_on_the_list(app, manager):
    app.test_client().post("/api/v1/platform/events", data=json.dumps(event(
        "NH-NEW-0001", "受理", "2026-10-08T09:00:00", window_no=5)).encode(),
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert "NH-NEW-0001" in text(manager.get("/cases?light=red"))
    assert "5号窗口" in text(manager.get("/board.json"))


def test_the_answer_does_not_wait_for_the_rules_and_the_alert_follows(app, box, monkeypatch):
    assert box.checker.wait_idle(timeout=30)  # no pass that started unheld is still running
    held, release = threading.Event(), threading.Event()
    # Both ways the box judges a case are held: the pass over submitted cases and the drain of
    # cases marked on disk (the drain can pick up the new case's mark before submit wakes it).
    for name in ("check", "drain"):
        def slow(at, *args, _judge=getattr(box.rules, name), **kwargs):
            held.set()
            release.wait(timeout=30)
            return _judge(at, *args, **kwargs)

        monkeypatch.setattr(box.rules, name, slow)
    answer = app.test_client().post("/api/v1/platform/events", data=json.dumps(event(
        "NH-LATE-0001", "受理", "2026-10-08T09:00:00")).encode(),
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.get_json()["accepted"] == 1
    assert held.wait(timeout=10)  # the platform has its answer while the rules still run
    assert not box.supervision.alerts(case_no="NH-LATE-0001")
    release.set()
    assert box.checker.wait_idle(timeout=30)
    assert "超期" in {alert.rule for alert in box.supervision.alerts(case_no="NH-LATE-0001")}


def test_users_are_managed_by_administrators_only(app, manager):
    page = text(manager.post("/users", data={"username": "clerk1", "display_name": "刘洋",
                                             "role": "auditor", "csrf_token": token(manager)}))
    password = re.search(r'<code class="password">([^<]+)</code>', page)[1]
    clerk = app.test_client()
    answer = clerk.post("/login", data={"username": "clerk1", "password": password,
                                        "csrf_token": token(clerk)})
    assert answer.headers["Location"] == "/account/password"  # a one-time password
    assert clerk.post("/account/password", data={
        "current": password, "new": "clerk-own-password", "repeat": "clerk-own-password",
        "csrf_token": token(clerk)}).status_code == 302
    assert clerk.get("/users").status_code == 403
    assert "只显示这一次" in page and password not in text(manager.get("/users"))
    reset = text(manager.post("/users/clerk1/reset", data={"csrf_token": token(manager)}))
    password = re.search(r'<code class="password">([^<]+)</code>', reset)[1]
    assert clerk.get("/cases").status_code == 302  # the reset ended clerk1's session
    manager.post("/users/clerk1/disable", data={"csrf_token": token(manager)})
    again = app.test_client()
    answer = again.post("/login", data={"username": "clerk1", "password": password,
                                        "csrf_token": token(again)})
    assert answer.status_code == 401
    assert manager.post("/users", data={"username": "x"}).status_code == 400  # no CSRF token
    bad = manager.post("/users", data={"username": "张三", "role": "auditor",
                                       "csrf_token": token(manager)})
    assert bad.status_code == 400 and "用户名须为" in text(bad)


def test_users_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from hallwatch.cli import main
    from tests.boxes import write_box_folder

    config = str(write_box_folder(tmp_path))
    runner = CliRunner()
    added = runner.invoke(main, ["edge", "user", "add", "--config", config, "Wangfang",
                                 "--role", "supervisor", "--name", "王芳"])
    assert added.exit_code == 0, added.output
    password = re.search(r"用户 wangfang 的密码：(\S+)", added.output)[1]
    box = build_box(load_box_config(tmp_path / "box.toml"), clock=lambda: AT).start()
    try:
        app = create_app(box)  # users exist: no first administrator is made
        assert [u.username for u in app.extensions["users"].all()] == ["wangfang"]
        client = app.test_client()
        answer = client.post("/login", data={"username": "wangfang", "password": password,
                                             "csrf_token": token(client)})
        assert answer.status_code == 302
    finally:
        box.stop()
    again = runner.invoke(main, ["edge", "user", "add", "--config", config, "wangfang",
                                 "--role", "auditor"])
    assert again.exit_code == 1 and "已存在" in again.output
    reset = runner.invoke(main, ["edge", "user", "reset", "--config", config, "wangfang"])
    assert reset.exit_code == 0 and password not in reset.output and "只显示这一次" in reset.output
    assert runner.invoke(main, ["edge", "user", "disable", "--config", config,
                                "wangfang"]).exit_code == 0
    listed = runner.invoke(main, ["edge", "user", "list", "--config", config])
    assert "wangfang" in listed.output and "disabled" in listed.output
    missing = runner.invoke(main, ["edge", "user", "reset", "--config", config, "nobody"])
    assert missing.exit_code == 1 and "没有用户 nobody" in missing.output


def test_the_cached_board_agrees_with_a_full_evaluation(tmp_path):
    """HallBoard's snapshot, refreshed incrementally and across days, equals CaseBoard.cases."""
    from edge.board import HallBoard
    from edge.cases import CaseFilter
    from edge.ingest import ingest_texts
    from tests.boxes import write_box_folder

    clock = [AT]
    box = build_box(load_box_config(write_box_folder(tmp_path)), clock=lambda: clock[0])
    box.store.open()
    try:
        def send(events: list[dict]) -> None:
            ingest_texts(box.store, [(n, json.dumps(e, ensure_ascii=False))
                                     for n, e in enumerate(events)], source="test")

        def agree() -> None:
            expected = box.board.cases(clock[0], CaseFilter(include_finished=True))
            found = hall.matching(CaseFilter(include_finished=True))
            assert [(c.row.case_no, c.row.light, c.row.remaining_working_days)
                    for c in found] == [(r.case_no, r.light, r.remaining_working_days)
                                        for r in expected]

        hall = HallBoard(box.board, clock=lambda: clock[0], refresh_seconds=0)
        send(hall_events()[:12])
        agree()
        send(hall_events()[12:40] + [event("NH-YEL-0001", "承办", "2026-12-01T09:40:00")])
        agree()
        clock[0] = AT + dt.timedelta(days=2)  # the yellow case is due on 12-02: red on 12-03
        agree()
        assert hall.snapshot().cases["NH-YEL-0001"].row.light == "red"
        assert hall.case_page(CaseFilter(light="red")).counts["red"] == 3
    finally:
        box.store.close()


def test_camera_sections_show_what_the_presence_service_reports(app, manager, box):
    from types import SimpleNamespace

    class Presence:
        def states(self):
            return {1: ("absent", AT), 2: ("present", AT)}

        def absence_minutes(self):
            return {1: 12.4}

        def health(self):
            camera = SimpleNamespace(camera_id="cam-a", windows=[1, 2], ok=False,
                                     detail="超过30秒没有画面", frames=120, last_frame_at=None)
            return SimpleNamespace(ok=False, detail="cam-a：超过30秒没有画面", cameras=[camera])

    saved, box.presence = box.presence, Presence()
    try:
        board = manager.get("/board.json").get_json()["html"]["windows"]
        assert "离岗" in board and "今日离岗 12 分钟" in board and "在岗</span>" in board
        health = text(manager.get("/health"))
        assert "摄像头 cam-a" in health and "超过30秒没有画面" in health and "异常" in health
    finally:
        box.presence = saved


def test_notices_open_as_printable_pages(manager, box):
    carded = [a for a in box.supervision.alerts(card="any") if a.notices]
    assert carded, "the overdue case should have a yellow card and its notice"
    number = carded[0].notices[0]
    assert number in text(manager.get(f"/alerts/{carded[0].id}"))
    answer = manager.get(f"/notices/{number}")
    assert answer.status_code == 200 and number in text(answer)
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert manager.get("/notices/南海电监〔2026〕999号").status_code == 404
