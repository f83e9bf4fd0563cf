"""Absences, camera health and self-tests: from a real box store's outbox to the hub's views
and its 现场与设备 page, scoped by district.

The box side is the box's own code (``StorePresenceSink`` on an edge ``Store``, the self-test's
``queue_report``); its outbox rows go through the receiver's ``parse_records`` and
``HubStore.apply_batch``, the hub's own path, one batch a record and the newest first (the
most out of order a box's live-first relay can be).
"""

from __future__ import annotations

import datetime as dt

import pytest

from edge.presence.evidence import SnapshotStore
from edge.presence.store import PRESENCE_SCHEMA, StorePresenceSink
from edge.store import Store
from hub.projections import rebuild
from hub.batch_open import parse_records
from hub.services import Scope
from hub.services.halls import hall_views, refusals
from provisioning.selftest import queue_report
from tests.hubkit import NOW, Clock, add_users, open_dashboard, sign_in, write_hub_folder
from web.hub import create_app

JPEG = b"\xff\xd8\xff\xe0 not really a picture \xff\xd9"


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def report(box_id: str, ok: bool) -> dict:
    """A self-test report as provisioning/selftest.py writes it."""
    checks = [{"name": "clock", "status": "ok", "title": "时钟", "detail": "误差 0.2 秒",
               "data": {}}]
    if not ok:
        checks += [{"name": "camera", "status": "fail", "title": "摄像头 cam-b",
                    "detail": "5 秒内无画面", "data": {}},
                   {"name": "calendar", "status": "warn", "title": "工作日历",
                    "detail": "不含明年", "data": {}}]
    counts = {status: sum(c["status"] == status for c in checks)
              for status in ("ok", "warn", "fail", "skip")}
    return {"version": 1, "kind": "selftest", "box_id": box_id,
            "started_at": (NOW - minutes(40)).isoformat(),
            "finished_at": (NOW - minutes(30)).isoformat(), "ok": ok, "counts": counts,
            "checks": checks}


def box_outbox(folder, box_id: str, district: str, *, trouble: bool) -> list[tuple[str, bytes]]:
    """What a box relays after a morning: absences, a camera's health, a self-test."""
    clock = Clock(NOW - minutes(30))
    store = Store(folder / f"{box_id}.db", box_id=box_id, clock=clock)
    store.extra_schema.append(PRESENCE_SCHEMA)
    store.open()
    try:
        sink = StorePresenceSink(store, SnapshotStore(folder / f"{box_id}-snaps", 10**7),
                                 "cam-a", depts={1: f"{district}SCJ", 2: f"{district}WJJ"})
        if trouble:
            first = sink.absence_alert(1, NOW - minutes(20), JPEG, JPEG, NOW - minutes(14))
            sink.absence_ended(1, first, NOW - minutes(10))
            sink.absence_alert(1, NOW - minutes(9), JPEG, JPEG, NOW - minutes(3))
            early = sink.absence_alert(2, NOW - minutes(45), JPEG, JPEG, NOW - minutes(39))
            sink.absence_ended(2, early, NOW - minutes(37))
            sink.absence_alert(2, NOW - minutes(7), JPEG, JPEG, NOW - minutes(1))  # ongoing
        sink.camera_health("cam-b", not trouble, "frozen for 75 s" if trouble else "receiving",
                           NOW - minutes(5))
        sink.camera_health("cam-a", True, "receiving", NOW)
    finally:
        store.close()
    queue_report(folder / f"{box_id}.db", report(box_id, ok=not trouble), NOW)
    store = Store(folder / f"{box_id}.db", box_id=box_id).open()
    try:
        return [(row["body"], row["hash"]) for row in store.query(
            "select body, hash from outbox_records order by seq")]
    finally:
        store.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("halls")
    write_hub_folder(folder / "hub")
    dashboard = open_dashboard(folder / "hub")
    store = dashboard.data.store
    for box_id, district, trouble in (("440605-01", "440605", True),
                                      ("440606-01", "440606", False)):
        items = box_outbox(folder, box_id, district, trouble=trouble)
        for seq in range(len(items), 0, -1):  # the newest first: every end before its start
            parsed = parse_records(items[seq - 1:seq], seq, seq)
            store.apply_batch(box_id, district, parsed, from_seq=seq, backlog=0)
    store.refuse("440605-01", "connection refused: box 440605-01 is revoked")
    store.refuse(None, "connection refused: CURVE key Zz9ab… is not enrolled",
                 source="key:Zz9abcdefghijklmnop")
    return dashboard


def views(dashboard, scope: Scope) -> dict:
    return {hall.code: hall for hall in hall_views(dashboard.data, scope)}


def test_the_views_hold_each_box_s_absences_cameras_and_self_test(hub):
    assert not hub.data.store.query("select * from hub_projection_errors")
    nanhai = views(hub, Scope.city())["440605"]
    assert [(w.box_id, w.window_no, w.alerts, round(w.minutes), w.ongoing)
            for w in nanhai.windows] == [("440605-01", 1, 2, 19, True),
                                         ("440605-01", 2, 2, 15, True)]
    assert (nanhai.absences, round(nanhai.absence_minutes)) == (4, 34)
    (camera,) = nanhai.cameras_down
    assert (camera["camera_id"], camera["detail_text"]) == ("cam-b", "画面冻结（frozen for 75 s）")
    (test,) = nanhai.selftests
    assert (test["ok"], test["counts"]["fail"], [p["title"] for p in test["problems"]]) == (
        0, 1, ["摄像头 cam-b", "工作日历"])
    shunde = views(hub, Scope.city())["440606"]
    assert (shunde.windows, shunde.cameras_down) == ([], [])
    assert [t["ok"] for t in shunde.selftests] == [1]


def test_the_views_are_the_same_after_a_rebuild(hub):
    before = {code: (hall.windows, hall.cameras_down, hall.selftests)
              for code, hall in views(hub, Scope.city()).items()}
    rebuild(hub.data.store)
    after = {code: (hall.windows, hall.cameras_down, hall.selftests)
             for code, hall in views(hub, Scope.city()).items()}
    assert after == before


def test_each_district_sees_only_its_own_halls_and_departments_none(hub):
    assert list(views(hub, Scope.district("440606"))) == ["440606"]
    assert views(hub, Scope.district("440606"))["440606"].cameras_down == []
    assert list(views(hub, Scope.district("440605"))) == ["440605"]
    assert views(hub, Scope.department("SCJ")) == {}
    assert [r["source"] for r in refusals(hub.data, Scope.city())] == [
        "key:Zz9abcdefghijklmnop", "440605-01"]
    assert [r["box_id"] for r in refusals(hub.data, Scope.district("440605"))] == ["440605-01"]
    assert refusals(hub.data, Scope.district("440606")) == []
    assert refusals(hub.data, Scope.department("SCJ")) == []


def test_the_page_and_the_overview_show_them_in_scope(hub):
    passwords = add_users(hub)
    app = create_app(hub, {"TESTING": True}, announce=lambda *first: None)
    city = sign_in(app, "chief", passwords["chief"]).client.get("/halls").get_data(as_text=True)
    for text in ("南海区", "顺德区", "2号窗口", "离岗中", "画面冻结", "未通过", "摄像头 cam-b",
                 "未登记的密钥 Zz9abcdefghi…", "box 440605-01 is revoked"):
        assert text in city, text
    shunde = sign_in(app, "shunde", passwords["shunde"]).client
    page = shunde.get("/halls").get_data(as_text=True)
    assert "顺德区" in page and "通过" in page
    for text in ("南海区", "画面冻结", "is revoked", "未登记的密钥"):
        assert text not in page, text
    overview = sign_in(app, "nanhai", passwords["nanhai"]).client.get("/").get_data(as_text=True)
    assert "摄像头异常 <strong>1</strong>" in overview and "今日离岗 <strong>4</strong>" in overview
    scj = sign_in(app, "scj", passwords["scj"]).client
    assert scj.get("/halls").status_code == 403
    assert "现场与设备" not in scj.get("/").get_data(as_text=True)
