"""How the box's pages reach the box's services, including the optional ones.

Optional services appear on the ``Box`` as their modules are wired into the composition root:
``box.supervision`` (alert lifecycle), ``box.evaluations`` (evaluator keys and ratings),
``box.presence`` (cameras), ``box.relay`` (link to the hub), the hardware profile
(``box.evaluations.profile``). Each accessor here returns None when its service is absent,
and the page shows “未接入” for that section; a page never fails because one is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from standard.records import LOCAL_TZ
from web.layout import local_time

if TYPE_CHECKING:
    from edge.app import Box
    from edge.board import HallBoard

log = logging.getLogger(__name__)
MOMENT = "%Y-%m-%d %H:%M:%S"  # device times on the health page


def box() -> Box:
    return current_app.extensions["box"]


def hall() -> HallBoard:
    return box().hall


def now() -> dt.datetime:
    return box().clock()


def today() -> dt.date:
    return now().astimezone(LOCAL_TZ).date()


def supervision() -> Any | None:
    """The alert lifecycle service (edge/supervision/alerts.py), when the box has one."""
    return getattr(box(), "supervision", None)


def configured_windows() -> list[int]:
    """Window numbers from the hardware profile; empty when the box has no profile."""
    profile = getattr(_evaluations(), "profile", None) or getattr(box(), "profile", None)
    return sorted(w.window_no for w in getattr(profile, "windows", None) or [])


def _evaluations() -> Any | None:
    """The evaluations wiring (``box.evaluations``: ratings, follow-ups, evaluator keys)."""
    return getattr(box(), "evaluations", None)


def window_ratings() -> dict[int, dict[str, Any]] | None:
    """Today's rating counts per window ({"counted", "satisfaction", "bad"}), or None."""
    if _evaluations() is None:
        return None
    try:
        from edge.evaluations import rating_report

        report = rating_report(box().store, since=today(), today=today())
    except Exception:  # a broken optional section must not break the board
        log.exception("ratings for the board failed")
        return None
    return {entry["key"]: entry for entry in report.get("windows", [])
            if isinstance(entry.get("key"), int)}


def window_service() -> dict[int, dict[str, Any]] | None:
    """The case each window is serving and its staff, as the ratings service armed it."""
    service = getattr(_evaluations(), "ratings", None)
    if service is None or not hasattr(service, "window_service"):
        return None
    try:
        return {row["window_no"]: row for row in service.window_service()}
    except Exception:
        log.exception("window service for the board failed")
        return None


def presence_now() -> dict[int, str] | None:
    """Window → "present" | "absent" | "unknown" from the cameras, or None."""
    presence = getattr(box(), "presence", None)
    if presence is None or not hasattr(presence, "states"):
        return None
    try:
        return {window: (state or "unknown") for window, (state, _since)
                in presence.states().items()}
    except Exception:
        log.exception("presence for the board failed")
        return None


PIN_FACTORY_NAMES = {"mock": "模拟按键（演示、测试用，未接真实评价器）",
                     "lgpio": "树莓派 GPIO 接口", "rpigpio": "树莓派 GPIO 接口（旧版驱动）"}


@dataclass
class DeviceSection:
    """One block of the device health page: a title, a state and lines of detail."""

    title: str
    connected: bool  # False: the service is not part of this box (未接入)
    ok: bool | None = None
    lines: list[tuple[str, str]] = field(default_factory=list)


def relay_section() -> DeviceSection:
    relay = getattr(box(), "relay", None)
    if relay is None:
        return DeviceSection("上报中心（中继）", False, lines=[("说明", "本机未配置中心连接")])
    state = relay.state
    refusing = relay.full()
    lines = [("连接状态", "已连接" if state.hub_connected else "未连接"),
             ("中心已确认序号", str(state.acked_seq)),
             ("最近确认时间", local_time(state.last_ack_at, MOMENT)),
             ("重连次数", str(state.reconnects))]
    if refusing:
        lines.append(("拒收原因", refusing))
    return DeviceSection("上报中心（中继）", True, state.hub_connected and not refusing, lines)


def evaluator_section() -> DeviceSection:
    evaluations = _evaluations()
    if evaluations is None:
        return DeviceSection("评价器", False)
    profile = getattr(evaluations, "profile", None)
    if profile is None:
        return DeviceSection("评价器", True, None, [
            ("硬件档案", "未配置（本机只接收扫码、网上等渠道的评价）")])
    kinds = {"five": "五键", "three": "三键"}
    lines = [("硬件档案", f"{len(profile.windows)} 个窗口，"
                          f"{PIN_FACTORY_NAMES.get(profile.pin_factory, profile.pin_factory)}"),
             ("按键评价器", "已启用" if getattr(evaluations, "keys", None) else "未启用")]
    lines += [(f"{w.window_no}号窗口", f"{kinds.get(w.evaluator, w.evaluator)}评价器")
              for w in profile.windows]
    pressed = evaluations.ratings.last_key_presses()
    lines.append(("最近按键", "；".join(
        f"{w.window_no}号 {local_time(pressed.get(w.window_no), MOMENT)}"
        for w in profile.windows)))
    if getattr(evaluations, "simulator", None) is not None:
        lines.append(("模拟评价", "已开启（演示用）"))
    return DeviceSection("评价器", True, getattr(evaluations, "keys", None) is not None, lines)


def camera_section() -> DeviceSection:
    presence = getattr(box(), "presence", None)
    if presence is None:
        return DeviceSection("摄像头（离岗监测）", False)
    try:
        health = presence.health()
    except Exception:
        log.exception("camera health for the health page failed")
        return DeviceSection("摄像头（离岗监测）", True, False, [("状态", "读取摄像头状态失败")])
    lines = [("状态", health.detail)]
    for camera in getattr(health, "cameras", []):
        windows = "、".join(f"{n}号" for n in camera.windows) or "—"
        lines.append((f"摄像头 {camera.camera_id}",
                      f"{'正常' if camera.ok else camera.detail}；窗口 {windows}；"
                      f"已处理 {camera.frames} 帧"))
        lines.append((f"摄像头 {camera.camera_id} 最近画面",
                      local_time(camera.last_frame_at, MOMENT)))
    return DeviceSection("摄像头（离岗监测）", True, health.ok, lines)


SOURCE_KINDS = {"database": "中间库", "folder": "文件夹"}


def source_sections() -> list[DeviceSection]:
    """One section per platform source ([[sources]]): last row, lag, counts, errors."""
    integration = getattr(box(), "integration", None)
    if integration is None or not integration.workers:
        return []
    from edge.integration import recent_files, source_states

    try:
        states = {s.name: s for s in source_states(box().store)}
    except Exception:
        log.exception("source states for the health page failed")
        states = {}
    sections = []
    for name, where in integration.described().items():
        worker = integration.worker(name)
        title = f"平台数据源 {name}（{SOURCE_KINDS.get(worker.source.kind, worker.source.kind)}）"
        state = states.get(name)
        lines = [("位置", where)]
        if state is None:
            sections.append(DeviceSection(title, True, None, lines + [("状态", "尚未读取")]))
            continue
        lag = state.lag_seconds(now())
        lines += [("最近读取", local_time(state.last_poll_at, MOMENT)),
                  ("数据延迟", "—" if lag is None else _duration(lag)
                   + ("（追赶中）" if state.behind else "")),
                  ("已读取", f"{state.rows_read} 行：接收 {state.accepted}，重复 {state.duplicates}，"
                          f"拒收 {state.rejected}")]
        if worker.source.kind == "database":
            lines.append(("最后一行（水位）", state.watermark or "—"))
        else:
            lines.append(("文件", f"完成 {state.files_done} 个，失败 {state.files_failed} 个"))
            lines += [(f"文件 {f['name']}", f"{'完成' if f['status'] == 'done' else '失败'}，"
                       f"接收 {f['accepted']}，拒收 {f['rejected']}")
                      for f in recent_files(box().store, name, 3)]
        lines.append(("最新记录时间", local_time(state.newest_at, MOMENT)))
        if state.failures:
            lines.append(("连续失败", f"{state.failures} 次，最近：{state.last_error}"))
        sections.append(DeviceSection(title, True, state.failures == 0, lines))
    return sections


def reconciliation_section() -> DeviceSection | None:
    """每日对账: the latest reconciliations (中间库 or the platform's endpoint), the items that
    differ and their counts; None while the box has neither a reconciler nor any result."""
    from edge.integration import latest_reconciliations, summary_text

    integration = getattr(box(), "integration", None)
    try:
        results = latest_reconciliations(box().store, 5)
    except Exception:
        log.exception("reconciliations for the health page failed")
        return None
    if not results and getattr(integration, "reconciler", None) is None:
        return None
    title = "每日对账（数据报送）"
    if not results:
        return DeviceSection(title, True, None, [("状态", "尚未对账（每日对账前一日的记录数）")])
    newest: dict[str, bool] = {}
    for result in results:  # newest day first: each origin's latest decides the badge
        newest.setdefault(result.origin, result.matched)
    lines = [(f"{result.day.isoformat()} {result.origin}", summary_text(result))
             for result in results]
    return DeviceSection(title, True, all(newest.values()), lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def office_closed() -> str | None:
    """The hall's office hours (``08:30–12:00、14:00–17:30``) while it is closed now (lunch,
    evenings, days off: the cameras' schedule), None while it is open or without cameras."""
    schedule = getattr(getattr(box(), "presence", None), "schedule", None)
    if schedule is None or schedule.is_office_time(now()):
        return None
    return office_hours_text(schedule)


def office_hours_text(schedule: Any) -> str:
    return "、".join(f"{start:%H:%M}–{end:%H:%M}" for start, end in schedule.periods)


def absence_minutes() -> dict[int, float] | None:
    """Today's minutes away from post per window (office hours only), or None."""
    presence = getattr(box(), "presence", None)
    if presence is None or not hasattr(presence, "absence_minutes"):
        return None
    try:
        return presence.absence_minutes()
    except Exception:
        log.exception("absence minutes for the board failed")
        return None
