"""A window snapshot asked by the hub, end to end over real ZeroMQ: a supervisor's request is
written and signed at the hub, sent down the box's CURVE connection, verified by the box's
relay, answered with one size-capped JPEG of the camera's newest frame, stored at the hub and
audited on both sides. A request the hub did not sign, or for a window without a camera, gets
an answer that says why and no picture."""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.presence import LiveSettings, LiveVideo
from edge.presence.live import VIDEO_SCHEMA
from edge.relay import Relay, RelaySettings
from edge.store import Store
from hub.services import Scope
from hub.snapshots import SnapshotDesk, SnapshotError
from standard import identity, wire
from standard.envelope import sign_document
from tests.integration.relay_harness import in_process_receiver, wait_for

pytestmark = pytest.mark.timeout(90)
CAMERA_WINDOW = 3


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def hall_frame() -> np.ndarray:
    """A 1280×720 'camera frame' with detail, so its JPEG has a real size."""
    frame = np.random.default_rng(7).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    cv2.putText(frame, "window 3", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
    return frame


@pytest.fixture
def linked(tmp_path):
    with in_process_receiver(tmp_path) as hub:
        store = Store(tmp_path / "box.db", box_id=hub.box.box_id)
        store.extra_schema.append(VIDEO_SCHEMA)
        store.open()
        taken_at = utc_now()
        frame = hall_frame()
        live = LiveVideo(lambda no: (taken_at, frame) if no == CAMERA_WINDOW else None,
                         lambda: [CAMERA_WINDOW], LiveSettings(snapshot_max_bytes=64 * 1024),
                         utc_now, store)
        hub_public = identity.load_hub_public(hub.box_dir / identity.BOX_HUB_PUBLIC_FILE)
        relay = Relay(store, hub.box, hub_public, hub.receiver.bound_endpoint, RelaySettings(),
                      on_snapshot=live.answer_snapshot)
        relay.start()
        wait_for(lambda: hub.store.query("select 1 as x from boxes where box_id = ?",
                                         (hub.box.box_id,)), 30, what="the box's hello")
        try:
            yield hub, store, relay, SnapshotDesk(hub.store, utc_now)
        finally:
            relay.stop()
            store.close()


def answered(desk: SnapshotDesk, number: int) -> dict | None:
    row = next(r for r in desk.recent(Scope.city()) if r["id"] == number)
    return row if row["state"] != "waiting" else None


def test_a_snapshot_travels_from_the_box_camera_to_the_hub_page_data(linked):
    hub, store, _, desk = linked
    number = desk.request(Scope.district("440605"), hub.box.box_id, CAMERA_WINDOW,
                          "南海监察室（nanhai）")
    row = wait_for(lambda: answered(desk, number), 30, what="the box's answer")
    assert row["state"] == "done" and row["error"] is None
    jpeg = desk.jpeg(Scope.city(), number)
    assert len(jpeg) <= 64 * 1024  # the box's cap
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] <= 640
    (audit,) = store.query("select actor, window_no, kind, via from video_access")
    assert audit == {"actor": "市中心：南海监察室（nanhai）", "window_no": CAMERA_WINDOW,
                     "kind": "snapshot", "via": "hub"}
    with pytest.raises(LookupError):
        desk.jpeg(Scope.district("440606"), number)  # another district's supervisor


def test_a_window_without_a_camera_is_answered_with_the_reason(linked):
    hub, _, _, desk = linked
    number = desk.request(Scope.city(), hub.box.box_id, 9, "王局（chief）")
    row = wait_for(lambda: answered(desk, number), 30, what="the box's answer")
    assert row["state"] == "failed" and "9 没有接入摄像头" in row["error"]


def test_requests_outside_the_scope_or_not_signed_by_the_hub_are_refused(linked):
    hub, _, relay, desk = linked
    with pytest.raises(SnapshotError, match="不在您的监察范围内"):
        desk.request(Scope.district("440606"), hub.box.box_id, CAMERA_WINDOW, "顺德")
    forged = sign_document({"request_id": 99, "box_id": hub.box.box_id,
                            "window_no": CAMERA_WINDOW, "requested_by": "冒充者",
                            "expires_at": (utc_now() + dt.timedelta(minutes=5)).isoformat()},
                           wire.SNAPSHOT_REQUEST_KIND, 99, Ed25519PrivateKey.generate())
    answer = relay.answer_snapshot(forged)
    assert answer["jpeg"] is None and "盒子拒绝" in answer["error"]
    expired = sign_document({"request_id": 98, "box_id": hub.box.box_id,
                             "window_no": CAMERA_WINDOW, "requested_by": "王局",
                             "expires_at": (utc_now() - dt.timedelta(minutes=1)).isoformat()},
                            wire.SNAPSHOT_REQUEST_KIND, 98, hub.identity.sign_private)
    assert "expired" in relay.answer_snapshot(expired)["error"]


def test_the_halls_page_asks_and_shows_within_the_scope(tmp_path):
    import base64

    from tests.hubkit import add_users, seeded_hub, sign_in
    from web.hub import create_app

    dashboard = seeded_hub(tmp_path / "hub", cases_per_day=1)
    passwords = add_users(dashboard)
    app = create_app(dashboard, {"TESTING": True})
    nanhai = sign_in(app, "nanhai", passwords["nanhai"])
    page = nanhai.client.get("/halls").get_data(as_text=True)
    assert 'id="snapshot-form"' in page and "440605-01" in page and "440606-01" not in page
    answer = nanhai.client.post("/halls/snapshots", data={
        "box_id": "440605-01", "window_no": "2", "csrf_token": nanhai.csrf},
        follow_redirects=True)
    assert "号截图请求" in answer.get_data(as_text=True)
    (command,) = dashboard.data.store.pending_commands()
    assert command["box_id"] == "440605-01" and command["kind"] == "snapshot"
    refused = nanhai.client.post("/halls/snapshots", data={
        "box_id": "440606-01", "window_no": "2", "csrf_token": nanhai.csrf},
        follow_redirects=True)
    assert "不在您的监察范围内" in refused.get_data(as_text=True)

    number = dashboard.snapshots.recent(Scope.city())[0]["id"]
    jpeg = cv2.imencode(".jpg", hall_frame()[:120, :160])[1].tobytes()
    assert dashboard.snapshots.answered("440605-01", {
        "request_id": number, "jpeg": base64.b64encode(jpeg).decode(), "taken_at": "x"})
    page = nanhai.client.get("/halls").get_data(as_text=True)
    assert f'/halls/snapshots/{number}.jpg' in page and "已回传" in page
    assert nanhai.client.get(f"/halls/snapshots/{number}.jpg").data == jpeg
    scj = sign_in(app, "scj", passwords["scj"])
    assert scj.client.get(f"/halls/snapshots/{number}.jpg").status_code == 403
