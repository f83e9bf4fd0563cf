"""Delivery workers: one thread per notifier, reading the durable ``notifications`` queue.

A failed delivery is retried with exponential backoff (``retry_base * 2^(attempts-1)``, capped
at ``retry_max``) until ``max_attempts``, then marked failed. Any failure also raises a device
alert (``device:notifier:<name>``, rule 通知发送失败) that resolves itself at the next success,
so a dead modem is visible on the hall page while alerts and cards go on being recorded.

Example::

    workers = DeliveryService(store, [LogNotifier(path), sms], clock=utc_now, policy=RetryPolicy())
    workers.start()        # ... workers.wake() after queueing; workers.stop() at shutdown
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.store import Store
from edge.storetx import Tx, iso
from edge.supervision.alerts import Finding, raise_condition, resolve_condition
from edge.supervision.notify import Message, Notifier, NotifyError

log = logging.getLogger(__name__)
DEVICE_RULE = "通知发送失败"
BATCH = 50


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    max_attempts: int = 50

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failures."""
        return min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))


class DeliveryWorker:
    """Delivers one channel's queued notifications; ``run_once`` is the whole step, for tests."""

    def __init__(self, store: Store, notifier: Notifier, *, clock: Callable[[], dt.datetime],
                 policy: RetryPolicy):
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.policy = policy
        self.subject = f"device:notifier:{notifier.name}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self, now: dt.datetime) -> list[Message]:
        rows = self.store.query(
            "select id, channel, alert_id, notice_number, dept_code, contact_name, phone, text,"
            " created_at from notifications where channel = ? and state = 'pending'"
            " and next_attempt_at <= ? order by id limit ?",
            (self.notifier.name, iso(now), BATCH))
        return [Message(**row) for row in rows]

    def run_once(self, now: dt.datetime) -> tuple[int, int]:
        """Try every due message once; returns (delivered, failed)."""
        delivered = failed = 0
        for message in self.due(now):
            if self._stop.is_set():
                break
            try:
                self.notifier.send(message)
            except NotifyError as exc:
                failed += 1
                self._failed(message, str(exc))
                continue
            except Exception as exc:  # a notifier bug must not kill the worker
                log.exception("notifier %s crashed", self.notifier.name)
                failed += 1
                self._failed(message, f"{type(exc).__name__}: {exc}")
                continue
            delivered += 1
            self._delivered(message)
        return delivered, failed

    def _delivered(self, message: Message) -> None:
        def apply(tx: Tx) -> None:
            at = self.clock()
            tx.conn.execute("update notifications set state = 'sent', sent_at = ?,"
                            " attempts = attempts + 1, last_error = null where id = ?",
                            (iso(at), message.id))
            tx.emit("notification", {"id": message.id, "channel": message.channel,
                                     "state": "sent", "sent_at": iso(at)})
            resolve_condition(tx, self.subject, DEVICE_RULE, at,
                              f"{self.notifier.name}通知已恢复发送 (delivered notification {message.id})")

        self.store.write(apply)

    def _failed(self, message: Message, error: str) -> None:
        log.warning("notifier %s: notification %s failed: %s", self.notifier.name, message.id,
                    error)

        def apply(tx: Tx) -> None:
            at = self.clock()
            (attempts,) = tx.conn.execute("select attempts + 1 from notifications where id = ?",
                                          (message.id,)).fetchone()
            gave_up = attempts >= self.policy.max_attempts
            retry_at = at + dt.timedelta(seconds=self.policy.delay(attempts))
            tx.conn.execute(
                "update notifications set attempts = ?, last_error = ?, next_attempt_at = ?,"
                " state = ? where id = ?",
                (attempts, error[:500], iso(retry_at), "failed" if gave_up else "pending",
                 message.id))
            if gave_up:
                tx.emit("notification", {"id": message.id, "channel": message.channel,
                                         "state": "failed", "attempts": attempts,
                                         "error": error[:500]})
            raise_condition(tx, Finding(
                self.subject, DEVICE_RULE, "red",
                f"{self.notifier.name}通知发送失败，将自动重试：{error[:300]}"), at)

        self.store.write(apply)

    # -- thread -------------------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"notify:{self.notifier.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(self.clock())
                pause = self._seconds_to_next(self.clock())
            except Exception:  # e.g. the store is closing; try again shortly
                log.exception("delivery worker %s failed", self.notifier.name)
                pause = 5.0
            self._wake.wait(pause)
            self._wake.clear()

    def _seconds_to_next(self, now: dt.datetime) -> float:
        rows = self.store.query(
            "select min(next_attempt_at) as next from notifications"
            " where channel = ? and state = 'pending'", (self.notifier.name,))
        following = rows[0]["next"] if rows else None
        if following is None:
            return 60.0  # nothing queued: wake() brings new work at once
        seconds = (dt.datetime.fromisoformat(following) - now).total_seconds()
        return min(60.0, max(0.0, seconds))


class DeliveryService:
    """All channels' workers, started and stopped together (a Box service)."""

    def __init__(self, store: Store, notifiers: Sequence[Notifier], *,
                 clock: Callable[[], dt.datetime], policy: RetryPolicy):
        self.workers = [DeliveryWorker(store, n, clock=clock, policy=policy) for n in notifiers]

    def wake(self) -> None:
        for worker in self.workers:
            worker.wake()

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
