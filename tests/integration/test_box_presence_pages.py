"""离岗监测 and the snapshot quota on the health page: a real box whose camera plays a generated
clip (window 1 staffed 3 s then empty 3 s, looped; window 2 never staffed), the Flask test
client, a real store and real absence alerts with their JPEGs.

The box's clock is real elapsed time from a Monday 10:00 (a workday); the fixture waits on
``box.presence.wait_for`` until window 2's absence alert has both snapshots.
"""

from __future__ import annotations

import datetime as dt
import re

import cv2
import numpy as np
import pytest

from edge.app import build_box
from edge.config import load_box_config
from edge.evaluations.ratings import KeyPress
from tests.boxes import write_box_folder
from tests.integration.test_box_pages import PASSWORDS, signed_in, text
from tests.integration.test_presence_box import AnchoredClock, profile_text, staff_event
from tests.presence_clips import REGIONS, Segment, make_clip
from web.box import create_app

WAIT = 15.0  # generous for a loaded machine; the wait ends as soon as the alert is there
PRESENCE = {"absent_after_minutes": 0.02, "leave_grace_seconds": 0.5,
            "evidence_check_seconds": 0.2}


def pages_of(box):
    """The box's pages with one user of each role (passwords from test_box_pages)."""
    app = create_app(box)
    app.config["TESTING"] = True
    for role, password in PASSWORDS.items():
        app.extensions["users"].add(role, f"{role}-用户", role, password=password)
    return app


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("presence-pages")
    clip = make_clip(folder / "hall.avi", [Segment(3, present={1}), Segment(3)], fps=10)
    (folder / "hall.toml").write_text(profile_text([("cam-1", str(clip), [1, 2])]),
                                      encoding="utf-8")
    config = write_box_folder(folder, district_name="南海区", profile="hall.toml",
                              presence=PRESENCE)
    box = build_box(load_box_config(config), clock=AnchoredClock())
    box.store.open()
    staff_event(box, 2)
    box.start()
    assert box.presence.wait_for(lambda: any(
        len(found.snapshots) == 2 for found in box.presence.absences(window_no=2)), WAIT)
    yield box
    box.stop()


@pytest.fixture(scope="module")
def app(box):
    return pages_of(box)


@pytest.fixture(scope="module")
def manager(app):
    return signed_in(app, "manager")


@pytest.fixture(scope="module")
def absent(box):
    """Window 2's absence alert (the window nobody ever sat at)."""
    return box.presence.absences(window_no=2)[-1]


def timeline_row(page: str, label: str) -> str:
    found = re.search(rf'<g class="timeline-row" data-row="{label}">(.*?)</g>', page)
    assert found, f"no timeline row {label}"
    return found[1]


def absence_row(page: str, absence_id: int) -> str:
    found = re.search(rf'<tr data-absence="{absence_id}".*?</tr>', page, re.S)
    assert found, f"absence {absence_id} is not listed"
    return found[0]


def listed_windows(client, window_no: int) -> set[int]:
    """The windows of the absences listed with the page's window filter."""
    page = text(client.get(f"/presence?window={window_no}"))
    return {int(n) for n in re.findall(r'<tr data-absence="\d+" data-window="(\d+)"', page)}


def test_the_timeline_shows_each_window_and_the_absent_one_in_red(manager, box):
    before = box.presence.absence_minutes()[2]
    page = text(manager.get("/presence"))
    after = box.presence.absence_minutes()[2]
    assert '<svg class="chart timeline"' in page and "2026-11-02" in page
    assert 'data-state="absent"' in timeline_row(page, "2号窗口")
    assert 'data-state="present"' not in timeline_row(page, "2号窗口")
    assert 'data-state="present"' in timeline_row(page, "1号窗口")
    for hour in ("08:00", "12:00", "18:00"):  # office hours 08:30-17:30, whole hours around
        assert f">{hour}</text>" in page
    assert 'class="timeline-break"' in page  # lunch, 12:00-14:00
    minutes = re.search(r'<li data-window="2">.*?<b>([\d.]+)</b> 分钟', page)
    assert minutes and round(before, 1) <= float(minutes[1]) <= round(after, 1)
    assert after > 0


def test_absence_alerts_are_listed_with_thumbnails_that_are_jpegs(manager, absent):
    page = text(manager.get("/presence?day=2026-11-02"))
    row = absence_row(page, absent.id)
    assert "2号窗口" in row and "李敏（S001）" in row and f'href="/alerts/{absent.alert_id}"' in row
    assert "待处理" in row
    shapes = {"roi": (REGIONS[1].roi.h, REGIONS[1].roi.w, 3), "frame": (240, 320, 3)}
    for kind, shape in shapes.items():
        src = f"/presence/snapshots/{absent.alert_id}/{kind}.jpg"
        assert f'<img src="{src}"' in row
        answer = manager.get(src)
        assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
        assert answer.data[:2] == b"\xff\xd8" and answer.headers["Cache-Control"] == "no-store"
        assert cv2.imdecode(np.frombuffer(answer.data, np.uint8), cv2.IMREAD_COLOR).shape == shape
    assert listed_windows(manager, 2) == {2} and listed_windows(manager, 1) <= {1}


def test_the_alert_page_shows_the_snapshots(manager, absent):
    page = text(manager.get(f"/alerts/{absent.alert_id}"))
    assert "离岗抓拍" in page
    # The alert names the window in words: no internal subject or camera id reaches the page.
    shown = re.sub(r"<[^>]+>", " ", page)  # what a reader sees, markup aside
    assert "2号窗口 离岗" in shown and "window:" not in shown and "cam-1" not in shown
    assert "window:" not in re.sub(r"<[^>]+>", " ", text(manager.get("/alerts")))
    for kind in ("roi", "frame"):
        assert f'src="/presence/snapshots/{absent.alert_id}/{kind}.jpg"' in page
    case_alert = text(manager.get("/alerts"))  # other alerts have no snapshot block
    assert "离岗抓拍" not in case_alert


@pytest.mark.parametrize("path", [
    "/presence/snapshots/999999/roi.jpg",  # no such alert
    "/presence/snapshots/{id}/thumb.jpg",  # no such kind
    "/presence/snapshots/{id}/roi.png",
    "/presence/snapshots/{id}/roi",
    "/presence/snapshots/{id}/x.roi.jpg",
    "/presence/snapshots/{id}/..%2Froi.jpg",
    "/presence/snapshots/..%2F..%2Fbox.db/roi.jpg",
    "/presence/snapshots/{id}%2F..%2F{id}/roi.jpg",
    "/presence/snapshots/-1/roi.jpg",
    "/presence/snapshots/%D9%A3/roi.jpg",  # an Arabic-Indic digit
])
def test_anything_but_a_recorded_snapshot_is_404(manager, absent, path):
    assert manager.get(path.format(id=absent.alert_id)).status_code == 404


def test_snapshots_are_for_signed_in_readers_only(app, absent):
    src = f"/presence/snapshots/{absent.alert_id}/roi.jpg"
    for path in ("/presence", src):
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        assert signed_in(app, "technician").get(path).status_code == 403
        assert signed_in(app, "auditor").get(path).status_code == 200


def test_a_bad_day_or_window_is_refused_in_chinese(manager):
    bad_day = manager.get("/presence?day=2026-11-31")
    assert bad_day.status_code == 400 and "日期“2026-11-31”无效" in text(bad_day)
    bad_window = manager.get("/presence?window=3a")
    assert bad_window.status_code == 400 and "窗口号“3a”无效" in text(bad_window)
    sunday = text(manager.get("/presence?day=2026-11-01"))
    assert "不是工作日" in sunday and "该日没有离岗记录" in sunday
    assert 'data-state="absent"' not in sunday


def test_health_shows_the_snapshot_quota_cameras_and_last_keys(manager, box):
    pressed_at = box.clock()
    box.evaluations.ratings.record_press(KeyPress.new(1, 5, pressed_at))
    assert abs(box.evaluations.ratings.last_key_presses()[1] - pressed_at) \
        < dt.timedelta(milliseconds=1)
    assert 2 not in box.evaluations.ratings.last_key_presses()

    page = text(manager.get("/health"))
    usage = box.presence.usage()
    assert '<b id="snapshot-quota">512.0 MB</b>' in page
    files = re.search(r'<b id="snapshot-files">(\d+)</b> 张', page)
    assert files and int(files[1]) >= 2 and usage.files >= int(files[1])
    oldest = box.presence.oldest_snapshot_at().astimezone(pressed_at.tzinfo)
    assert f"<dt>最早抓拍</dt><dd>{oldest:%Y-%m-%d %H:%M:%S}</dd>" in page
    frames = re.search(r"已处理 (\d+) 帧", page)
    assert frames and int(frames[1]) > 0
    assert re.search(r"<dt>摄像头 cam-1 最近画面</dt><dd>2026-11-02 10:\d\d:\d\d</dd>", page)
    assert f"1号 {pressed_at:%Y-%m-%d %H:%M:%S}；2号 —" in page
    assert "模拟按键（演示、测试用" in page and "引脚驱动 mock" not in page


def test_a_box_without_cameras_says_not_connected(tmp_path):
    at = dt.datetime(2026, 11, 2, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    plain = build_box(load_box_config(write_box_folder(tmp_path)), clock=lambda: at).start()
    try:
        manager = signed_in(pages_of(plain), "manager")
        answer = manager.get("/presence")
        assert answer.status_code == 200 and "未接入（本机未配置摄像头）" in text(answer)
        assert manager.get("/presence/snapshots/1/roi.jpg").status_code == 404
        health = text(manager.get("/health"))
        assert "本机未配置摄像头，没有抓拍图片" in health
    finally:
        plain.stop()


def test_an_all_day_schedule_shows_the_last_hours_today_and_the_whole_day_on_request(manager, box):
    """With office hours as long as the day (the demo's), a few minutes away would be a hairline
    on a 24-hour axis: today's timeline shows the hours up to now, 查看全天 the whole day."""
    periods = box.presence.schedule.periods
    box.presence.schedule.periods = [(dt.time(0, 0), dt.time(23, 59))]
    try:
        page = text(manager.get("/presence"))
        whole = text(manager.get("/presence?whole=1"))
    finally:
        box.presence.schedule.periods = periods
    hours = [int(h) for h in re.findall(r'class="chart-small">(\d\d):00</text>', page)]
    now = box.clock().astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert hours[0] >= now.hour - 3 and hours[-1] <= now.hour + 2 and hours[-1] > hours[0]
    assert "查看全天" in page and 'data-state="absent"' in timeline_row(page, "2号窗口")
    all_hours = re.findall(r'class="chart-small">(\d\d):00</text>', whole)
    assert all_hours[0] == "00" and "查看全天" not in whole
