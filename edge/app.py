"""The box's composition root: the only place that picks real or fake adapters.

``build_box(config)`` wires the store, catalogue, calendar, rules and (when configured) the
relay; ``serve(box)`` runs the web server until a signal arrives. Tests and the demo call
``build_box`` with their own clock and fakes.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge.board import HallBoard
from edge.cases import CaseBoard
from edge.config import BoxConfig
from edge.configsync import ConfigApplier
from edge.evaluations.wiring import Evaluations, wire_evaluations
from edge.ingest import ConflictHook, IngestHook
from edge.ingestqueue import IngestQueue
from edge.integration import Integration, wire_integration
from edge.relay import Relay, RelaySettings
from edge.store import Store
from edge.storetx import utc_now
from standard.storecheck import StoreWatch
from edge.supervision import (
    Finding,
    RuleChecker,
    RuleEngine,
    Supervision,
    build_supervision,
    clock_watch,
    conflict_alert,
    open_alert,
    sequence_alert,
    store_alert,
)
from standard.calendar import WorkCalendar, load_overrides
from standard.catalogue import load_catalogue
from standard.deadlines import LightSettings
from standard.identity import load_box_identity, load_hub_public

if TYPE_CHECKING:
    from edge.presence.live import LiveVideo
    from edge.presence.service import PresenceService

log = logging.getLogger(__name__)


class SetupError(Exception):
    """The box cannot start with this configuration."""


def read_secret(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SetupError(f"{path}: cannot read the platform token: {exc.strerror}") from None
    if len(value) < 16:
        raise SetupError(f"{path}: the platform token is too short (at least 16 characters)")
    return value


def load_calendar(path: Path | None) -> WorkCalendar:
    return WorkCalendar(load_overrides(path) if path else None)


@dataclass(frozen=True)
class Refusing:
    """Why the box refuses new records for now: the HTTP status and the message."""

    status: int
    message: str


@dataclass
class Box:
    config: BoxConfig
    store: Store
    board: CaseBoard
    rules: RuleEngine
    platform_token: str
    clock: Callable[[], dt.datetime]
    checker: RuleChecker  # the rule check after ingest, in the background
    intake: IngestQueue  # bounds the platform requests in the box (edge/ingestqueue.py)
    services: list = field(default_factory=list)  # things with start()/stop(), in start order
    ingest_hooks: list[IngestHook] = field(default_factory=list)
    conflict_hooks: list[ConflictHook] = field(default_factory=list)  # data-quality alerts
    store_watch: StoreWatch | None = None  # quick_check at start and periodically
    relay: Relay | None = None
    hall: HallBoard | None = None  # the hall manager's pages' cached board
    evaluations: Evaluations | None = None  # 好差评: ratings, follow-ups, evaluator keys
    supervision: Supervision | None = None  # alerts, cards, notices (edge/supervision/alerts.py)
    presence: PresenceService | None = None  # cameras, 离岗 (edge/presence/service.py)
    live: LiveVideo | None = None  # 视频监控 from the cameras' frames (edge/presence/live.py)
    integration: Integration | None = None  # 中间库, drop folders, reconciliation (edge/integration)
    _stop: threading.Event = field(default_factory=threading.Event)

    def after_ingest(self, case_nos: Iterable[str]) -> None:
        """Have the rules re-check the cases that just changed (their events are committed).

        The check runs in the background (edge/supervision/checker.py): the caller does not wait for it.
        """
        self.checker.submit(case_nos)

    def refusing(self) -> Refusing | None:
        """Why new platform records must wait (damaged database, outbox or disk full), or None."""
        damaged = self.store_watch.problem if self.store_watch else None
        if damaged:
            return Refusing(503, f"本机数据库损坏，暂不接收新记录，请稍后重试（已通知技术员）"
                                 f" (the box database is damaged: {damaged})")
        full = self.relay.full() if self.relay else None
        return Refusing(507, full) if full else None

    def start(self) -> Box:
        self.store.open()
        for service in self.services:
            service.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for service in reversed(self.services):
            service.stop()
        self.store.close()


def build_box(config: BoxConfig, *, clock: Callable[[], dt.datetime] = utc_now) -> Box:
    """Wire a box from its configuration. Nothing is opened until ``Box.start()``."""
    catalogue = load_catalogue(config.path(config.catalogue))
    overrides = config.path(config.calendar_overrides) if config.calendar_overrides else None
    calendar = load_calendar(overrides)
    settings = LightSettings(
        yellow_within_working_days=config.lights.yellow_within_working_days,
        stage_yellow_within_working_days=config.lights.stage_yellow_within_working_days)
    store = Store(config.db_path, box_id=config.box_id, clock=clock, marker=config.store_marker)
    board = CaseBoard(store, catalogue, calendar, settings)
    parts = build_supervision(store, board, clock, rules=config.rules, contacts=config.contacts,
                              notify=config.notify, box_id=config.box_id,
                              data_dir=config.path(config.data_dir))
    rules = parts.rules
    token = read_secret(config.path(config.platform_token_file))
    box = Box(config=config, store=store, board=board, rules=rules, platform_token=token,
              clock=clock, checker=RuleChecker(rules, clock),
              intake=IngestQueue(waiting=config.web.ingest_queue))
    box.supervision = parts.supervision
    box.conflict_hooks.append(conflict_alert)
    box.store_watch = StoreWatch(store.path, on_change=store_alert(store))
    box.services.append(box.store_watch)
    box.services.append(parts.scheduler)
    box.services.append(parts.delivery)
    box.services.append(box.checker)  # stopped before delivery: its last alerts still go out
    box.services.append(clock_watch(store, clock))  # 时钟异常: a device alert (edge/supervision/clockwatch.py)
    box.hall = HallBoard(board, clock=clock)
    box.services.append(box.hall)
    box.evaluations = wire_evaluations(box, calendar, pin_factory_for)
    box.presence = wire_presence(box, calendar)
    box.live = wire_live(box)
    box.integration = wire_integration(box)  # [[sources]]: after the hooks it stores through
    if config.relay is not None:
        box.relay = build_relay(config, store, board, on_config_applied=box.checker.wake,
                                on_snapshot=box.live.answer_snapshot if box.live else None)
        box.services.append(box.relay)
    return box


SIMULATED_FPS = 2.0  # the demo's drawn cameras: enough to see people come and go


def wire_presence(box: Box, calendar: WorkCalendar) -> PresenceService | None:
    """Add the profile's cameras to ``box`` (离岗, docs/presence.md); None without cameras.

    One office schedule for the hall; per camera a detector, a pipeline and a worker on a real
    capture (device index, RTSP URL, video file) or, with ``simulate = true``, on a drawn hall
    whose staff come and go. Nothing is opened until ``box.start()``.
    """
    import random

    from edge.presence import (
        CameraPipeline,
        CameraWorker,
        CaptureSource,
        DetectorError,
        HaarPersonDetector,
        HallScene,
        HealthSettings,
        OfficeSchedule,
        Roi,
        SnapshotStore,
        SyntheticSource,
        TrackerSettings,
        WindowRegion,
        parse_camera_target,
    )
    from edge.presence.service import PresenceService
    from edge.presence.simulation import SimulatedStaff, office_days_before, replay_days
    from edge.presence.store import PRESENCE_SCHEMA
    from edge.profile import parse_period

    config, section = box.config, box.config.presence
    profile = box.evaluations.profile if box.evaluations else None
    if profile is None or not profile.cameras:
        return None
    hours = sorted(parse_period(text) for text in section.office_hours or profile.office_hours)
    schedule = OfficeSchedule(hours, (lambda day: True) if section.every_day
                              else calendar.is_workday)
    tracker = TrackerSettings(absent_after=dt.timedelta(minutes=section.absent_after_minutes),
                              leave_grace=dt.timedelta(seconds=section.leave_grace_seconds))
    health = HealthSettings(no_frames_after=section.no_frames_after,
                            frozen_after=section.frozen_after)
    snapshots = SnapshotStore(config.path(config.data_dir) / "snapshots",
                              max(1, round(section.snapshot_quota_mb * 2**20)))
    presence = PresenceService(box.store, snapshots, schedule, clock=box.clock,
                               evidence_check_seconds=section.evidence_check_seconds)
    depts = {window.window_no: window.dept_code for window in profile.windows}
    # A hall's pace: at the desk 10-40 minutes at a stretch, away a minute or so, and about
    # one time in seven long enough for a 离岗 alert; only in office hours.
    staff = SimulatedStaff(depts, random.Random(config.box_id),
                           long_away=tracker.absent_after + tracker.leave_grace,
                           long_share=0.15, work_seconds=(600.0, 2400.0),
                           short_away_seconds=(20.0, 90.0), schedule=schedule)
    replayed = []  # (pipeline, draw) of the simulated cameras, for their past days
    watched: dict[int, str] = {}
    for camera in profile.cameras:
        regions = []
        for window in camera.windows:
            where = f"camera {camera.id}, window {window.window_no}"
            if watched.setdefault(window.window_no, camera.id) != camera.id:
                raise SetupError(f"{where}: already watched by camera "
                                 f"{watched[window.window_no]}; give each window one camera")
            try:
                regions.append(WindowRegion(window.window_no, Roi(*window.roi)))
            except ValueError as exc:
                raise SetupError(f"{where}: {exc}") from None
        try:
            detector = HaarPersonDetector()
        except DetectorError as exc:
            raise SetupError(str(exc)) from None
        # The sink names its camera by the windows it watches (3、4号窗口摄像头) on alerts.
        sink = presence.sink(camera.id, {window.window_no: depts.get(window.window_no)
                                         for window in camera.windows})
        pipeline = CameraPipeline(regions, sink, schedule, detector, tracker=tracker)
        if config.simulate:
            scene = HallScene((camera.width, camera.height), regions)
            source = SyntheticSource(scene, box.clock, fps=min(camera.fps, SIMULATED_FPS),
                                     occupied=staff.occupied, name=f"simulated {camera.id}")
            replayed.append((pipeline, lambda at, seated, scene=scene: scene.render(
                at.timestamp(), present=seated)))
        else:
            target = parse_camera_target(str(camera.source))
            if isinstance(target, str) and "://" not in target:
                target = str(config.path(target))  # a file, relative to box.toml's folder
            source = CaptureSource(target, box.clock, fps=camera.fps)
        presence.add_camera(CameraWorker(camera.id, source, pipeline, sink, box.clock, health))
    if config.simulate and section.simulated_history_days:
        presence.history = lambda: replay_days(
            replayed, staff, schedule,
            office_days_before(schedule, box.clock().astimezone(schedule.tz).date(),
                               section.simulated_history_days))
    box.store.extra_schema.append(PRESENCE_SCHEMA)
    box.services.append(presence)
    return presence


def wire_live(box: Box) -> LiveVideo | None:
    """Live video and the hub's snapshots from the cameras' own frames; None without cameras."""
    from edge.presence.live import VIDEO_SCHEMA, LiveSettings, LiveVideo

    if box.presence is None:
        return None
    section = box.config.presence
    box.store.extra_schema.append(VIDEO_SCHEMA)
    settings = LiveSettings(fps=section.live_fps, viewers=box.config.live_viewers,
                            width=section.live_width,
                            snapshot_max_bytes=section.snapshot_max_kb * 1024)
    return LiveVideo(box.presence.latest_frame, box.presence.watched_windows, settings,
                     box.clock, box.store)


def pin_factory_for(name: str, host: str | None = None) -> object:
    """The gpiozero pin factory a hardware profile names; ``host`` is a remote board (pigpiod).

    Imported lazily: a box without keys, or with mock pins, needs no GPIO library.
    """
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if host is not None:
        from gpiozero.pins.pigpio import PiGPIOFactory

        return PiGPIOFactory(host=host)
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    raise SetupError(f"unknown pin_factory {name!r} (use mock, lgpio or rpigpio)")


def build_relay(config: BoxConfig, store: Store, board: CaseBoard,
                on_config_applied: Callable[[], None] | None = None,
                on_snapshot: Callable[[dict], dict] | None = None) -> Relay:
    section = config.relay
    identity = load_box_identity(config.path(section.identity))
    hub = load_hub_public(config.path(section.hub_public))
    settings = RelaySettings(batch_size=section.batch_size, window=section.window,
                             quota_bytes=section.outbox_quota_mb * 1024 * 1024)
    store.outbox_quota = settings.quota_bytes  # refused before the write that would pass it

    def quota_alert(fraction: float) -> None:
        findings = [Finding("device:outbox", f"发件队列已用{level}%", "yellow" if level < 90
                            else "red", f"发件队列已用{fraction:.0%}，中心长时间未确认")
                    for level in (70, 90) if fraction >= level / 100]
        if findings:
            store.write(lambda tx: [open_alert(tx, f) for f in findings])

    return Relay(store, identity, hub, section.endpoints, settings,
                 on_config=ConfigApplier(config, store, board, on_config_applied),
                 on_quota=quota_alert, on_snapshot=on_snapshot,
                 on_sequence=sequence_alert(store),
                 identity_path=config.path(section.identity))  # rotation: reload the new keys


def make_server(box: Box):
    """The box's waitress server on ``[web] host`` and ``port``, not yet running.

    One pool of ``[web] threads`` serves people and the platform API; the ingest queue keeps
    the platform to ``ingest_queue`` + 1 of them (docs/box.md, "Platform API").
    """
    from waitress import create_server

    from web.box import create_app

    web = box.config.web
    return create_server(create_app(box), host=web.host, port=web.port, threads=web.threads,
                         ident="hallwatch")


def serve(box: Box, *, ready: Callable[[str], None] = print) -> None:
    """Run the box's web server (waitress) until SIGINT/SIGTERM, then stop cleanly."""
    box.start()
    server = make_server(box)
    url = f"http://{box.config.web.host}:{server.effective_port}"

    def shutdown(signum, _frame):
        log.info("signal %s: shutting down", signum)
        server.close()

    previous = {sig: signal.signal(sig, shutdown) for sig in (signal.SIGINT, signal.SIGTERM)}
    ready(f"hallwatch box {box.config.box_id} serving {url}")
    try:
        server.run()
    except (OSError, ValueError):  # select() on a closed socket after shutdown
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        box.stop()
