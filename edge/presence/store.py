"""Presence results into the box store: one camera's ``PresenceSink`` and the tables it fills.

Each call is one ``Store.write``: the row, the alert (edge/supervision/alerts.py) and the outbox
records (``presence``, ``camera_health``) commit together or not at all. Camera threads call
it; the store's single writer puts them in order, so the sink itself holds no lock.

Alert lifecycle (docs/presence.md):

- an absence opens a yellow 离岗 alert, subject ``window:<no>:absence:<absence id>``, with the
  ROI and the whole frame saved as JPEG evidence (edge/presence/evidence.py);
- when it ends (the person returns, the office closes, the video stops) the absence gets its
  end, and the alert gets ``cleared_at`` and a system "clear" entry, but stays for people to
  acknowledge and close: an absence happened even if it is over;
- a camera that stops or freezes opens a red 摄像头异常 alert, ``device:camera:<id>``, that
  the system resolves when frames return (and reopens if they stop again).

Example::

    sink = StorePresenceSink(store, snapshots, "cam-a", depts={1: "440605SCJ"})
    CameraWorker("cam-a", source, CameraPipeline(regions, sink, schedule, detector), sink, clock)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edge.presence.evidence import SnapshotStore
from edge.presence.ports import State
from edge.presence.tracker import OfficeSchedule
from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision.alerts import (
    ACTIVE_STATES,
    SYSTEM,
    Finding,
    alert_row,
    change_alert,
    open_alert,
    raise_condition,
    resolve_condition,
)
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)

ABSENCE_RULE, ABSENCE_LEVEL = "离岗", "yellow"  # a warning for the hall, not a case error
CAMERA_RULE, CAMERA_LEVEL = "摄像头异常", "red"  # like the other device alerts
SNAPSHOT_KINDS = ("roi", "frame")
RECORD_VERSION = 1

PRESENCE_SCHEMA = """
create table if not exists presence_intervals (
    id integer primary key, camera_id text not null, window_no integer not null,
    state text not null check (state in ('present', 'absent')), started_at text not null,
    ended_at text not null, staff_id text, staff_name text);
create index if not exists presence_intervals_window on presence_intervals(window_no, ended_at);
create table if not exists absences (
    id integer primary key, alert_id integer, camera_id text not null, window_no integer not null,
    started_at text not null, taken_at text not null, ended_at text, end_note text,
    staff_id text, staff_name text, snapshot_files text not null default '[]',
    evidence_closed_at text);
create index if not exists absences_alert on absences(alert_id);
create index if not exists absences_window on absences(window_no, started_at);
create table if not exists cameras (
    camera_id text primary key, ok integer not null, detail text not null,
    last_frame_at text, changed_at text not null);
"""


def staff_on_duty(conn, window_no: int, at: dt.datetime) -> tuple[str | None, str | None]:
    """Who the platform last named at this window on the same local day (the arming table)."""
    try:
        row = conn.execute("select staff_id, staff_name, seen_at from window_service"
                           " where window_no = ?", (window_no,)).fetchone()
    except Exception:  # a box without the evaluation tables knows no staff
        return None, None
    if row is None or not row[2] or _local(dt.datetime.fromisoformat(row[2])).date() \
            != _local(at).date():
        return None, None
    return row[0], row[1]


def chinese_detail(detail: str) -> str:
    """The camera library's health detail, for supervisors."""
    for prefix, words in (("receiving", "画面正常"), ("waiting", "等待第一帧画面"),
                          ("frozen", "画面冻结"), ("no frames", "无画面"),
                          ("processing failed", "画面处理失败")):
        if detail.startswith(prefix):
            return words if prefix in ("receiving", "waiting") else f"{words}（{detail}）"
    return detail


class StorePresenceSink:
    """The ``PresenceSink`` of one camera, on the box store; thread-safe through the store."""

    def __init__(self, store: Store, snapshots: SnapshotStore, camera_id: str, *,
                 depts: Mapping[int, str | None], on_change: Callable[[], None] = lambda: None,
                 schedule: OfficeSchedule | None = None):
        self.store, self.snapshots, self.camera_id = store, snapshots, camera_id
        self.depts = dict(depts)
        self._on_change = on_change
        self.schedule = schedule  # the hall's office hours: an absence counts only in them

    def office_periods(self, started_at: dt.datetime) -> list[list[str]] | None:
        """The office periods of the absence's day, as [start, end] UTC times, sent with it so
        the hub counts its minutes as the box does (lunch and after hours do not count)."""
        if self.schedule is None:
            return None
        day = _local(started_at).date()
        start = dt.datetime.combine(day, dt.time(0), LOCAL_TZ)
        return [[iso(lower), iso(upper)] for lower, upper, _day
                in self.schedule.segments(start, start + dt.timedelta(days=1))]

    def office_minutes(self, started_at: dt.datetime, ended_at: dt.datetime) -> float:
        """Minutes of ``[started_at, ended_at)`` in office hours (all of it without a schedule)."""
        if self.schedule is None:
            return (ended_at - started_at).total_seconds() / 60
        return sum((upper - lower).total_seconds()
                   for lower, upper, _day in self.schedule.segments(started_at, ended_at)) / 60

    @property
    def label(self) -> str:
        """The camera as people know it: by the windows it watches (1、2号窗口摄像头)."""
        windows = "、".join(str(n) for n in sorted(self.depts))
        return f"{windows}号窗口摄像头" if windows else f"摄像头{self.camera_id}"

    def _write(self, fn: Callable[[Tx], Any]) -> Any:
        try:
            return self.store.write(fn)
        finally:
            self._on_change()

    def interval(self, window_no: int, state: State, started_at: dt.datetime,
                 ended_at: dt.datetime) -> None:
        def write(tx: Tx) -> None:
            staff_id, staff_name = staff_on_duty(tx.conn, window_no, ended_at)
            row = {"camera_id": self.camera_id, "window_no": window_no, "state": state,
                   "started_at": iso(started_at), "ended_at": iso(ended_at),
                   "staff_id": staff_id, "staff_name": staff_name}
            cursor = tx.conn.execute(
                f"insert into presence_intervals ({', '.join(row)})"
                f" values ({', '.join('?' * len(row))})", tuple(row.values()))
            tx.emit("presence", {"version": RECORD_VERSION, "type": "interval",
                                 "id": cursor.lastrowid, **row,
                                 "seconds": (ended_at - started_at).total_seconds()})

        self._write(write)

    def absence_alert(self, window_no: int, started_at: dt.datetime, roi_jpeg: bytes,
                      frame_jpeg: bytes, taken_at: dt.datetime) -> str:
        saved: list[Path] = []

        def write(tx: Tx) -> int:
            staff_id, staff_name = staff_on_duty(tx.conn, window_no, taken_at)
            absence_id = tx.conn.execute(
                "insert into absences (camera_id, window_no, started_at, taken_at, staff_id,"
                " staff_name) values (?, ?, ?, ?, ?, ?)",
                (self.camera_id, window_no, iso(started_at), iso(taken_at), staff_id,
                 staff_name)).lastrowid
            who = f"工作人员{staff_name}（{staff_id}）" if staff_name else "工作人员"
            detail = (f"{window_no}号窗口{who}自{_local(started_at):%H:%M}起离开岗位，"
                      f"至{_local(taken_at):%H:%M}仍未返回，办公时间内离岗超过规定时限，"
                      f"请核实（{self.label}已抓拍留证）")
            alert_id = open_alert(tx, Finding(f"window:{window_no}:absence:{absence_id}",
                                              ABSENCE_RULE, ABSENCE_LEVEL, detail,
                                              dept_code=self.depts.get(window_no)), taken_at)
            if alert_id is None:  # the subject names a new absence, so this is a bug
                raise RuntimeError(f"absence {absence_id}: its alert already exists")
            saved.extend(self.snapshots.save(str(alert_id), taken_at, roi_jpeg, frame_jpeg))
            names = [path.name for path in saved]
            tx.conn.execute("update absences set alert_id = ?, snapshot_files = ? where id = ?",
                            (alert_id, json.dumps(names), absence_id))
            tx.emit("presence", {
                "version": RECORD_VERSION, "type": "absence_started", "absence_id": absence_id,
                "alert_id": alert_id, "camera_id": self.camera_id, "window_no": window_no,
                "started_at": iso(started_at), "taken_at": iso(taken_at), "staff_id": staff_id,
                "staff_name": staff_name, "snapshot_files": names,
                "office_periods": self.office_periods(started_at)})
            return alert_id

        try:
            return str(self._write(write))
        except BaseException:
            # Rolled back: the alert id may be used again, so its files must not stay.
            for path in saved:
                path.unlink(missing_ok=True)
            raise

    def absence_ended(self, window_no: int, alert_id: str, ended_at: dt.datetime) -> None:
        def write(tx: Tx) -> None:
            found = tx.conn.execute("select id, started_at from absences where alert_id = ?",
                                    (int(alert_id),)).fetchone()
            if found is None:
                log.warning("absence of alert %s not found", alert_id)
                return
            absence_id, started = found
            minutes = self.office_minutes(dt.datetime.fromisoformat(started), ended_at)
            note = (f"{_local(ended_at):%H:%M:%S}离岗情形结束，办公时间内共约"
                    f"{max(1, round(minutes))}分钟")
            tx.conn.execute("update absences set ended_at = ?, end_note = ? where id = ?",
                            (iso(ended_at), note, absence_id))
            alert = alert_row(tx.conn, int(alert_id))
            if alert and alert["state"] in ACTIVE_STATES and alert["cleared_at"] is None:
                change_alert(tx, alert, at=iso(ended_at), actor=SYSTEM, action="clear",
                             note=note, cleared_at=iso(ended_at))
            tx.emit("presence", {
                "version": RECORD_VERSION, "type": "absence_ended", "absence_id": absence_id,
                "alert_id": int(alert_id), "camera_id": self.camera_id, "window_no": window_no,
                "ended_at": iso(ended_at)})

        self._write(write)

    def camera_health(self, camera_id: str, ok: bool, detail: str,
                      last_frame_at: dt.datetime | None) -> None:
        def write(tx: Tx) -> None:
            last = iso(last_frame_at) if last_frame_at else None
            tx.conn.execute(
                "insert into cameras (camera_id, ok, detail, last_frame_at, changed_at)"
                " values (?, ?, ?, ?, ?) on conflict(camera_id) do update set ok = excluded.ok,"
                " detail = excluded.detail, last_frame_at = excluded.last_frame_at,"
                " changed_at = excluded.changed_at", (camera_id, int(ok), detail, last,
                                                      iso(tx.now)))
            subject = f"device:camera:{camera_id}"
            if ok:
                resolve_condition(tx, subject, CAMERA_RULE, tx.now, f"{self.label}画面已恢复")
            else:
                raise_condition(tx, Finding(subject, CAMERA_RULE, CAMERA_LEVEL,
                                            f"{self.label}{chinese_detail(detail)}，"
                                            "相关窗口暂无法监测离岗"), tx.now)
            tx.emit("camera_health", {"version": RECORD_VERSION, "camera_id": camera_id,
                                      "ok": ok, "detail": detail, "last_frame_at": last})

        self._write(write)


def _local(at: dt.datetime) -> dt.datetime:
    return at.astimezone(LOCAL_TZ)
