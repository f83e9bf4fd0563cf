"""Snapshots the hub asks of a window's camera (视频监控 from the city): requested, answered,
kept as the audit of who looked at which window when.

A supervisor asks on 现场与设备: :meth:`SnapshotDesk.request` writes the request (who, when,
which box and window) and queues a ``snapshot`` command; the receiver signs it with the hub's
key and sends it down the box's connection (``snapshot-request``, standard/wire.py); the box
verifies the signature, takes the newest frame its camera worker already read, audits it on
its side and answers with one JPEG, size-capped; :meth:`SnapshotDesk.answered` stores it on the
request's row. A box that is offline gets the command when it next connects, unless the
request has expired by then (the box refuses it; the page says so).

The table is created by migration 8 (hub/storage/migrations.py); a change needs a new one.

Example::

    desk = SnapshotDesk(store, clock)
    number = desk.request(Scope.district("440605"), "440605-01", 3, "王芳（wangfang）")
    desk.recent(Scope.district("440605"))[0]["state"]      # "waiting", "done" or "failed"
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from hub.services import NotFound, Scope
from standard import wire

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists snapshot_requests (
    id integer primary key, box_id text not null, district_code text not null,
    window_no integer not null, requested_by text not null, requested_at text not null,
    expires_at text not null, answered_at text, taken_at text, jpeg text, error text);
create index if not exists snapshot_requests_box on snapshot_requests(box_id, id);
"""
EXPIRES_MINUTES = 10  # a request older than this is refused by the box
STATE_NAMES = {"waiting": "等待盒子回传", "done": "已回传", "failed": "未能截图"}


class SnapshotError(ValueError):
    """A request that cannot be made (unknown box, box outside the scope, bad window)."""


def _sees(scope: Scope, district: str) -> bool:
    """Windows belong to a district: the city and that district's users see them."""
    return scope.sees_boxes and scope.allows(district)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


class SnapshotDesk:
    def __init__(self, store, clock: Callable[[], dt.datetime]):
        self.store = store
        self.clock = clock

    def request(self, scope: Scope, box_id: str, window_no: int, user: str) -> int:
        """Record the request and queue its command; returns the request's number."""
        boxes = {row["box_id"]: row["district_code"] for row in self.store.query(
            "select box_id, district_code from boxes where box_id = ?", (box_id,))}
        if box_id not in boxes or not _sees(scope, boxes[box_id]):
            raise SnapshotError(f"盒子 {box_id} 不存在或不在您的监察范围内")
        if not 1 <= window_no <= 999:
            raise SnapshotError("窗口号应为 1–999 的整数")
        now = self.clock()
        expires = _iso(now + dt.timedelta(minutes=EXPIRES_MINUTES))
        with self.store.transaction() as conn:
            number = conn.execute(
                "insert into snapshot_requests (box_id, district_code, window_no, requested_by,"
                " requested_at, expires_at) values (?, ?, ?, ?, ?, ?) returning id",
                (box_id, boxes[box_id], window_no, user[:100], _iso(now), expires)).fetchone()[0]
        self.store.add_command(box_id, "snapshot", {"request_id": number, "window_no": window_no,
                                                    "requested_by": user[:100],
                                                    "expires_at": expires})
        return number

    def received(self, box_id: str, frames: list[bytes]) -> str | None:
        """A box's ``snapshot`` message (size-capped): stored on its request; why it was
        refused, or None."""
        if sum(len(frame) for frame in frames) > wire.MAX_SNAPSHOT_BYTES * 4 // 3 + 4096:
            return "snapshot refused: larger than the cap"
        try:
            answer = wire.decode_json(frames, wire.SNAPSHOT)
        except wire.WireError as exc:
            return f"snapshot refused: {exc}"
        if self.answered(box_id, answer):
            log.info("box %s answered snapshot request %s (%s)", box_id,
                     answer.get("request_id"), answer.get("error") or "JPEG")
        return None

    def answered(self, box_id: str, body: dict[str, Any]) -> bool:
        """Store a box's answer on its request (once; only from the box it was sent to)."""
        number = body.get("request_id")
        if not isinstance(number, int):
            return False
        jpeg, error = body.get("jpeg"), body.get("error")
        if jpeg is not None:
            try:
                size = len(base64.b64decode(str(jpeg), validate=True))
            except (binascii.Error, ValueError):
                jpeg, error = None, "盒子回传的图片编码无效"
            else:
                if size > wire.MAX_SNAPSHOT_BYTES:
                    jpeg, error = None, (f"盒子回传的图片过大（{size // 1024} KB，上限 "
                                         f"{wire.MAX_SNAPSHOT_BYTES // 1024} KB）")
        if jpeg is None and not error:
            error = "盒子未回传图片"
        with self.store.transaction() as conn:
            done = conn.execute(
                "update snapshot_requests set answered_at = ?, taken_at = ?, jpeg = ?, error = ?"
                " where id = ? and box_id = ? and answered_at is null",
                (_iso(self.clock()), body.get("taken_at") if jpeg else None, jpeg,
                 str(error)[:500] if error else None, number, box_id)).rowcount
        return bool(done)

    def boxes(self, scope: Scope) -> list[str]:
        """The boxes whose windows the scope may ask for."""
        if not scope.sees_boxes:
            return []
        where, params = scope.sql(dept_col=None)
        return [row["box_id"] for row in self.store.query(
            f"select box_id from boxes where {where} order by box_id", tuple(params))]

    def recent(self, scope: Scope, limit: int = 20) -> list[dict[str, Any]]:
        """The newest requests the scope may see (the city: all; a district: its boxes')."""
        sql = ("select id, box_id, district_code, window_no, requested_by, requested_at,"
               " answered_at, taken_at, error, jpeg is not null as has_jpeg"
               " from snapshot_requests")
        where, params = scope.sql(dept_col=None)
        rows = self.store.query(f"{sql} where {where} order by id desc limit ?",
                                (*params, limit))
        for row in rows:
            row["state"] = ("done" if row["has_jpeg"] else "failed" if row["answered_at"]
                            else "waiting")
            row["state_name"] = STATE_NAMES[row["state"]]
        return rows

    def jpeg(self, scope: Scope, number: int) -> bytes:
        rows = self.store.query("select district_code, jpeg from snapshot_requests where id = ?",
                                (number,))
        if not rows or not rows[0]["jpeg"] or not _sees(scope, rows[0]["district_code"]):
            raise NotFound(f"snapshot {number}")
        return base64.b64decode(rows[0]["jpeg"])
