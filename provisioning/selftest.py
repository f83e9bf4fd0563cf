"""``hallwatch provision selftest``: walk the technician through the hall, then report.

In order: every evaluator key ("请按下 3 号窗口的 5 键", ``keytest.py``), every camera (frames
per second, a snapshot, a person in each region, ``camtest.py``), the clock, the working-day
calendar, the disk (``checks.py``) and the hub (a CURVE handshake and hello/pong with the
box's own keys, 5 s at most). The report is printed, saved as JSON, and put in the outbox as
a ``selftest`` record when the box database exists, so it reaches the hub.

The self-test needs the pins and cameras to itself: it refuses to run while the box service
holds the database (stop it first: ``systemctl stop hallwatch-box``).

Report format::

    {"version": 1, "kind": "selftest", "box_id", "started_at", "finished_at", "ok": bool,
     "counts": {"ok", "warn", "fail", "skip"},
     "checks": [{"name", "status", "title", "detail", "data": {...}}]}

Example::

    parts = selftest_parts(config, script=Path("presses.json"))   # mock pins, scripted
    outcome = perform_selftest(config, parts, SelftestOptions(), say=print)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils
import zmq

from edge.config import BoxConfig
from edge.presence.detector import HaarPersonDetector, PersonDetector
from edge.presence.sources import CaptureSource, FrameSource
from edge.profile import CameraProfile, HardwareProfile, load_profile
from edge.store import CLOCK_SLACK, EARLIEST_YEAR
from edge.storeschema import get_meta, set_meta
from edge.storetx import ChainHead, Tx, iso, utc_now
from provisioning.camtest import CameraTest
from provisioning.checks import Check, check_calendar, check_clock, check_disk, last_record_time
from provisioning.keytest import KeyWalk, ScriptedPresser, load_script
from standard import identity, wire
from standard.calendar import WorkCalendar, load_overrides
from standard.configfile import ConfigError
from standard.envelope import GENESIS
from standard.files import private_dir, write_private
from standard.records import LOCAL_TZ

REPORT_VERSION = 1
MEASURE_FPS = 30.0  # read cameras up to this rate: the measured rate is the camera's own
Presser = Callable[[int, int], None]


class SelftestError(Exception):
    """The self-test cannot run with this box."""


class BoxRunning(SelftestError):
    """The box service has its database open (and so the pins and cameras)."""


@dataclasses.dataclass
class SelftestParts:
    """What the composition root (``selftest_parts``) chose: real or mock pins and cameras."""

    profile: HardwareProfile | None
    make_factories: Callable[[], dict[str, object]]
    make_presser: Callable[[dict[str, object]], Presser | None]
    open_source: Callable[[CameraProfile], FrameSource]
    make_detector: Callable[[], PersonDetector]
    clock: Callable[[], dt.datetime] = utc_now


@dataclasses.dataclass(frozen=True)
class SelftestOptions:
    key_timeout: float = 30.0
    camera_seconds: float = 3.0
    hub_timeout: float = 5.0
    skip: frozenset[str] = frozenset()  # of "keys", "cameras", "hub"


@dataclasses.dataclass(frozen=True)
class Outcome:
    report: dict
    report_path: Path
    queued_seq: int | None  # the outbox seq of the selftest record, if queued

    @property
    def ok(self) -> bool:
        return self.report["ok"]


# --- the composition root: the only place that picks real or mock ------------------------


def selftest_parts(config: BoxConfig, script: Path | None = None,
                   clock: Callable[[], dt.datetime] = utc_now) -> SelftestParts:
    """Real pins (the profile's pin_factory) and cameras; with ``script``, mock pins that the
    script presses. Nothing is opened here."""
    profile = load_profile(config.path(config.profile)) if config.profile else None
    boards = sorted({w.board for w in profile.windows}) if profile else []
    if script is not None:
        from gpiozero.pins.mock import MockFactory

        steps = load_script(script)

        def make_factories() -> dict[str, object]:
            return {board: MockFactory() for board in boards}

        def make_presser(factories: dict[str, object]) -> Presser:
            return ScriptedPresser(steps, profile, factories).press
    else:
        from edge.app import pin_factory_for

        def make_factories() -> dict[str, object]:
            return {board: pin_factory_for(profile.pin_factory, profile.board_host(board))
                    for board in boards}

        def make_presser(factories: dict[str, object]) -> Presser | None:
            return None  # the technician's finger

    def open_source(camera: CameraProfile) -> FrameSource:
        source = camera.source
        if isinstance(source, str) and "://" not in source:
            source = str(config.path(source))  # a clip named relative to box.toml
        return CaptureSource(source, clock, fps=MEASURE_FPS)

    return SelftestParts(profile, make_factories, make_presser, open_source, HaarPersonDetector,
                         clock)


# --- the hub -----------------------------------------------------------------------------


def _box_meta(db_path: Path) -> dict[str, str]:
    if not db_path.exists():
        return {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return dict(conn.execute("select key, value from meta").fetchall())
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()


def probe_hub(config: BoxConfig, timeout: float = 5.0) -> Check:
    """A CURVE handshake and hello/pong with the box's own keys; ok when the hub answers."""
    title = "市中心 (hub)"
    if config.relay is None:
        return Check("hub", "fail", title, "box.toml 没有 [relay]：箱体尚未开通 (not enrolled)")
    try:
        box = identity.load_box_identity(config.path(config.relay.identity))
        hub = identity.load_hub_public(config.path(config.relay.hub_public))
    except identity.IdentityError as exc:
        return Check("hub", "fail", title, f"密钥不可用 (keys unusable): {exc}")
    meta = _box_meta(config.db_path)
    last_seq, acked = int(meta.get("chain_seq", 0)), int(meta.get("relay_acked_seq", 0))
    hello = {"box_id": box.box_id, "last_seq": last_seq, "acked_seq": acked,
             "backlog": max(last_seq - acked, 0),
             "configs": json.loads(meta.get("config_versions", "{}"))}
    endpoint = config.relay.endpoints[0]  # the first the relay tries
    data = {"endpoint": endpoint, "hub_fingerprint": hub.fingerprint}
    context = zmq.Context()
    try:
        sock = context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_secretkey, sock.curve_publickey = box.curve_secret, box.curve_public
        sock.curve_serverkey = hub.curve_public
        sock.connect(endpoint)
        started = time.monotonic()
        sock.send_multipart(wire.encode(wire.HELLO, hello))
        while (left := started + timeout - time.monotonic()) > 0 and sock.poll(left * 1000):
            frames = sock.recv_multipart()
            if frames[0] == wire.PONG:
                body = wire.decode_json(frames[1:], wire.PONG)
                data |= {"round_trip_ms": round((time.monotonic() - started) * 1000),
                         "hub_acked_seq": body.get("acked_seq")}
                return Check("hub", "ok", title, f"{endpoint} 已应答，中心已确认"
                             f"到第 {body.get('acked_seq')} 条记录 (the hub answered)", data)
            if frames[0] == wire.NACK:
                reason = wire.decode_json(frames[1:], wire.NACK).get("reason")
                return Check("hub", "fail", title, f"中心拒绝本箱体 (the hub refused): {reason}",
                             data)
    finally:
        context.destroy(linger=0)
    return Check("hub", "fail", title, f"{timeout:g} 秒内无应答：网络不通、地址有误，或本箱体的"
                 f"密钥未开通或已吊销 (no answer from {endpoint})", data)


# --- the box database ----------------------------------------------------------------------


def _exclusive(db_path: Path) -> sqlite3.Connection:
    """A connection holding the database alone; BoxRunning if the box service has it open."""
    conn = sqlite3.connect(db_path, timeout=1, isolation_level=None)
    try:
        conn.execute("pragma locking_mode=exclusive")
        conn.execute("begin exclusive")
    except sqlite3.OperationalError:
        conn.close()
        raise BoxRunning(f"{db_path} is in use: the box service is running. Stop it first "
                         "(systemctl stop hallwatch-box): the self-test needs the keys' pins "
                         "and the cameras to itself") from None
    return conn


def check_box_stopped(db_path: Path) -> None:
    """Raise BoxRunning when the box service holds its database."""
    if db_path.exists():
        conn = _exclusive(db_path)
        conn.execute("rollback")
        conn.close()


def queue_report(db_path: Path, report: dict, now: dt.datetime) -> int:
    """Emit the report as a ``selftest`` outbox record (next seq, hash chain), as the box's
    store would; the exclusive lock keeps a starting box from forking the chain."""
    conn = _exclusive(db_path)
    try:
        last_text = get_meta(conn, "last_stamp")
        last = dt.datetime.fromisoformat(last_text) if last_text else None
        wrong = now.year < EARLIEST_YEAR or (last is not None and now < last - CLOCK_SLACK)
        stamp = last if wrong and last is not None else now  # never before the last record
        digest = get_meta(conn, "chain_hash")
        head = ChainHead(int(get_meta(conn, "chain_seq", "0")),
                         bytes.fromhex(digest) if digest else GENESIS)
        tx = Tx(sqlite_utils.Database(conn), head, stamp)
        seq = tx.emit("selftest", report)
        tx.flush()
        if not wrong and (last is None or now > last):
            set_meta(conn, "last_stamp", iso(now))
        conn.execute("commit")
        return seq
    except BaseException:
        if conn.in_transaction:
            conn.execute("rollback")
        raise
    finally:
        conn.close()


# --- running it ----------------------------------------------------------------------------


def _key_checks(parts: SelftestParts, options: SelftestOptions, say) -> list[Check]:
    if parts.profile is None:
        return [Check("key", "skip", "评价器按键 (keys)", "box.toml 没有 profile (no hardware "
                      "profile: provision box --profile FILE)")]
    try:
        factories = parts.make_factories()
    except Exception as exc:  # no GPIO library, no chip, pins busy: the technician must know
        return [Check("key", "fail", "评价器按键 (keys)", f"无法打开引脚驱动 "
                      f"{parts.profile.pin_factory} (cannot open the pins): {exc}")]
    try:
        walk = KeyWalk(parts.profile, factories, say=say, timeout=options.key_timeout,
                       presser=parts.make_presser(factories))
        return walk.run()
    finally:
        for factory in factories.values():
            factory.close()


def _calendar(config: BoxConfig, today: dt.date) -> Check:
    try:
        path = config.calendar_overrides
        return check_calendar(today, WorkCalendar(load_overrides(config.path(path))
                                                  if path else None))
    except ConfigError as exc:
        return Check("calendar", "fail", "工作日历 (working-day calendar)", str(exc))


def run_selftest(config: BoxConfig, parts: SelftestParts, options: SelftestOptions,
                 say: Callable[[str], None], snapshot_stem: Path | None = None) -> dict:
    """Every check in turn; returns the report (nothing is saved or queued here)."""
    started = parts.clock()
    checks: list[Check] = []
    if "keys" not in options.skip:
        say("== 评价器按键 (evaluator keys) ==")
        checks += _key_checks(parts, options, say)
    if "cameras" not in options.skip and parts.profile is not None:
        say("== 摄像头 (cameras) ==")
        checks += CameraTest(parts.open_source, parts.make_detector,
                             seconds=options.camera_seconds, snapshot_stem=snapshot_stem,
                             say=say).run(parts.profile.cameras)
    say("== 时钟、日历、磁盘、市中心 (clock, calendar, disk, hub) ==")
    now = parts.clock()
    small = [check_clock(now, last_record_time(config.db_path)),
             _calendar(config, now.astimezone(LOCAL_TZ).date()),
             check_disk(config.path(config.data_dir))]
    if "hub" not in options.skip:
        small.append(probe_hub(config, options.hub_timeout))
    for check in small:
        mark = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}[check.status]
        say(f"{mark} {check.title}: {check.detail}")
    checks += small
    counts = {status: sum(c.status == status for c in checks)
              for status in ("ok", "warn", "fail", "skip")}
    return {"version": REPORT_VERSION, "kind": "selftest", "box_id": config.box_id,
            "started_at": iso(started), "finished_at": iso(parts.clock()),
            "ok": counts["fail"] == 0, "counts": counts,
            "checks": [dataclasses.asdict(check) for check in checks]}


def default_report_path(config: BoxConfig, now: dt.datetime) -> Path:
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return config.path(config.data_dir) / "selftest" / f"selftest-{stamp}.json"


def perform_selftest(config: BoxConfig, parts: SelftestParts, options: SelftestOptions, *,
                     say: Callable[[str], None], report_path: Path | None = None) -> Outcome:
    """Check the box is stopped, run, save the report (JSON) and queue it for the hub."""
    check_box_stopped(config.db_path)
    path = Path(report_path or default_report_path(config, parts.clock()))
    private_dir(path.parent)
    report = run_selftest(config, parts, options, say, snapshot_stem=path.with_suffix(""))
    write_private(path, (json.dumps(report, ensure_ascii=False, indent=1) + "\n").encode())
    seq = queue_report(config.db_path, report, parts.clock()) if config.db_path.exists() \
        else None
    return Outcome(report, path, seq)
