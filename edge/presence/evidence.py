"""Absence evidence: JPEG snapshots of a window region and of the whole frame, under a quota.

Files live in two folders, so the folder itself says what may be removed::

    snapshots/open/20261102T011500123456Z_A17_roi.jpg     evidence of an alert still open
    snapshots/closed/20261102T011500123456Z_A17_frame.jpg evidence of a closed alert

The name starts with the UTC time the snapshot was taken, so names sort oldest first. When
the quota is exceeded, the oldest evidence of closed alerts goes first; only if that is not
enough, the oldest evidence of open alerts (never the newest alert's).

Example::

    >>> store = SnapshotStore(Path("data/snapshots"), quota_bytes=512 * 2**20)   # doctest: +SKIP
    >>> store.save("A17", taken_at, *evidence_jpegs(frame, roi))                 # doctest: +SKIP
    >>> store.close("A17"); store.usage().used_bytes                             # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.presence.ports import Roi
from standard.files import private_dir, write_private

logger = logging.getLogger(__name__)

ALERT_ID = re.compile(r"^[0-9A-Za-z.\-]{1,64}$")
STAMP = "%Y%m%dT%H%M%S%fZ"  # a snapshot's name starts with the UTC time it was taken


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    """Encode a BGR image as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    return buffer.tobytes()


def evidence_jpegs(
    frame: np.ndarray, roi: Roi, max_width: int = 640, quality: int = 85
) -> tuple[bytes, bytes]:
    """The region at full resolution, and the whole frame shrunk to at most ``max_width``."""
    region = frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w]
    whole = frame
    if frame.shape[1] > max_width:
        height = round(frame.shape[0] * max_width / frame.shape[1])
        whole = cv2.resize(frame, (max_width, height), interpolation=cv2.INTER_AREA)
    return encode_jpeg(region, quality), encode_jpeg(whole, quality)


@dataclass(frozen=True)
class StoreUsage:
    """Snapshot storage for the device health page."""

    used_bytes: int
    quota_bytes: int
    files: int
    open_alerts: int
    removed_files: int  # removed to respect the quota since the box started

    @property
    def over_quota(self) -> bool:
        return self.used_bytes > self.quota_bytes

    def as_dict(self) -> dict:
        return {**asdict(self), "over_quota": self.over_quota}


class SnapshotStore:
    """A folder of evidence JPEGs with a byte quota; safe to share between camera threads."""

    def __init__(self, directory: Path | str, quota_bytes: int) -> None:
        if quota_bytes <= 0:
            raise ValueError("snapshot quota must be a positive number of bytes")
        self.directory = Path(directory)
        self.quota_bytes = quota_bytes
        self._open = self.directory / "open"
        self._closed = self.directory / "closed"
        private_dir(self._open, tighten=True)  # 0700: the snapshots show people
        private_dir(self._closed, tighten=True)
        self._lock = threading.Lock()
        for leftover in self._open.glob("*.tmp"):  # a write cut short by a power cut
            leftover.unlink()
        self._used = sum(path.stat().st_size for path in self._all_files())
        self._removed = 0

    def save(
        self, alert_id: str, taken_at: dt.datetime, roi_jpeg: bytes, frame_jpeg: bytes
    ) -> list[Path]:
        """Store an alert's two snapshots; returns their paths."""
        check_alert_id(alert_id)
        if taken_at.tzinfo is None:
            raise ValueError("taken_at must be timezone-aware")
        stamp = taken_at.astimezone(dt.UTC).strftime(STAMP)
        paths = []
        with self._lock:
            for kind, data in (("roi", roi_jpeg), ("frame", frame_jpeg)):
                path = self._open / f"{stamp}_{alert_id}_{kind}.jpg"
                if path.exists():  # saved again: count the bytes once
                    self._used -= path.stat().st_size
                write_private(path, data)  # 0600, whole: a reader never sees half a JPEG
                self._used += len(data)
                paths.append(path)
            self._enforce_quota(keep=alert_id)
        return [path for path in paths if path.exists()]

    def close(self, alert_id: str) -> None:
        """The alert is closed: its evidence may now be removed when space runs short."""
        check_alert_id(alert_id)
        with self._lock:
            for path in self._alert_files(self._open, alert_id):
                os.replace(path, self._closed / path.name)
            self._enforce_quota(keep=None)

    def files(self, alert_id: str) -> list[Path]:
        """An alert's snapshots that are still stored, ROI first."""
        check_alert_id(alert_id)
        with self._lock:
            found = [
                *self._alert_files(self._open, alert_id),
                *self._alert_files(self._closed, alert_id),
            ]
        return sorted(found, key=lambda path: not path.stem.endswith("_roi"))

    def usage(self) -> StoreUsage:
        with self._lock:
            files = list(self._all_files())
            open_alerts = {alert_of(path) for path in self._open.glob("*.jpg")}
            return StoreUsage(
                self._used, self.quota_bytes, len(files), len(open_alerts), self._removed
            )

    def oldest_taken_at(self) -> dt.datetime | None:
        """When the oldest stored snapshot was taken (its name says), or None without any."""
        with self._lock:
            names = sorted(path.name for path in self._all_files())
        for name in names:
            try:
                return dt.datetime.strptime(name.split("_", 1)[0], STAMP).replace(tzinfo=dt.UTC)
            except ValueError:  # not one of ours; the next name may be
                continue
        return None

    def _all_files(self) -> list[Path]:
        return [*self._open.glob("*.jpg"), *self._closed.glob("*.jpg")]

    @staticmethod
    def _alert_files(folder: Path, alert_id: str) -> list[Path]:
        return [path for path in folder.glob(f"*_{alert_id}_*.jpg") if alert_of(path) == alert_id]

    def _enforce_quota(self, keep: str | None) -> None:
        if self._used <= self.quota_bytes:
            return
        for folder in (self._closed, self._open):
            oldest_first = dict.fromkeys(alert_of(path) for path in sorted(folder.glob("*.jpg")))
            for alert_id in oldest_first:
                if self._used <= self.quota_bytes:
                    return
                if alert_id == keep:
                    continue
                if folder is self._open:
                    logger.warning(
                        "snapshot quota exceeded: removing evidence of open alert %s", alert_id
                    )
                # An alert's evidence goes as a whole.
                for path in self._alert_files(folder, alert_id):
                    self._used -= path.stat().st_size
                    path.unlink()
                    self._removed += 1


def check_alert_id(alert_id: str) -> None:
    if not ALERT_ID.match(alert_id):
        raise ValueError(f"alert id {alert_id!r}: use 1-64 letters, digits, '.' or '-'")


def alert_of(path: Path) -> str:
    """The alert id inside a snapshot's file name ("" for a file of some other name)."""
    parts = path.stem.split("_")
    return "_".join(parts[1:-1]) if len(parts) >= 3 else ""
