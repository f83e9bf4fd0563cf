"""好差评 pages through the Flask test client, on a real box with a real store.

Cases and ratings arrive through the platform APIs as in a hall; each test gets its own box, so
the counts it checks are its own. The box's clock starts on Tuesday 17 November 2026 and a test
may move it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook

from edge.app import build_box
from edge.config import load_box_config
from standard.records import LOCAL_TZ
from tests.boxes import write_box_folder
from web.box import create_app

AT = dt.datetime(2026, 11, 17, 10, 0, tzinfo=LOCAL_TZ)
USERS = {"manager": "王主任", "supervisor": "李监察", "auditor": "赵审计", "technician": "张工"}
PASSWORD = "evaluation-pages-password-1"
FOOD, MARRIAGE = "440605-SCJ-001", "440605-MZJ-006"
# Case: (window, staff, item). Window 1 is 市场监督管理局's, window 2 民政局's.
CASES = {"NH-A": (1, ("S001", "李敏"), FOOD), "NH-B": (2, ("S002", "王芳"), MARRIAGE),
         "NH-C": (1, ("S001", "李敏"), FOOD), "NH-D": (2, ("S002", "王芳"), MARRIAGE),
         "NH-E": (1, ("S001", "李敏"), FOOD), "NH-F": (2, ("S002", "王芳"), MARRIAGE)}
# Rating name: (case, level, local time). Today is 17 November.
RATINGS = {"today-good": ("NH-A", 5, "2026-11-17T09:30:00"),
           "today-bad": ("NH-B", 2, "2026-11-17T09:40:00"),
           "month-good": ("NH-C", 4, "2026-11-03T10:00:00"),
           "month-bad": ("NH-D", 1, "2026-11-05T11:00:00"),
           "last-month": ("NH-E", 3, "2026-10-20T15:00:00"),
           "repeat": ("NH-A", 1, "2026-11-17T09:50:00"),
           "month-best": ("NH-F", 5, "2026-11-10T16:00:00")}
NOVEMBER = {name for name in RATINGS if name != "last-month"}


class Clock:
    """The box's clock; a test moves it by setting ``now``."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def hall(tmp_path):
    clock = Clock(AT)
    box = build_box(load_box_config(write_box_folder(tmp_path, district_name="南海区")),
                    clock=clock).start()
    box.hall.refresh_seconds = 0
    app = create_app(box)
    app.config["TESTING"] = True
    for role, name in USERS.items():
        app.extensions["users"].add(role, name, role, password=PASSWORD)
    ids = _fill(app, box.platform_token)
    yield app, box, clock, ids
    box.stop()


def _fill(app, token: str) -> dict[str, int]:
    """Post the cases and the ratings through the platform APIs; the rating ids by name."""
    headers = {"Authorization": f"Bearer {token}"}
    events = [{"event_id": f"{case_no}-1", "case_no": case_no, "item_code": item,
               "dept_code": item.replace("-", "")[:9], "district_code": "440605",
               "event_type": "受理", "occurred_at": "2026-10-19T09:00:00+08:00",
               "actor": {"id": staff[0], "name": staff[1]}, "window_no": window}
              for case_no, (window, staff, item) in CASES.items()]
    answer = app.test_client().post("/api/v1/platform/events", json=events, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["accepted"] == len(events)
    personal = {"citizen_name": "张三丰", "citizen_phone": "13800138000"}
    ratings = [{"version": 1, "evaluation_id": f"QR-{name}", "channel": "二维码",
                "case_no": case_no, "level": level, "rated_at": f"{at}+08:00",
                "text": "排队时间太长", **personal}
               for name, (case_no, level, at) in RATINGS.items()]
    answer = app.test_client().post("/api/v1/evaluations", json=ratings, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return {name: r["rating_id"] for name, r in zip(RATINGS, answer.get_json()["ratings"])}


def signed_in(app, role: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    answer = client.post("/login", data={"username": role, "password": PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 302
    return client


def step(client, rating_id: int, name: str, **form):
    """POST one follow-up step with the session's CSRF token; the page it redirects to."""
    with client.session_transaction() as session:
        form["csrf_token"] = session["csrf"]
    return client.post(f"/evaluations/reviews/{rating_id}/{name}", data=form,
                       follow_redirects=True)


def text(answer) -> str:
    return answer.get_data(as_text=True)


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def counts(page: str, group: str, key: str) -> list[str]:
    """One row of a counts table: name, levels 5..1, counted, rate, bad, the four follow-up
    states, overdue, not counted."""
    table = re.search(rf'data-group="{group}".*?</table>', page, re.S)[0]
    return cells(re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', table, re.S)[1])


def listed(page: str) -> dict[int, str]:
    """The 差评整改 list: rating id -> the row's opening tag and cells, as text."""
    rows = re.findall(r'(<tr data-review="(\d+)"[^>]*>.*?</tr>)', page, re.S)
    return {int(number): row for row, number in rows}


def flash(page: str) -> tuple[str, str]:
    found = re.search(r'<div class="flash (\w+)" role="status">(.*?)</div>', page, re.S)
    return found[1], found[2]


def test_counts_per_window_staff_and_department_today_and_this_month(hall):
    app, _, _, _ = hall
    manager = signed_in(app, "manager")
    today = text(manager.get("/evaluations?period=today"))
    assert "今日（2026-11-17）" in today
    assert re.search(r'id="hall-satisfaction">50.0%<', today)
    # Window 1 today: one 非常满意 counted, the repeat rating of the same case is not.
    assert counts(today, "windows", "1") == ["1 号窗口", "1", "0", "0", "0", "0", "1", "100.0%",
                                             "0", "0", "0", "0", "0", "0", "1"]
    assert counts(today, "windows", "2")[5:9] == ["0", "1", "0.0%", "1"]
    assert counts(today, "staff", "S002")[0] == "王芳（S002）"
    assert counts(today, "departments", "440605MZJ")[0] == "民政局"

    month = text(manager.get("/evaluations?period=month"))
    assert "本月（2026年11月）" in month
    assert re.search(r'id="hall-satisfaction">60.0%<', month)
    assert counts(month, "windows", "1")[1:8] == ["1", "1", "0", "0", "0", "2", "100.0%"]
    assert counts(month, "windows", "2") == ["2 号窗口", "1", "0", "0", "1", "1", "3", "33.3%",
                                             "2", "2", "0", "0", "0", "0", "0"]
    assert counts(month, "staff", "S001")[6:8] == ["2", "100.0%"]
    assert counts(month, "departments", "440605SCJ")[0] == "市场监督管理局"
    assert text(manager.get("/evaluations")) == month  # this month is the default
    october = text(manager.get("/evaluations?month=2026-10"))
    assert "2026年10月" in october and "本月（" not in october
    assert counts(october, "windows", "1")[3] == "1" and 'data-key="2"' not in october


def test_a_bad_review_waits_for_its_call_and_turns_red_when_late(hall):
    app, box, clock, ids = hall
    manager = signed_in(app, "manager")
    rows = listed(text(manager.get("/evaluations?period=today")))
    # Open reviews are listed whatever the period: November 5th's too.
    assert set(rows) == {ids["today-bad"], ids["month-bad"]}
    row = rows[ids["today-bad"]]
    assert cells(row)[7:10] == ["待回访", "2026-11-18", "2026-12-08"]
    assert "light-row-red" not in row and "超期" not in row
    step(manager, ids["month-bad"], "return_call", note="已电话联系")

    clock.now = dt.datetime(2026, 11, 19, 9, 0, tzinfo=LOCAL_TZ)  # the call was due yesterday
    manager = signed_in(app, "manager")  # the sign-in of two days ago has expired
    page = text(manager.get("/evaluations"))
    late = listed(page)[ids["today-bad"]]
    assert 'class="light-row-red"' in late and 'class="overdue"' in late and "超期" in late
    assert "light-row-red" not in listed(page)[ids["month-bad"]]
    assert counts(page, "windows", "2")[9:14] == ["1", "1", "0", "0", "1"]
    assert set(listed(text(manager.get("/evaluations?state=overdue")))) == {ids["today-bad"]}
    assert set(listed(text(manager.get("/evaluations?state=整改中")))) == {ids["month-bad"]}
    assert box.evaluations.followups.get(ids["today-bad"]).state == "待回访"


def test_return_call_then_rectification_through_the_page(hall):
    app, box, _, ids = hall
    manager = signed_in(app, "manager")
    url = f"/evaluations/reviews/{ids['today-bad']}"
    page = text(manager.get(url))
    assert re.search(r'id="review-state">待回访<', page)
    assert "step-return_call" in page and "step-rectification" not in page
    page = text(step(manager, ids["today-bad"], "return_call", note="已电话联系，群众反映排队久"))
    assert flash(page) == ("success", "已记录回访")
    assert re.search(r'id="review-state">整改中<', page)
    assert "step-return_call" not in page and "step-rectification" in page
    page = text(step(manager, ids["today-bad"], "rectification", note="高峰期增开两个窗口"))
    assert flash(page) == ("success", "已记录整改")
    assert re.search(r'id="review-state">已整改<', page)
    trail = re.search(r'id="review-audit">(.*?)</ol>', page, re.S)[1]
    assert [re.sub(r"<[^>]+>", "", a) for a in re.findall(r"<strong>.*?</strong>", trail)] == [
        "生成差评任务", "回访", "整改"]
    assert "王主任（manager）" in trail and "高峰期增开两个窗口" in trail
    item = box.evaluations.followups.get(ids["today-bad"])
    assert (item.state, item.rectify_note) == ("已整改", "高峰期增开两个窗口")


def test_a_rectification_before_the_call_is_refused_and_changes_nothing(hall):
    app, box, _, ids = hall
    manager = signed_in(app, "manager")
    before = box.evaluations.followups.get(ids["today-bad"])
    page = text(step(manager, ids["today-bad"], "rectification", note="增开窗口"))
    assert flash(page) == ("error", f"差评 #{ids['today-bad']} 尚未回访，请先登记回访再登记整改")
    assert box.evaluations.followups.get(ids["today-bad"]) == before
    assert len(box.evaluations.followups.audit(ids["today-bad"])) == 1
    page = text(step(manager, ids["today-bad"], "return_call", note="  "))
    assert flash(page) == ("error", "请填写回访情况")
    assert box.evaluations.followups.get(ids["today-bad"]) == before


def test_an_extension_over_the_limit_is_refused(hall):
    app, box, _, ids = hall
    manager = signed_in(app, "manager")
    before = box.evaluations.followups.get(ids["today-bad"])
    page = text(step(manager, ids["today-bad"], "extension", days="16", reason="需采购叫号设备"))
    assert flash(page) == ("error", "延期天数须为 1–15 个工作日，收到 16")
    page = text(step(manager, ids["today-bad"], "extension", days="十", reason="需采购叫号设备"))
    assert flash(page)[0] == "error" and "整数" in flash(page)[1]
    assert box.evaluations.followups.get(ids["today-bad"]) == before
    page = text(step(manager, ids["today-bad"], "extension", days="15", reason="需采购叫号设备"))
    assert flash(page) == ("success", "已延期 15 个工作日，整改期限改为 2026-12-29")
    assert "step-extension" not in page and "已延期 15 个工作日" in page
    page = text(step(manager, ids["today-bad"], "extension", days="1", reason="再延一天"))
    assert flash(page)[0] == "error" and "已延长过一次" in flash(page)[1]


def test_a_supervisors_appeal_invalidates_the_review_and_it_stops_counting(hall):
    app, box, _, ids = hall
    supervisor = signed_in(app, "supervisor")
    page = text(supervisor.get(f"/evaluations/reviews/{ids['month-bad']}"))
    assert "step-appeal" in page and "step-return_call" not in page
    page = text(step(supervisor, ids["month-bad"], "appeal", verdict="恶意",
                     reason="辱骂工作人员，录像已核实", approved_by="李局长"))
    assert flash(page) == ("success", "已记录申诉复核结论：恶意，该评价不再计入统计")
    assert re.search(r'id="review-state">已撤销<', page) and "step-appeal" not in page
    assert re.search(r'id="counted">否（申诉撤销（恶意））<', page)
    month = text(supervisor.get("/evaluations"))
    # Window 2: 非常不满意 0, counted 2, 50.0%, one bad review left, 待回访 1, 已撤销 1, one
    # rating not counted.
    assert counts(month, "windows", "2")[5:] == ["0", "2", "50.0%", "1", "1", "0", "0", "1",
                                                 "0", "1"]
    assert box.evaluations.ratings.get(ids["month-bad"])["counted"] == 0
    assert [a["action"] for a in box.evaluations.followups.audit(ids["month-bad"])] == [
        "opened", "appeal"]


def test_each_step_is_for_its_role_and_needs_the_csrf_token(hall):
    app, box, _, ids = hall
    manager, supervisor = signed_in(app, "manager"), signed_in(app, "supervisor")
    auditor = signed_in(app, "auditor")
    bad = ids["today-bad"]
    appeal = {"verdict": "误评", "reason": "按错键", "approved_by": "王主任"}
    assert step(manager, bad, "appeal", **appeal).status_code == 403
    assert step(supervisor, bad, "return_call", note="x").status_code == 403
    for name, form in (("return_call", {"note": "x"}), ("rectification", {"note": "x"}),
                       ("extension", {"days": "3", "reason": "x"}), ("appeal", appeal)):
        assert step(auditor, bad, name, **form).status_code == 403, name
    page = text(auditor.get(f"/evaluations/reviews/{bad}"))
    assert "<form method=\"post\" action=\"/evaluations/reviews" not in page
    assert "您的角色不能处理此差评" in page
    refused = manager.post(f"/evaluations/reviews/{bad}/return_call", data={"note": "x"})
    assert refused.status_code == 400 and "安全令牌" in text(refused)
    assert step(manager, bad, "no_such_step").status_code == 404
    assert step(manager, 9999, "return_call", note="x").status_code == 404
    technician = signed_in(app, "technician")
    assert technician.get("/evaluations").status_code == 403
    assert technician.get("/evaluations.csv").status_code == 403
    assert box.evaluations.followups.get(bad).state == "待回访"
    assert [a["action"] for a in box.evaluations.followups.audit(bad)] == ["opened"]


def test_only_the_manager_sees_the_callers_name_and_phone(hall):
    app, _, _, ids = hall
    for role, shown in (("manager", "张三丰 13800138000"), ("supervisor", "张** 138****8000"),
                        ("auditor", "张** 138****8000")):
        page = text(signed_in(app, role).get(f"/evaluations/reviews/{ids['today-bad']}"))
        assert f'id="citizen">{shown}<' in page, role
    # A rating that needs no call shows masked data to everyone.
    page = text(signed_in(app, "manager").get(f"/evaluations/reviews/{ids['today-good']}"))
    assert "13800138000" not in page and "没有回访整改任务" in page


def test_csv_and_xlsx_hold_the_months_ratings(hall):
    app, _, _, ids = hall
    auditor = signed_in(app, "auditor")
    answer = auditor.get("/evaluations.csv?month=2026-11")
    assert answer.mimetype == "text/csv"
    assert "filename=ratings-440605-01-202611.csv" in answer.headers["Content-Disposition"]
    body = answer.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["评价编号", "时间", "窗口", "工作人员", "部门", "办件编号", "渠道",
                       "评价等级", "是否计入", "不计入原因", "差评整改状态", "回访期限",
                       "整改期限"]
    by_id = {int(row[0]): row for row in rows[1:]}
    assert set(by_id) == {ids[name] for name in NOVEMBER}
    assert by_id[ids["today-bad"]][1:] == [
        "2026-11-17 09:40:00", "2", "王芳", "民政局", "NH-B", "二维码", "2 不满意", "是", "",
        "待回访", "2026-11-18", "2026-12-08"]
    assert by_id[ids["repeat"]][8:11] == ["否", f"重复评价（首次评价 #{ids['today-good']}）", ""]
    assert "13800138000" not in body.decode("utf-8-sig") and "张" not in body.decode("utf-8-sig")

    answer = auditor.get("/evaluations.xlsx?month=2026-11")
    assert "filename=ratings-440605-01-202611.xlsx" in answer.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(answer.get_data()), read_only=True)
    sheet = [["" if value is None else str(value) for value in row]
             for row in book["评价明细"].iter_rows(values_only=True)]
    assert sheet == rows
    october = list(csv.reader(io.StringIO(
        text(auditor.get("/evaluations.csv?month=2026-10")).lstrip("\ufeff"))))
    assert [int(row[0]) for row in october[1:]] == [ids["last-month"]]
    default = auditor.get("/evaluations.csv")  # this month
    assert "202611" in default.headers["Content-Disposition"]


def test_a_bad_month_is_refused_with_a_message(hall):
    app, _, _, _ = hall
    manager = signed_in(app, "manager")
    for path in ("/evaluations", "/evaluations.csv", "/evaluations.xlsx"):
        for month in ("2026-13", "十一月", "1999-11"):
            answer = manager.get(f"{path}?month={month}")
            assert answer.status_code == 400, (path, month)
            assert "月份" in text(answer) and month in text(answer)
