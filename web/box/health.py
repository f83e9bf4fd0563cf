"""设备状态: the store on disk, the outbox backlog, the devices and the snapshot quota; intake
problems for technicians."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from flask import Blueprint, render_template
from markupsafe import Markup

from edge.presence.evidence import StoreUsage
from edge.storehealth import quarantine_rows, store_health
from web.auth import login_required
from web.box import services
from web.box.pages import TECHNICIANS
from web.box.services import DeviceSection
from web.charts import meter
from web.layout import local_time

bp = Blueprint("health", __name__)

MOMENT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class SnapshotStorage:
    """The absence alerts' evidence JPEGs against their quota."""

    usage: StoreUsage
    oldest_at: dt.datetime | None
    meter: Markup


@bp.get("/health")
@login_required
def index():
    box = services.box()
    store = store_health(box.store)
    disk = shutil.disk_usage(box.store.path.parent)
    snapshot = services.hall().snapshot()
    sections = [services.relay_section(), with_last_keys(services.evaluator_section()),
                with_last_frames(services.camera_section())]
    return render_template(
        "health.html", store=store, disk=disk, sections=sections, box=box,
        cases=len(snapshot.cases), open_cases=sum(services.hall().light_counts().values()),
        disk_meter=meter(disk.used, disk.total, label="磁盘使用"),
        snapshots=snapshot_storage(), at=services.now())


@bp.get("/health/quarantine")
@login_required(roles=TECHNICIANS)
def quarantine():
    return render_template("quarantine.html", rows=quarantine_rows(services.box().store))


def snapshot_storage() -> SnapshotStorage | None:
    """The snapshot folder against its quota; None when the box has no cameras."""
    presence = getattr(services.box(), "presence", None)
    if presence is None or not hasattr(presence, "usage"):
        return None
    usage = presence.usage()
    return SnapshotStorage(usage, presence.oldest_snapshot_at(),
                           meter(usage.used_bytes, usage.quota_bytes, label="抓拍图片占用"))


def with_last_keys(section: DeviceSection) -> DeviceSection:
    """The evaluator section plus when each window's keys were last pressed."""
    evaluations = getattr(services.box(), "evaluations", None)
    profile = getattr(evaluations, "profile", None)
    if section.connected and profile is not None:
        pressed = evaluations.ratings.last_key_presses()
        section.lines.append(("最近按键", "；".join(
            f"{w.window_no}号 {local_time(pressed.get(w.window_no), MOMENT)}"
            for w in profile.windows)))
    return section


def with_last_frames(section: DeviceSection) -> DeviceSection:
    """The camera section plus when each camera last delivered a frame."""
    presence = getattr(services.box(), "presence", None)
    if section.connected and hasattr(presence, "cameras"):
        section.lines += [(f"摄像头 {camera.camera_id} 最近画面",
                           local_time(camera.last_frame_at, MOMENT))
                          for camera in presence.cameras()]
    return section
