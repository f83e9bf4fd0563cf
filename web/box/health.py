"""设备状态: the store on disk, the outbox backlog, the devices and the snapshot quota; intake
problems for technicians."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass

from flask import Blueprint, render_template
from markupsafe import Markup

from edge.presence import StoreUsage
from edge.storehealth import quarantine_rows, store_health
from web.auth import login_required
from web.box import services
from web.box.roles import READERS, TECHNICIANS
from web.charts import meter

bp = Blueprint("health", __name__)


@dataclass(frozen=True)
class SnapshotStorage:
    """The absence alerts' evidence JPEGs against their quota."""

    usage: StoreUsage
    oldest_at: dt.datetime | None
    meter: Markup


@bp.get("/health")
@login_required(roles=READERS + TECHNICIANS)  # the hall's devices: not a department's business
def index():
    box = services.box()
    store = store_health(box.store, box.store_watch)
    disk = shutil.disk_usage(box.store.path.parent)
    sections = [services.relay_section(), services.evaluator_section(),
                services.camera_section(), *services.source_sections(),
                services.reconciliation_section()]
    return render_template(
        "health.html", store=store, disk=disk, sections=[s for s in sections if s], box=box,
        cases=store.cases, open_cases=sum(services.hall().light_counts().values()),
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

