"""``box.presence``: the hall's cameras, their evidence and what the pages read about them.

``PresenceService`` starts and stops the camera workers (each camera on threads of its own),
releases the evidence of absence alerts that people closed, so that the snapshot quota
removes it first, and answers the hall pages: each window's state now, today's absence
minutes, absences with their snapshots, the day's timeline per window, camera health and
snapshot storage. The rows come from ``edge/presence/store.py``.

Example::

    service = PresenceService(store, SnapshotStore(folder, quota), schedule, clock=utc_now)
    sink = service.sink("cam-a", depts={1: "440605SCJ"})
    service.add_camera(CameraWorker("cam-a", source, pipeline, sink, clock))
    service.start()
    service.states()                       # {1: ("present", datetime(...))}
    service.snapshot_path("17", "roi")     # Path(".../snapshots/open/..._17_roi.jpg") or None
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.presence.camera import CameraWorker
from edge.presence.evidence import SnapshotStore, StoreUsage
from edge.presence.ports import State
from edge.presence.store import SNAPSHOT_KINDS, StorePresenceSink, chinese_detail
from edge.presence.tracker import OfficeSchedule
from edge.store import Store
from edge.storetx import Tx, iso
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class CameraStatus:
    """One camera for the device health page."""

    camera_id: str
    source: str  # without a password
    windows: list[int]
    ok: bool
    detail: str  # in Chinese
    frames: int
    last_frame_at: dt.datetime | None


@dataclass(frozen=True)
class CameraHealth:
    """All cameras at once: what the health page's camera section shows (``ok``, ``detail``)."""

    ok: bool
    detail: str
    cameras: list[CameraStatus] = field(default_factory=list)


@dataclass(frozen=True)
class Span:
    """A stretch of one state on a window's day; ``open`` while it goes on."""

    state: State
    started_at: dt.datetime
    ended_at: dt.datetime
    open: bool = False


@dataclass(frozen=True)
class Absence:
    """One absence alert with its evidence; ``snapshots`` maps "roi"/"frame" to a file."""

    id: int
    alert_id: int | None
    alert_state: str | None
    camera_id: str
    window_no: int
    started_at: dt.datetime
    taken_at: dt.datetime
    ended_at: dt.datetime | None
    staff_id: str | None
    staff_name: str | None
    snapshots: dict[str, Path]


class PresenceService:
    """``box.presence``: the cameras' workers, evidence housekeeping and the page queries."""

    def __init__(self, store: Store, snapshots: SnapshotStore, schedule: OfficeSchedule, *,
                 clock: Callable[[], dt.datetime], evidence_check_seconds: float = 60.0,
                 stop_timeout: float = 5.0):
        self.store, self.snapshots, self.schedule = store, snapshots, schedule
        self.clock = clock
        self.evidence_check_seconds = evidence_check_seconds
        self.stop_timeout = stop_timeout
        self.workers: list[CameraWorker] = []
        self._changed = threading.Condition()
        self._writes = 0  # presence writes so far; guarded by _changed
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        # Run once at start, before the cameras, on a store with no presence yet (a
        # simulated hall's past days, edge/presence/simulation.py); None in a real hall.
        self.history: Callable[[], None] | None = None

    # -- wiring and life cycle ----------------------------------------------------------
    def sink(self, camera_id: str, depts: Mapping[int, str | None]) -> StorePresenceSink:
        return StorePresenceSink(self.store, self.snapshots, camera_id, depts=depts,
                                 on_change=self._notify, schedule=self.schedule)

    def add_camera(self, worker: CameraWorker) -> None:
        self.workers.append(worker)

    def start(self) -> None:
        self.store.write(self._end_dangling_absences)
        if self.history is not None and not self.store.query(
                "select 1 from presence_intervals limit 1"):
            self.history()
        self._stop.clear()
        for worker in self.workers:
            worker.start()
        self._sweeper = threading.Thread(target=self._sweep, name="presence-evidence",
                                         daemon=True)
        self._sweeper.start()

    def stop(self) -> None:
        """Stop every camera at once (each within ``stop_timeout``), then the sweeper."""
        self._stop.set()
        if self.workers:
            with ThreadPoolExecutor(len(self.workers)) as pool:
                stopped = list(pool.map(lambda w: w.stop(self.stop_timeout), self.workers))
            for worker, ok in zip(self.workers, stopped):
                if not ok:
                    log.warning("camera %s did not stop in %.0f s", worker.camera_id,
                                self.stop_timeout)
        if self._sweeper:
            self._sweeper.join(timeout=self.stop_timeout)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds, re-checked after each presence write.

        The predicate runs without any lock held: it may ask the cameras (``health()``) while
        a camera thread, holding its own lock, is writing.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._writes
            if predicate():
                return True
            with self._changed:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait_for(lambda: self._writes != seen, left):
                    return bool(predicate())

    def _notify(self) -> None:
        with self._changed:
            self._writes += 1
            self._changed.notify_all()

    @staticmethod
    def _end_dangling_absences(tx: Tx) -> None:
        """Absences a power cut left open end when their alert was raised: all that is known."""
        tx.conn.execute("update absences set ended_at = taken_at, end_note = '盒子重启，"
                        "离岗结束时间未知，按抓拍时间计' where ended_at is null")

    def _sweep(self) -> None:
        while True:
            try:
                self.release_closed_evidence()
            except Exception:  # the next round tries again
                log.exception("presence: releasing closed evidence failed")
            if self._stop.wait(self.evidence_check_seconds):
                return

    def release_closed_evidence(self) -> int:
        """Evidence of alerts people closed may now go first under the quota; returns how many."""
        rows = self.store.query(
            "select ab.alert_id from absences ab join alerts a on a.id = ab.alert_id"
            " where ab.evidence_closed_at is null and a.state in ('closed', 'resolved')")
        ids = [row["alert_id"] for row in rows]
        for alert_id in ids:
            self.snapshots.close(str(alert_id))
        if ids:
            marks = ",".join("?" * len(ids))
            self.store.write(lambda tx: tx.conn.execute(
                f"update absences set evidence_closed_at = ? where alert_id in ({marks})",
                (iso(tx.now), *ids)))
            self._notify()
        return len(ids)

    # -- what the pages ask for ------------------------------------------------------------
    def states(self) -> dict[int, tuple[State | None, dt.datetime | None]]:
        """Window → (present/absent/None, since when); None until a camera has judged it."""
        found: dict[int, tuple[State | None, dt.datetime | None]] = {}
        for worker in self.workers:
            for window_no, state in worker.states().items():
                found.setdefault(window_no, state)
        return found

    def absence_minutes(self, day: dt.date | None = None) -> dict[int, float]:
        """Minutes of 离岗 per window on ``day`` (today): the absences that lasted past the
        threshold and became alerts, each from its start to its end (an ongoing one until
        now), office time only. Shorter absences are not 离岗. The hub counts the same
        absences from the same records (hub/services/halls.py), so both show one figure."""
        start, end = self._day_bounds(day)
        now = self.clock()
        minutes = {window_no: 0.0 for window_no in self.states()}
        for row in self.store.query(
                "select window_no, started_at, ended_at from absences"
                " where started_at >= ? and started_at < ?", (iso(start), iso(end))):
            until = _parse(row["ended_at"]) if row["ended_at"] else min(now, end)
            span = Span("absent", _parse(row["started_at"]), until)
            minutes[row["window_no"]] = (minutes.get(row["window_no"], 0.0)
                                         + self._office_seconds(span) / 60)
        return dict(sorted(minutes.items()))

    def timeline(self, day: dt.date | None = None) -> dict[int, list[Span]]:
        """Each window's present/absent spans on ``day``, clipped to it; gaps had no video."""
        start, end = self._day_bounds(day)
        spans: dict[int, list[Span]] = {no: [] for no in self.states()}
        for row in self.store.query(
                "select window_no, state, started_at, ended_at from presence_intervals"
                " where ended_at > ? and started_at < ? order by started_at",
                (iso(start), iso(end))):
            spans.setdefault(row["window_no"], []).append(Span(
                row["state"], max(start, _parse(row["started_at"])),
                min(end, _parse(row["ended_at"]))))
        now = self.clock()
        for window_no, (state, since) in self.states().items():
            if state is not None and since < end and now > start:
                spans[window_no].append(Span(state, max(start, since), min(end, now), True))
        return dict(sorted(spans.items()))

    def absences(self, day: dt.date | None = None, window_no: int | None = None,
                 limit: int = 100) -> list[Absence]:
        """Absence alerts begun on ``day`` (all days when None), newest first."""
        clauses, params = [], []
        if day is not None:
            start, end = self._day_bounds(day)
            clauses.append("ab.started_at >= ? and ab.started_at < ?")
            params += [iso(start), iso(end)]
        if window_no is not None:
            clauses.append("ab.window_no = ?")
            params.append(window_no)
        where = " where " + " and ".join(clauses) if clauses else ""
        rows = self.store.query(
            "select ab.*, a.state as alert_state from absences ab left join alerts a"
            f" on a.id = ab.alert_id{where} order by ab.id desc limit ?", (*params, limit))
        return [Absence(row["id"], row["alert_id"], row["alert_state"], row["camera_id"],
                        row["window_no"], _parse(row["started_at"]), _parse(row["taken_at"]),
                        _parse(row["ended_at"]) if row["ended_at"] else None, row["staff_id"],
                        row["staff_name"], self._evidence(row)) for row in rows]

    def snapshot_path(self, alert_id: int | str, kind: str) -> Path | None:
        """The stored JPEG of an absence alert ("roi" or "frame"), or None.

        Only files recorded for that alert are ever returned, and only from inside the
        snapshot folder: a page may pass request text here as it is.
        """
        text = str(alert_id)
        if kind not in SNAPSHOT_KINDS or not (text.isascii() and text.isdigit()) \
                or len(text) > 18:
            return None
        rows = self.store.query("select alert_id, snapshot_files from absences"
                                " where alert_id = ?", (int(text),))
        return self._evidence(rows[0]).get(kind) if rows else None

    def latest_frame(self, window_no: int) -> tuple[dt.datetime, Any] | None:
        """The newest frame of the camera that watches ``window_no`` (None: no such window,
        or no frame yet)."""
        for worker in self.workers:
            if any(region.window_no == window_no for region in worker.pipeline.regions):
                return worker.latest()
        return None

    def watched_windows(self) -> list[int]:
        """The windows a camera watches, in order."""
        return sorted(region.window_no for worker in self.workers
                      for region in worker.pipeline.regions)

    def health(self) -> CameraHealth:
        """Every camera's health; ``ok`` only when all of them deliver frames."""
        cameras = self.cameras()
        bad = [c for c in cameras if not c.ok]
        detail = (f"{len(cameras)}台摄像头画面正常" if not bad else "；".join(
            f"{c.camera_id}：{c.detail}" for c in bad))
        return CameraHealth(not bad, detail, cameras)

    def cameras(self) -> list[CameraStatus]:
        found = []
        for worker in self.workers:
            change = worker.health()
            found.append(CameraStatus(
                worker.camera_id, worker.source.name,
                sorted(worker.pipeline.trackers), change.ok, chinese_detail(change.detail),
                worker.frames_seen, change.last_frame_at))
        return found

    def usage(self) -> StoreUsage:
        """Snapshot storage against its quota (``.as_dict()`` for JSON)."""
        return self.snapshots.usage()

    def oldest_snapshot_at(self) -> dt.datetime | None:
        """When the oldest stored snapshot was taken: how far back the evidence reaches."""
        return self.snapshots.oldest_taken_at()

    # -- helpers -------------------------------------------------------------------------
    def _evidence(self, row: Mapping[str, Any]) -> dict[str, Path]:
        if row["alert_id"] is None:
            return {}
        recorded = set(json.loads(row["snapshot_files"] or "[]"))
        folder = self.snapshots.directory.resolve()
        found = {}
        for path in self.snapshots.files(str(row["alert_id"])):
            resolved = path.resolve()
            if path.name in recorded and resolved.is_relative_to(folder) and resolved.is_file():
                found[path.stem.rsplit("_", 1)[-1]] = resolved
        return found

    def _day_bounds(self, day: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
        day = day or _local(self.clock()).date()
        start = dt.datetime.combine(day, dt.time(0), LOCAL_TZ)
        return start, start + dt.timedelta(days=1)

    def _office_seconds(self, span: Span) -> float:
        return sum((upper - lower).total_seconds()
                   for lower, upper, _day in self.schedule.segments(span.started_at,
                                                                     span.ended_at))


def _local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(LOCAL_TZ)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
