"""Applying boxes' batches off the socket thread, each box's in order, in group commits.

The receiver's socket thread opens and checks every batch (decryption, signature, parsing);
it hands the database work to one of ``workers`` threads chosen by the box id, so that:

- the database commits batch N while the socket thread opens batch N+1 (a pipeline; SQLite
  and psycopg let go of the interpreter lock while they write and sync);
- a worker takes every batch waiting in its queue (up to ``group_records`` records) and
  applies them in one transaction (``HubStore.apply_batches``): one commit and one sync for
  all, each acknowledged only after that commit;
- on PostgreSQL (several workers), a slow batch of one box (a big backlog, a huge sequence
  jump) never holds up the boxes of other workers. SQLite has one writer: one worker.

A box's batches always go to the same worker, in the order they came, so they are applied in
order. The answers (acks) go back to the socket thread through ``finished``, since a ZeroMQ
socket belongs to one thread.

Example::

    pool = ApplyPool(store, 1, finished=lambda job, applied: answers.append((job, applied)))
    pool.submit(Job(Batch("440605-01", "440605", parsed, 1, 0), route, 1, 500))
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from hub.storage.engines import unavailable_errors
from hub.store import Applied, Batch, HubStore

log = logging.getLogger(__name__)
GROUP_RECORDS = 16_000  # a box's window in flight (edge/relay.py): one commit can take it all


@dataclass(frozen=True)
class Job:
    """A batch to apply and whom to answer: the box's route and the header's range."""

    batch: Batch
    route: bytes
    first: int | None
    last: int | None


class ApplyPool:
    def __init__(self, store: HubStore, workers: int,
                 finished: Callable[[Job, Applied | None], None],
                 on_unavailable: Callable[[BaseException], None] | None = None, *,
                 group_records: int = GROUP_RECORDS):
        """``finished(job, applied)`` is called for every job once its transaction is over:
        ``applied`` is None when it was not committed (the box sends it again)."""
        self.store = store
        self.finished = finished
        self.on_unavailable = on_unavailable
        self.group_records = group_records
        self._queues: list[queue.Queue] = [queue.Queue() for _ in range(workers)]
        self._queued = 0  # records submitted and not yet through a transaction
        self._room = threading.Condition()
        self._threads = [threading.Thread(target=self._work, args=(q,), daemon=True,
                                          name=f"hub-apply-{n}")
                         for n, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        box = job.batch.box_id
        with self._room:
            self._queued += len(job.batch.parsed)
        self._queues[zlib.crc32(box.encode()) % len(self._queues)].put(job)

    def wait_for_room(self, records: int, timeout: float) -> bool:
        """Wait until fewer than ``records`` records wait or are being applied (the receiver
        opens no more batches meanwhile: opened records take ten times their sealed bytes)."""
        with self._room:
            return self._room.wait_for(lambda: self._queued < records, timeout)

    def stop(self) -> None:
        for pending in self._queues:
            pending.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def _work(self, pending: queue.Queue) -> None:
        running = True
        while running and (job := pending.get()) is not None:
            group, size = [job], len(job.batch.parsed)
            while size < self.group_records:
                try:
                    more = pending.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # stopping: apply what was taken, then end
                    running = False
                    break
                group.append(more)
                size += len(more.batch.parsed)
            self._apply(group)

    def _apply(self, group: list[Job]) -> None:
        applied: list[Applied | None] = [None] * len(group)
        try:
            applied = list(self.store.apply_batches([job.batch for job in group]))
        except unavailable_errors() as exc:  # not acknowledged: the box sends them again
            if self.on_unavailable:
                self.on_unavailable(exc)
        except Exception:  # noqa: BLE001 - one bad batch must not end the worker
            log.exception("applying %d batches failed", len(group))
        with self._room:
            self._queued -= sum(len(job.batch.parsed) for job in group)
            self._room.notify_all()
        for job, outcome in zip(group, applied):
            try:
                self.finished(job, outcome)
            except Exception:  # noqa: BLE001
                log.exception("answering box %s failed", job.batch.box_id)
