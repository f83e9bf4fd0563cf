"""Daily reconciliation: the platform's count of records per item for a day against the box's.

The platform's figures come from the 中间库 (a source's ``[sources.reconcile] query``, run
once a day for yesterday) or from the platform itself (``POST
/api/v1/platform/reconciliation``). The box counts the case records it stored whose
``occurred_at`` falls on that day (+08:00), per item. A difference opens a 数据报送 alert naming
the items and the counts (red when the box has fewer records than the platform); a later
reconciliation of the same day that agrees resolves it. Every reconciliation goes to the hub
as a ``reconciliation`` record, for the 数据报送完整率.

Example::

    store.write(lambda tx: reconcile_counts(tx, dt.date(2026, 11, 2), "platform",
                                     {"440605-SCJ-001": 12}))
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision import Finding, raise_condition, resolve_condition
from standard.records import LOCAL_TZ

log = logging.getLogger(__name__)
RULE = "数据报送"
RECORD_KIND = "reconciliation"
SHOWN_ITEMS = 8  # items named in an alert's text; the record and the page have them all


@dataclass(frozen=True)
class ItemCount:
    item_code: str
    platform: int
    box: int

    @property
    def difference(self) -> int:
        return self.box - self.platform

    def as_dict(self) -> dict[str, object]:
        return {"item_code": self.item_code, "platform": self.platform, "box": self.box,
                "difference": self.difference}


@dataclass(frozen=True)
class Reconciliation:
    day: dt.date
    origin: str
    items: list[ItemCount]

    @property
    def differing(self) -> list[ItemCount]:
        return [item for item in self.items if item.difference]

    @property
    def matched(self) -> bool:
        return not self.differing

    def as_dict(self) -> dict[str, object]:
        return {"date": self.day.isoformat(), "origin": self.origin, "matched": self.matched,
                "items": [item.as_dict() for item in self.items]}


def box_counts(conn, day: dt.date) -> dict[str, int]:
    """Case records stored per item whose occurred_at is on ``day`` in local time."""
    # occurred_at keeps the platform's offset: read a day either side, then judge each.
    low, high = (day - dt.timedelta(days=1)).isoformat(), (day + dt.timedelta(days=2)).isoformat()
    counts: dict[str, int] = {}
    for occurred_at, item_code in conn.execute(
            "select occurred_at, json_extract(body, '$.item_code') from case_events"
            " where occurred_at >= ? and occurred_at < ?", (low, high)):
        if dt.datetime.fromisoformat(occurred_at).astimezone(LOCAL_TZ).date() == day:
            counts[item_code] = counts.get(item_code, 0) + 1
    return counts


def reconcile_counts(tx: Tx, day: dt.date, origin: str, platform: dict[str, int]) -> Reconciliation:
    """Compare, record, alert and relay, in the caller's transaction."""
    stored = box_counts(tx.conn, day)
    items = [ItemCount(code, platform.get(code, 0), stored.get(code, 0))
             for code in sorted(platform.keys() | stored.keys())]
    result = Reconciliation(day, origin, items)
    now = iso(tx.now)
    tx.conn.executemany(
        "insert into platform_counts (day, origin, item_code, count, received_at)"
        " values (?, ?, ?, ?, ?) on conflict(day, origin, item_code) do update set"
        " count = excluded.count, received_at = excluded.received_at",
        [(day.isoformat(), origin, code, count, now) for code, count in platform.items()])
    tx.conn.execute("insert into reconciliations (day, origin, at, matched, items)"
                    " values (?, ?, ?, ?, ?)",
                    (day.isoformat(), origin, now, int(result.matched),
                     json.dumps([i.as_dict() for i in items], ensure_ascii=False)))
    tx.emit(RECORD_KIND, {"version": 1, "date": day.isoformat(), "origin": origin,
                          "matched": result.matched,
                          "items": [{"item_code": i.item_code, "platform": i.platform,
                                     "box": i.box} for i in items]})
    subject = f"reconcile:{day.isoformat()}"
    if result.matched:
        resolve_condition(tx, subject, RULE, tx.now, f"{origin} 复核一致")
    else:
        raise_condition(tx, Finding(subject, RULE, _level(result), alert_text(result)), tx.now)
    return result


def _level(result: Reconciliation) -> str:
    return "red" if any(item.difference < 0 for item in result.items) else "yellow"


def alert_text(result: Reconciliation) -> str:
    """``2026-11-02 平台与本机记录数不一致：…`` naming the items and both counts."""
    parts = []
    for item in result.differing[:SHOWN_ITEMS]:
        gap = item.difference
        parts.append(f"{item.item_code} 平台 {item.platform} 条、本机 {item.box} 条"
                     f"（{'少' if gap < 0 else '多'} {abs(gap)} 条）")
    more = len(result.differing) - SHOWN_ITEMS
    tail = f"；等共 {len(result.differing)} 个事项" if more > 0 else ""
    return (f"{result.day.isoformat()} 平台（{result.origin}）与本机记录数不一致："
            + "；".join(parts) + tail)


def _reconciled(conn, origin: str, day: dt.date) -> bool:
    """Whether ``origin`` has been reconciled for ``day`` or later (checked in the writer's
    transaction, so two callers of ``run_due`` at once reconcile a day once)."""
    return conn.execute("select 1 from reconciliations where origin = ? and day >= ? limit 1",
                        (origin, day.isoformat())).fetchone() is not None


def latest_reconciliations(store: Store, limit: int = 5) -> list[Reconciliation]:
    """The newest reconciliation of each of the last ``limit`` (day, origin) pairs, newest day
    first (for the health page and ``edge status``); a day reconciled again shows its latest."""
    rows = store.query(
        "select day, origin, items from reconciliations where id in (select max(id) from"
        " reconciliations group by day, origin) order by day desc, origin limit ?", (limit,))
    return [Reconciliation(dt.date.fromisoformat(row["day"]), row["origin"],
                           [ItemCount(i["item_code"], i["platform"], i["box"])
                            for i in json.loads(row["items"])]) for row in rows]


def summary_text(result: Reconciliation) -> str:
    """One line in Chinese: ``一致：12 个事项，平台 340 条、本机 340 条`` or the differing items."""
    platform = sum(item.platform for item in result.items)
    stored = sum(item.box for item in result.items)
    totals = f"{len(result.items)} 个事项，平台 {platform} 条、本机 {stored} 条"
    if result.matched:
        return f"一致：{totals}"
    return f"不一致（{totals}）：" + alert_text(result).split("不一致：", 1)[1]


@dataclass(frozen=True)
class DailyCount:
    """One origin's daily figures: after ``at``, once ``ready()`` (its source caught up)."""

    at: dt.time
    count: Callable[[dt.date], dict[str, int]]
    ready: Callable[[], bool] = lambda: True


class DailyReconciler:
    """Once a day after ``at`` (local), reconcile yesterday for each source that can count.

    It looks every ``retry_seconds``; while a due origin waits for its source to catch up
    (a box just started, a backlog being read), every ``ready_check_seconds`` instead, so the
    day is reconciled soon after the source has read it.
    """

    def __init__(self, store: Store, clock: Callable[[], dt.datetime],
                 counters: dict[str, DailyCount], *, retry_seconds: float = 300.0,
                 ready_check_seconds: float = 15.0):
        self.store = store
        self.clock = clock
        self.counters = counters
        self.retry_seconds = retry_seconds
        self.ready_check_seconds = ready_check_seconds
        self.waiting_for_source = False  # the last look found a due origin not caught up
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="reconcile")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.next_wait())

    def next_wait(self) -> float:
        """Seconds until the next look (sooner while a due day waits for its source)."""
        return min(self.ready_check_seconds, self.retry_seconds) if self.waiting_for_source \
            else self.retry_seconds

    def run_due(self) -> list[Reconciliation]:
        """Reconcile yesterday for each origin that has not done it and whose time has come."""
        now = self.clock().astimezone(LOCAL_TZ)
        yesterday = now.date() - dt.timedelta(days=1)
        done = []
        self.waiting_for_source = False
        for origin, daily in self.counters.items():
            if now.time() < daily.at or self._last_day(origin) >= yesterday.isoformat():
                continue
            if not daily.ready():  # the box has not read all the platform has yet
                self.waiting_for_source = True
                continue
            try:
                figures = daily.count(yesterday)
                result = self.store.write(
                    lambda tx, origin=origin, figures=figures: None
                    if _reconciled(tx.conn, origin, yesterday)
                    else reconcile_counts(tx, yesterday, origin, figures))
            except Exception:  # noqa: BLE001 - the 中间库 may be down: the next round retries
                log.exception("reconciliation of %s for %s failed", origin, yesterday)
                continue
            if result is not None:  # None: another caller reconciled the day meanwhile
                done.append(result)
        return done

    def _last_day(self, origin: str) -> str:
        rows = self.store.query("select max(day) as day from reconciliations where origin = ?",
                                (origin,))
        return rows[0]["day"] or ""
