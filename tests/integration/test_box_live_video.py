"""Live video (视频监控) on a real box whose camera plays a generated clip: a supervisor gets
MJPEG frames from the camera worker's own frames, an auditor is refused, the viewer limit
answers 503 in Chinese, the settings are validated, and every view is audited."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.app import build_box
from edge.config import load_box_config
from edge.presence import MJPEG_MIMETYPE
from standard.configfile import ConfigError
from tests.boxes import write_box_folder
from tests.integration.test_box_pages import signed_in
from tests.integration.test_box_presence_pages import pages_of
from tests.integration.test_presence_box import AnchoredClock, profile_text
from tests.presence_clips import Segment, make_clip

WAIT = 15.0


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-video")
    clip = make_clip(folder / "hall.avi", [Segment(3, present={1}), Segment(3)], fps=10)
    (folder / "hall.toml").write_text(profile_text([("cam-1", str(clip), [1, 2])]),
                                      encoding="utf-8")
    config = write_box_folder(folder, district_name="南海区", profile="hall.toml",
                              presence={"live_viewers": 1, "live_fps": 5})
    box = build_box(load_box_config(config), clock=AnchoredClock())
    box.store.open()
    box.start()
    assert box.presence.wait_for(lambda: box.presence.latest_frame(1) is not None, WAIT) or \
        box.live.frames(1) is not None
    yield box
    box.stop()


@pytest.fixture(scope="module")
def app(box):
    return pages_of(box)


def first_part(answer) -> bytes:
    """The stream's first multipart part, then the stream is closed (the viewer leaves)."""
    try:
        return next(iter(answer.response))
    finally:
        answer.close()


def test_a_supervisor_watches_a_window_live(app, box):
    supervisor = signed_in(app, "supervisor")
    page = supervisor.get("/presence/live/1").get_data(as_text=True)
    assert 'src="/presence/live/1.mjpg"' in page and "每秒最多 5 帧" in page
    answer = supervisor.get("/presence/live/1.mjpg", buffered=False)
    assert answer.status_code == 200 and answer.mimetype == MJPEG_MIMETYPE.split(";")[0]
    part = first_part(answer)
    head, _, body = part.partition(b"\r\n\r\n")
    assert b"Content-Type: image/jpeg" in head
    image = cv2.imdecode(np.frombuffer(body[:-2], np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] <= box.live.settings.width
    assert box.live.watching == 0  # closing the stream freed the slot
    accesses = supervisor.get("/presence/live").get_data(as_text=True)
    assert "supervisor-用户（supervisor）" in accesses and "实时画面" in accesses


def test_roles_without_the_right_are_refused(app):
    for role in ("auditor", "technician"):
        client = signed_in(app, role)
        assert client.get("/presence/live/1.mjpg").status_code == 403
        assert client.get("/presence/live/1").status_code == 403


def test_the_viewer_limit_is_enforced_with_a_chinese_message(app, box):
    manager = signed_in(app, "manager")
    first = manager.get("/presence/live/2.mjpg", buffered=False)
    assert first.status_code == 200 and box.live.watching == 1
    try:
        second = signed_in(app, "supervisor").get("/presence/live/1.mjpg")
        assert second.status_code == 503
        assert "观看人数已达上限（1 人）" in second.get_data(as_text=True)
    finally:
        first.close()
    assert box.live.watching == 0


def test_live_settings_are_validated(tmp_path):
    config = write_box_folder(tmp_path / "fps", presence={"live_fps": 0})
    with pytest.raises(ConfigError, match="live_fps"):
        load_box_config(config)
    config = write_box_folder(tmp_path / "viewers", presence={"live_viewers": 8})
    with pytest.raises(ConfigError, match="presence.live_viewers: at most 7 with web.threads"):
        load_box_config(config)
