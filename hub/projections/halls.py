"""The halls at the hub: absences from the windows, the cameras' health, each box's self-test.

A box sends ``presence`` records (``interval`` for each present or absent span of a window,
``absence_started`` when an absence becomes a 离岗 alert, ``absence_ended`` when it ends),
``camera_health`` when a camera's state changes, and ``selftest`` with a technician's whole
report (provisioning/selftest.py). These appliers keep:

- ``hub_absences``: one row per absence, its start and its end from whichever record comes
  first (live records may overtake a resent backlog);
- ``hub_cameras``: each camera's latest state, the box's order (``seq``) deciding;
- ``hub_selftests``: each box's latest self-test, likewise.

Intervals stay in ``records``: their office-time minutes depend on the hall's office hours,
which only the box knows. An absence starts when the box starts counting and ends at the
return, at the office's close or when the video stops; it may run over lunch, so
``absence_started`` carries its day's office periods (``office_periods``, UTC [start, end]
pairs) and the hub counts only the time inside them, as the box does
(hub/services/halls.py). Records from boxes that did not send them count start to end.
"""

from __future__ import annotations

import json
from typing import Any

from hub.projections.batchwise import Statement
from hub.units import local_date_of

PROBLEM_STATUSES = ("fail", "warn")


def presence_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    body = record["body"]
    if body.get("type") == "absence_started":
        return [_absence_started(ctx, conn, box_id, body)]
    if body.get("type") == "absence_ended":
        return [_absence_ended(ctx, conn, box_id, body)]
    return []


def _absence_started(ctx, conn, box_id: str, body: dict[str, Any]) -> Statement:
    return (
        "insert into hub_absences (box_id, absence_id, district_code, window_no, camera_id,"
        " alert_id, started_at, started_on, taken_at, office_periods)"
        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " on conflict(box_id, absence_id) do update set window_no = excluded.window_no,"
        " camera_id = excluded.camera_id, alert_id = excluded.alert_id,"
        " started_at = excluded.started_at, started_on = excluded.started_on,"
        " taken_at = excluded.taken_at, office_periods = excluded.office_periods",
        (box_id, int(body["absence_id"]), ctx.district_of(conn, box_id), int(body["window_no"]),
         str(body["camera_id"]), body.get("alert_id"), body["started_at"],
         local_date_of(body["started_at"]), body.get("taken_at"),
         _periods(body.get("office_periods"))))


def _periods(value: Any) -> str | None:
    """The office periods as JSON text, or None when the box sent none (or not a list of
    [start, end] pairs: such an absence counts start to end, as before)."""
    if not isinstance(value, list) or not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            for pair in value):
        return None
    return json.dumps(value)


def _absence_ended(ctx, conn, box_id: str, body: dict[str, Any]) -> Statement:
    return (
        "insert into hub_absences (box_id, absence_id, district_code, window_no, camera_id,"
        " alert_id, ended_at) values (?, ?, ?, ?, ?, ?, ?)"
        " on conflict(box_id, absence_id) do update set ended_at = excluded.ended_at",
        (box_id, int(body["absence_id"]), ctx.district_of(conn, box_id), int(body["window_no"]),
         str(body["camera_id"]), body.get("alert_id"), body["ended_at"]))


def camera_health_statements(ctx, conn, box_id: str,
                             record: dict[str, Any]) -> list[Statement]:
    body = record["body"]
    return [(
        "insert into hub_cameras (box_id, camera_id, district_code, ok, detail, last_frame_at,"
        " changed_at, seq) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict(box_id, camera_id)"
        " do update set ok = excluded.ok, detail = excluded.detail,"
        " last_frame_at = excluded.last_frame_at, changed_at = excluded.changed_at,"
        " seq = excluded.seq where excluded.seq > hub_cameras.seq",
        (box_id, str(body["camera_id"]), ctx.district_of(conn, box_id), int(bool(body["ok"])),
         str(body.get("detail") or ""), body.get("last_frame_at"), record["at"],
         record["seq"]))]


def selftest_statements(ctx, conn, box_id: str, record: dict[str, Any]) -> list[Statement]:
    report = record["body"]
    problems = [{"status": check.get("status"), "title": str(check.get("title", ""))[:100],
                 "detail": str(check.get("detail", ""))[:300]}
                for check in report.get("checks") or ()
                if isinstance(check, dict) and check.get("status") in PROBLEM_STATUSES]
    return [(
        "insert into hub_selftests (box_id, district_code, seq, ok, started_at, finished_at,"
        " counts, problems) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict(box_id) do update set"
        " seq = excluded.seq, ok = excluded.ok, started_at = excluded.started_at,"
        " finished_at = excluded.finished_at, counts = excluded.counts,"
        " problems = excluded.problems where excluded.seq > hub_selftests.seq",
        (box_id, ctx.district_of(conn, box_id), record["seq"], int(bool(report["ok"])),
         report.get("started_at"), report.get("finished_at") or record["at"],
         json.dumps(report.get("counts") or {}), json.dumps(problems, ensure_ascii=False)))]
