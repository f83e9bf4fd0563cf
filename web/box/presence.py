"""离岗监测: each window's presence on a day as a timeline, the day's absence alerts with their
snapshots, and the snapshot JPEGs themselves (personal data: signed-in readers only).

Everything comes from ``box.presence`` (edge/presence/service.py); a box without cameras shows
未接入. ``absence_snapshots(alert)``, a template global, lets the alert detail page show an
absence alert's snapshots too.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file

from edge.presence import PresenceService
from standard.records import LOCAL_TZ
from web.auth import login_required
from web.box import services
from web.box.roles import READERS
from web.timeline import timeline

bp = Blueprint("presence", __name__)

KINDS = {"roi": "窗口特写", "frame": "全景"}  # snapshot kind -> its caption
LIMIT = 200  # absences listed for one day


class BadQuery(ValueError):
    """A query parameter the page cannot use; the message says which and how to fix it."""


@bp.get("/presence")
@login_required(roles=READERS)
def index():
    try:
        day = parse_day(request.args.get("day", ""))
        window_no = parse_window(request.args.get("window", ""))
    except BadQuery as exc:
        return render_template("error.html", code=400, title="请求无效", message=str(exc)), 400
    presence = _presence()
    whole_day = request.args.get("whole") == "1"
    shown = day_view(presence, day, window_no, whole_day) if presence is not None else {}
    return render_template("presence.html", connected=presence is not None, day=day,
                           nearby=nearby_days(day), window_no=window_no, kinds=KINDS, **shown)


@bp.get("/presence/snapshots/<alert_id>/<filename>")
@login_required(roles=READERS)
def snapshot(alert_id: str, filename: str):
    """An absence alert's evidence: ``roi.jpg`` or ``frame.jpg``; 404 for anything else."""
    kind, _dot, extension = filename.rpartition(".")
    presence = _presence()
    path = presence.snapshot_path(alert_id, kind) if presence and extension == "jpg" else None
    if path is None:
        abort(404)
    return send_file(path, mimetype="image/jpeg")


@bp.app_template_global()
def absence_snapshots(alert: Any) -> list[tuple[str, str]] | None:
    """An absence alert's stored snapshots as (kind, caption); None for any other alert."""
    presence = _presence()
    if presence is None or ":absence:" not in (alert.subject or ""):
        return None
    return [(kind, caption) for kind, caption in KINDS.items()
            if presence.snapshot_path(alert.id, kind) is not None]


def parse_day(text: str) -> dt.date:
    """``YYYY-MM-DD``, or today (the hall's date) when empty."""
    if not text:
        return services.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"日期“{text}”无效，请按 年-月-日 填写，例如 2026-11-02。") from None


def nearby_days(day: dt.date) -> list[tuple[str, dt.date]]:
    """The day picker's shortcuts: the day before, today and the day after (not past today)."""
    today = services.today()
    found = [("前一天", day - dt.timedelta(days=1)), ("今天", today),
             ("后一天", day + dt.timedelta(days=1))]
    return [(label, other) for label, other in found if other <= today and other != day]


def parse_window(text: str) -> int | None:
    """A window number, or None (every window) when empty."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise BadQuery(f"窗口号“{text}”无效，请填写数字，例如 3。")
    return int(text)


def day_view(presence: PresenceService, day: dt.date, window_no: int | None,
             whole_day: bool = False) -> dict[str, Any]:
    """What the page shows for ``day``: the timeline, minutes away and the absences."""
    spans = presence.timeline(day)
    start, end, breaks = axis(presence, day)
    focused = day == services.today() and end - start > FOCUS_OVER and not whole_day
    if focused:
        # A schedule as long as the day would make a few minutes away a hairline: show the
        # hours up to now, where what is going on is (查看全天 shows the whole day).
        start, end = recent_hours(services.now(), start, end)
    chart = timeline([(f"{no}号窗口", found) for no, found in spans.items()], start, end,
                     breaks=breaks, title=f"{day.isoformat()} 各窗口在岗时间轴")
    now = services.now()
    absences = [(found, duration_text((found.ended_at or now) - found.started_at))
                for found in presence.absences(day, window_no, limit=LIMIT)]
    closed = services.office_closed() if day == services.today() else None
    return {"chart": chart, "windows": sorted(spans), "minutes": presence.absence_minutes(day),
            "focused": focused,
            "absences": absences, "limit": LIMIT,
            "workday": presence.schedule.is_workday(day),
            "closed_now": closed, "last_workday": closed and last_workday(presence, day)}


def last_workday(presence: PresenceService, day: dt.date) -> dt.date | None:
    """The working day before ``day`` (within three weeks), for a hall closed now."""
    for back in range(1, 22):
        if presence.schedule.is_workday(earlier := day - dt.timedelta(days=back)):
            return earlier
    return None


def axis(presence: PresenceService, day: dt.date
         ) -> tuple[dt.datetime, dt.datetime, list[tuple[dt.datetime, dt.datetime]]]:
    """The timeline's whole hours around the box's office periods (never empty) on ``day``,
    and the breaks between periods (lunch)."""
    periods = presence.schedule.periods
    midnight = dt.datetime.combine(day, dt.time(0), LOCAL_TZ)
    closes = periods[-1][1]
    last = closes.hour + (closes != closes.replace(minute=0, second=0, microsecond=0))
    breaks = [(dt.datetime.combine(day, closed, LOCAL_TZ),
               dt.datetime.combine(day, opened, LOCAL_TZ))
              for (_open, closed), (opened, _close) in itertools.pairwise(periods)]
    return (midnight + dt.timedelta(hours=periods[0][0].hour),
            midnight + dt.timedelta(hours=last), breaks)


FOCUS_OVER = dt.timedelta(hours=12)  # longer office days are shown around now, today
FOCUS_BEFORE, FOCUS_AFTER = dt.timedelta(hours=3), dt.timedelta(minutes=30)


def recent_hours(now: dt.datetime, start: dt.datetime, end: dt.datetime
                 ) -> tuple[dt.datetime, dt.datetime]:
    """Whole hours from three hours before ``now`` to just after it, inside ``start``–``end``.

    >>> at = dt.datetime(2026, 11, 2, 15, 10, tzinfo=LOCAL_TZ)
    >>> day = dt.datetime(2026, 11, 2, tzinfo=LOCAL_TZ)
    >>> [t.strftime("%H:%M") for t in recent_hours(at, day, day + dt.timedelta(hours=24))]
    ['12:00', '16:00']
    """
    now = now.astimezone(start.tzinfo)
    first = (now - FOCUS_BEFORE).replace(minute=0, second=0, microsecond=0)
    last = (now + FOCUS_AFTER + dt.timedelta(minutes=59)).replace(minute=0, second=0,
                                                                   microsecond=0)
    return max(start, first), min(end, max(last, first + dt.timedelta(hours=1)))


def duration_text(length: dt.timedelta) -> str:
    """``1 小时 5 分钟``, ``12 分钟`` or ``不足 1 分钟``."""
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        return "不足 1 分钟"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"


def _presence() -> PresenceService | None:
    return getattr(services.box(), "presence", None)

