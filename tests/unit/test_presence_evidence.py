"""Evidence snapshots: JPEGs of the region and the frame, kept under a byte quota."""

from __future__ import annotations

import datetime as dt

import cv2
import numpy as np
import pytest

from edge.presence.evidence import SnapshotStore, evidence_jpegs
from edge.presence.ports import LOCAL_TZ, Roi

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ)


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_evidence_is_the_region_at_full_size_and_the_frame_shrunk():
    frame = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    roi_jpeg, frame_jpeg = evidence_jpegs(frame, Roi(100, 50, 200, 300), max_width=640)
    assert decode(roi_jpeg).shape == (300, 200, 3)
    assert decode(frame_jpeg).shape == (360, 640, 3)
    small = np.zeros((240, 320, 3), np.uint8)
    assert decode(evidence_jpegs(small, Roi(0, 0, 32, 32))[1]).shape == (240, 320, 3)


def save(store: SnapshotStore, alert_id: str, minutes: int, size: int = 1000) -> list:
    return store.save(alert_id, T0 + dt.timedelta(minutes=minutes), b"r" * size, b"f" * size)


def test_save_close_and_find_an_alerts_snapshots(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=10_000)
    roi_path, frame_path = save(store, "A1", 0)
    assert roi_path.read_bytes() == b"r" * 1000 and roi_path.parent.name == "open"
    assert frame_path.name == "20261102T010000000000Z_A1_frame.jpg"  # UTC first: names sort by time
    assert store.usage().as_dict() == {
        "used_bytes": 2000,
        "quota_bytes": 10_000,
        "files": 2,
        "open_alerts": 1,
        "removed_files": 0,
        "over_quota": False,
    }
    store.close("A1")
    found = store.files("A1")
    assert [p.parent.name for p in found] == ["closed", "closed"] and found[0].stem.endswith("_roi")
    assert store.usage().open_alerts == 0


def test_the_quota_removes_the_oldest_closed_evidence_first(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=6_000)
    for n in range(3):
        save(store, f"A{n}", n)
    store.close("A1")
    store.close("A2")
    save(store, "A3", 3)  # 8 000 bytes: one alert must go
    assert store.files("A1") == [] and len(store.files("A0")) == 2 and len(store.files("A2")) == 2
    usage = store.usage()
    assert usage.used_bytes == 6_000 and usage.removed_files == 2 and not usage.over_quota


def test_open_evidence_goes_only_when_nothing_closed_is_left_and_never_the_newest(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=3_000)
    save(store, "A0", 0)
    save(store, "A1", 1)
    assert store.files("A0") == [] and len(store.files("A1")) == 2
    save(store, "A2", 2, size=5_000)  # larger than the whole quota: kept, and shown as over quota
    assert len(store.files("A2")) == 2 and store.files("A1") == []
    assert store.usage().over_quota


def test_usage_survives_a_restart(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=10_000)
    save(store, "A1", 0)
    store.close("A1")
    save(store, "A2", 1)
    again = SnapshotStore(tmp_path, quota_bytes=10_000)
    usage = again.usage()
    assert (usage.used_bytes, usage.files, usage.open_alerts) == (4_000, 4, 1)


def test_bad_input_is_refused(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=1)
    with pytest.raises(ValueError, match="alert id"):
        store.save("../etc", T0, b"", b"")
    with pytest.raises(ValueError, match="timezone-aware"):
        store.save("A1", dt.datetime(2026, 11, 2, 9, 0), b"", b"")
    with pytest.raises(ValueError, match="positive"):
        SnapshotStore(tmp_path, quota_bytes=0)


def test_saving_again_counts_once_and_strays_are_harmless(tmp_path):
    store = SnapshotStore(tmp_path, quota_bytes=10_000)
    save(store, "A1", 0)
    save(store, "A1", 0)
    (tmp_path / "open" / "holiday.jpg").write_bytes(b"x")
    (tmp_path / "open" / "cut-short.tmp").write_bytes(b"x" * 50)
    assert store.usage().used_bytes == 2_000
    again = SnapshotStore(tmp_path, quota_bytes=10_000)
    assert not (tmp_path / "open" / "cut-short.tmp").exists()
    assert again.usage().used_bytes == 2_001 and len(again.files("A1")) == 2
