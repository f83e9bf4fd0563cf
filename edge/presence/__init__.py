"""Staff presence at the windows (离岗 detection) from the hall cameras.

A cheap motion gate on a small grey frame says which window regions changed; a Haar face or
upper-body check, run only on changed regions at a low rate, says whether someone sits
there. A per-window tracker turns that into presence intervals and, inside office hours,
absence alerts with JPEG evidence. A watchdog raises a device alert for a camera that stops
delivering frames or freezes.

The box wires it in one place::

    schedule = OfficeSchedule(parse_office_hours("08:30-12:00,14:00-17:30"), calendar.is_workday)
    pipeline = CameraPipeline(regions, sink, schedule, HaarPersonDetector())
    worker = CameraWorker("cam-1", CaptureSource("rtsp://...", clock), pipeline, sink, clock)
    worker.start()   # ... worker.stop(timeout=5)
"""

from edge.presence.analyse import AnalysisResult, analyse_video, format_text
from edge.presence.camera import CameraPipeline, CameraWorker, HealthChange, HealthSettings
from edge.presence.detector import (
    CheckSettings,
    DetectorError,
    HaarPersonDetector,
    HaarSettings,
    PersonDetector,
    PresenceJudge,
)
from edge.presence.evidence import SnapshotStore, StoreUsage, encode_jpeg, evidence_jpegs
from edge.presence.motion import MotionGate, MotionSettings
from edge.presence.ports import (
    ABSENT,
    LOCAL_TZ,
    PRESENT,
    Clock,
    IsWorkday,
    MemorySink,
    PresenceSink,
    Roi,
    State,
    WindowRegion,
)
from edge.presence.live import MIMETYPE as MJPEG_MIMETYPE
from edge.presence.live import LiveSettings, LiveVideo, NoFrame, ViewerLimit
from edge.presence.service import PresenceService
from edge.presence.sources import (
    CaptureSource,
    FileSource,
    FrameSource,
    HallScene,
    SourceError,
    SyntheticSource,
    parse_camera_target,
)
from edge.presence.tracker import OfficeSchedule, TrackerSettings, WindowTracker, parse_office_hours

__all__ = [
    "ABSENT",
    "LOCAL_TZ",
    "PRESENT",
    "AnalysisResult",
    "CameraPipeline",
    "CameraWorker",
    "CaptureSource",
    "CheckSettings",
    "Clock",
    "DetectorError",
    "FileSource",
    "FrameSource",
    "HaarPersonDetector",
    "HaarSettings",
    "HallScene",
    "HealthChange",
    "HealthSettings",
    "IsWorkday",
    "LiveSettings",
    "LiveVideo",
    "MJPEG_MIMETYPE",
    "MemorySink",
    "MotionGate",
    "MotionSettings",
    "NoFrame",
    "OfficeSchedule",
    "PersonDetector",
    "PresenceJudge",
    "PresenceService",
    "PresenceSink",
    "Roi",
    "SnapshotStore",
    "SourceError",
    "State",
    "StoreUsage",
    "SyntheticSource",
    "TrackerSettings",
    "ViewerLimit",
    "WindowRegion",
    "WindowTracker",
    "analyse_video",
    "encode_jpeg",
    "evidence_jpegs",
    "format_text",
    "parse_camera_target",
    "parse_office_hours",
]
