"""Offline analysis: the live presence code run over a recorded clip, on the clip's own timeline.

Frame ``i`` counts as taken at ``start + i / fps``; intervals and alerts come out exactly as
the box would have stored them, for tuning ROIs and thresholds on real footage.

Example::

    >>> result = analyse_video("hall.mp4", [Roi(40, 60, 160, 200)],
    ...                        start=dt.datetime(2026, 11, 2, 9, 0, tzinfo=LOCAL_TZ),
    ...                        office_hours=parse_office_hours("08:30-12:00,14:00-17:30"),
    ...                        is_workday=lambda day: True)          # doctest: +SKIP
    >>> json.dumps(result.as_dict())                                  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.presence.camera import CameraPipeline
from edge.presence.detector import HaarPersonDetector, PersonDetector
from edge.presence.ports import LOCAL_TZ, IsWorkday, MemorySink, Roi, State, WindowRegion
from edge.presence.sources import FileSource, SourceError
from edge.presence.tracker import OfficeHours, OfficeSchedule, TrackerSettings

RESULT_VERSION = 1


@dataclass(frozen=True)
class Interval:
    state: State
    started_at: dt.datetime
    ended_at: dt.datetime


@dataclass(frozen=True)
class Alert:
    alert_id: str
    started_at: dt.datetime
    raised_at: dt.datetime
    ended_at: dt.datetime | None  # None: still absent when the clip ends


@dataclass(frozen=True)
class WindowResult:
    window_no: int
    roi: Roi
    intervals: list[Interval]
    alerts: list[Alert]


@dataclass(frozen=True)
class AnalysisResult:
    """What a clip shows, per window; ``as_dict()`` is the ``--json`` output."""

    clip: str
    start: dt.datetime
    end: dt.datetime
    clip_fps: float
    frames: int
    analysed_frames: int
    person_checks: int
    office_hours: list[tuple[dt.time, dt.time]]
    absent_after: dt.timedelta
    windows: list[WindowResult]
    calendar_problems: list[str]

    def as_dict(self) -> dict:
        return {
            "version": RESULT_VERSION,
            "clip": self.clip,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "clip_fps": self.clip_fps,
            "frames": self.frames,
            "analysed_frames": self.analysed_frames,
            "person_checks": self.person_checks,
            "office_hours": [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.office_hours],
            "absent_after_seconds": self.absent_after.total_seconds(),
            "calendar_problems": self.calendar_problems,
            "windows": [
                {
                    "window_no": window.window_no,
                    "roi": window.roi.as_list(),
                    "intervals": [
                        {
                            "state": i.state,
                            "started_at": i.started_at.isoformat(),
                            "ended_at": i.ended_at.isoformat(),
                            "seconds": (i.ended_at - i.started_at).total_seconds(),
                        }
                        for i in window.intervals
                    ],
                    "alerts": [
                        {
                            "alert_id": a.alert_id,
                            "started_at": a.started_at.isoformat(),
                            "raised_at": a.raised_at.isoformat(),
                            "ended_at": a.ended_at.isoformat() if a.ended_at else None,
                        }
                        for a in window.alerts
                    ],
                }
                for window in self.windows
            ],
        }


def analyse_video(
    path: Path | str,
    rois: Sequence[Roi],
    start: dt.datetime,
    *,
    office_hours: OfficeHours,
    is_workday: IsWorkday,
    tracker: TrackerSettings | None = None,
    fps: float = 5.0,
    detector: PersonDetector | None = None,
) -> AnalysisResult:
    """Run the presence pipeline over a clip; windows are numbered 1, 2, ... in ``rois`` order.

    Raises ``SourceError`` for an unreadable clip and ``ValueError`` for a ROI outside the frame.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    tracker = tracker or TrackerSettings()
    regions = [WindowRegion(no, roi) for no, roi in enumerate(rois, start=1)]
    schedule = OfficeSchedule(office_hours, is_workday)
    sink = MemorySink()
    pipeline = CameraPipeline(
        regions, sink, schedule, detector or HaarPersonDetector(), tracker=tracker
    )
    source = FileSource(path, start, fps=fps)
    analysed = 0
    for at, frame in source.frames():
        pipeline.process(at, frame)
        analysed += 1
    if not analysed:
        raise SourceError(f"{path}: the clip has no frames")
    still_open = set(pipeline.open_alerts().values())
    pipeline.suspend()
    ended = {
        call.alert_id: call.ended_at for call in sink.alert_ends if call.alert_id not in still_open
    }
    windows = [
        WindowResult(
            region.window_no,
            region.roi,
            [
                Interval(c.state, c.started_at, c.ended_at)
                for c in sink.intervals
                if c.window_no == region.window_no
            ],
            [
                Alert(c.alert_id, c.started_at, c.taken_at, ended.get(c.alert_id))
                for c in sink.alerts
                if c.window_no == region.window_no
            ],
        )
        for region in regions
    ]
    return AnalysisResult(
        clip=str(path),
        start=start,
        end=start + dt.timedelta(seconds=source.frame_count / source.clip_fps),
        clip_fps=source.clip_fps,
        frames=source.frame_count,
        analysed_frames=analysed,
        person_checks=pipeline.checks_run,
        office_hours=list(office_hours),
        absent_after=tracker.absent_after,
        windows=windows,
        calendar_problems=sorted(schedule.problems.values()),
    )


def format_text(result: AnalysisResult) -> str:
    """The human-readable report: one block per window, times in local time (+08:00)."""

    def local(at: dt.datetime) -> str:
        return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")

    def span(seconds: float) -> str:
        minutes, seconds = divmod(round(seconds), 60)
        return f"{minutes} min {seconds:02d} s"

    hours = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in result.office_hours)
    lines = [
        (
            f"{result.clip}: {result.frames} frames at {result.clip_fps:g} fps, "
            f"{local(result.start)} to {local(result.end)}; "
            f"{result.analysed_frames} analysed, {result.person_checks} person checks"
        ),
        f"office hours {hours}; alert after {span(result.absent_after.total_seconds())} absent",
    ]
    lines += [f"calendar problem: {problem}" for problem in result.calendar_problems]
    for window in result.windows:
        lines.append(f"window {window.window_no} (ROI {','.join(map(str, window.roi.as_list()))})")
        for i in window.intervals:
            lines.append(
                f"  {i.state:<8} {local(i.started_at)} - {local(i.ended_at)}  "
                f"({span((i.ended_at - i.started_at).total_seconds())})"
            )
        for a in window.alerts:
            end = (
                f"ended {local(a.ended_at)}"
                if a.ended_at
                else "still absent at the end of the clip"
            )
            lines.append(
                f"  ALERT 离岗 {a.alert_id}: absent from {local(a.started_at)}, "
                f"raised {local(a.raised_at)}, {end}"
            )
        if not window.intervals and not window.alerts:
            lines.append("  (no interval closed)")
    return "\n".join(lines)
