"""The halls' windows and devices, per district: today's absences, cameras, self-tests, refusals.

Windows, cameras and boxes belong to a district, not to a department: a department user's
scope holds none of them (``Scope.sql(dept_col=None)`` is false for it).

Example::

    for hall in hall_views(data, Scope.district("440605")):
        hall.absences, hall.absence_minutes, hall.cameras_down, hall.selftests
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from hub.services import HubData, Scope

# The camera library's health details (edge/presence), as supervisors read them.
CAMERA_DETAILS = {"no frames": "无画面", "frozen": "画面冻结", "processing failed": "画面处理失败",
                  "waiting": "等待第一帧画面"}


@dataclass
class WindowAbsences:
    """One window's absences (离岗 alerts) today and their minutes, an ongoing one until now."""

    box_id: str
    window_no: int
    alerts: int = 0
    minutes: float = 0.0
    ongoing: bool = False


@dataclass
class HallView:
    code: str
    name: str
    windows: list[WindowAbsences] = field(default_factory=list)
    cameras_down: list[dict[str, Any]] = field(default_factory=list)
    selftests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def absences(self) -> int:
        return sum(window.alerts for window in self.windows)

    @property
    def absence_minutes(self) -> float:
        return sum(window.minutes for window in self.windows)

    @property
    def selftests_failed(self) -> int:
        return sum(1 for test in self.selftests if not test["ok"])


def window_absences(data: HubData, scope: Scope,
                    day: dt.date | None = None) -> dict[str, list[WindowAbsences]]:
    """Per district: each window's absences begun on ``day`` (today), by box and window."""
    where, params = scope.sql(dept_col=None)
    now = data.clock()
    found: dict[tuple[str, str, int], WindowAbsences] = {}
    for row in data.query(
            "select district_code, box_id, window_no, started_at, ended_at, office_periods"
            " from hub_absences"
            f" where started_on = ? and {where} order by district_code, box_id, window_no",
            [(day or data.today()).isoformat(), *params]):
        key = (row["district_code"], row["box_id"], row["window_no"])
        window = found.setdefault(key, WindowAbsences(row["box_id"], row["window_no"]))
        ended = _moment(row["ended_at"]) or now
        window.alerts += 1
        window.minutes += office_minutes(_moment(row["started_at"]), ended,
                                         row["office_periods"])
        window.ongoing = window.ongoing or row["ended_at"] is None
    by_district: dict[str, list[WindowAbsences]] = {}
    for (district, _, _), window in found.items():
        by_district.setdefault(district, []).append(window)
    return by_district


def office_minutes(started: dt.datetime, ended: dt.datetime, periods: str | None) -> float:
    """Minutes of an absence inside the office periods its box sent (JSON [start, end] UTC
    pairs), as the box counts them; start to end when the box sent none.

    >>> office_minutes(dt.datetime.fromisoformat("2026-11-20T03:50:00+00:00"),
    ...                dt.datetime.fromisoformat("2026-11-20T06:20:00+00:00"),
    ...                '[["2026-11-20T00:30:00+00:00", "2026-11-20T04:00:00+00:00"],'
    ...                ' ["2026-11-20T06:00:00+00:00", "2026-11-20T09:30:00+00:00"]]')
    30.0
    """
    if periods is None:
        return max(0.0, (ended - started).total_seconds() / 60)
    seconds = 0.0
    for start_text, end_text in json.loads(periods):
        lower = max(started, dt.datetime.fromisoformat(start_text))
        upper = min(ended, dt.datetime.fromisoformat(end_text))
        seconds += max(0.0, (upper - lower).total_seconds())
    return seconds / 60


def cameras_down(data: HubData, scope: Scope) -> list[dict[str, Any]]:
    """Cameras whose latest state is not OK, the longest down first."""
    where, params = scope.sql(dept_col=None)
    rows = data.query("select district_code, box_id, camera_id, detail, last_frame_at,"
                      f" changed_at from hub_cameras where ok = 0 and {where}"
                      " order by changed_at", params)
    for row in rows:
        row["detail_text"] = camera_detail(row["detail"])
    return rows


def camera_detail(detail: str) -> str:
    """``frozen for 75 s`` → ``画面冻结（frozen for 75 s）``."""
    for prefix, words in CAMERA_DETAILS.items():
        if detail.startswith(prefix):
            return f"{words}（{detail}）"
    return detail


def last_selftests(data: HubData, scope: Scope) -> list[dict[str, Any]]:
    """Each box's latest self-test in scope: the result, its counts, what failed or warned."""
    where, params = scope.sql(dept_col=None)
    rows = data.query("select district_code, box_id, ok, started_at, finished_at, counts,"
                      f" problems from hub_selftests where {where} order by box_id", params)
    for row in rows:
        row["counts"] = json.loads(row["counts"])
        row["problems"] = json.loads(row["problems"])
    return rows


def hall_views(data: HubData, scope: Scope) -> list[HallView]:
    """One view per district in scope (none for a department user)."""
    if not scope.sees_boxes:
        return []
    halls = {code: HallView(code, name) for code, name in scope.visible_districts().items()}
    for district, windows in window_absences(data, scope).items():
        if district in halls:
            halls[district].windows = windows
    for row in cameras_down(data, scope):
        if row["district_code"] in halls:
            halls[row["district_code"]].cameras_down.append(row)
    for row in last_selftests(data, scope):
        if row["district_code"] in halls:
            halls[row["district_code"]].selftests.append(row)
    return list(halls.values())


def refusals(data: HubData, scope: Scope, limit: int = 50) -> list[dict[str, Any]]:
    """Refused connections and messages, newest first: a district's boxes, or (city) all,
    senders with unknown keys too. Each row is an episode with its count."""
    where, params = scope.sql("b.district_code", dept_col=None)
    return data.query(
        "select r.box_id, r.source, r.reason, r.count, r.at, coalesce(r.last_at, r.at)"
        " as last_at from refusals r left join boxes b on b.box_id = r.box_id"
        f" where {where} order by coalesce(r.last_at, r.at) desc, r.id desc limit ?",
        [*params, limit])


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
