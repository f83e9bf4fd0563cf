"""The box clock's health: a device alert while the clock cannot be trusted.

The store never stamps a record earlier than the one before it (``edge/store.py`` ``_stamp``):
when the clock reads before the last record, or before 2025 (a Pi without its RTC battery),
it keeps the last good time and says why in ``Store.clock_problem``. This check makes that
visible to the hall manager and, through the outbox, to the hub: a red alert ``device:clock``
(时钟异常) while the problem lasts, resolved by the system once the clock is right again.

Example::

    box.services.append(clock_watch(store, clock))   # a pass at start, then every minute
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from edge.store import Store
from edge.storetx import Tx
from edge.supervision.alerts import Finding, raise_condition, resolve_condition
from edge.supervision.schedule import Scheduler

SUBJECT = "device:clock"
RULE = "时钟异常"


def check_clock(store: Store) -> str | None:
    """One check in one transaction; returns the clock problem, or None when the clock is fine."""

    def check(tx: Tx) -> str | None:
        problem = store.clock_problem  # set by this transaction's own stamp, just before
        if problem:
            detail = (f"箱体时钟异常（{problem}）：记录暂用最后一次正确时间，请校准时钟"
                      "（检查 NTP 和 RTC 电池）")
            raise_condition(tx, Finding(SUBJECT, RULE, "red", detail), tx.now)
        else:
            resolve_condition(tx, SUBJECT, RULE, tx.now, "时钟已恢复正常")
        return problem

    return store.write(check)


def clock_watch(store: Store, clock: Callable[[], dt.datetime],
                interval_seconds: float = 60.0) -> Scheduler:
    """A service (``start``/``stop``) that checks the clock at start and every interval."""
    return Scheduler(lambda at: check_clock(store), clock, interval_seconds, dt.time(8, 30), None)
