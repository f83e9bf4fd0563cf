"""Applying different boxes' batches at the same time (PostgreSQL), each box's in order.

The receiver's socket thread opens and checks every batch; with a pool, it hands the
database work to one of ``workers`` threads chosen by the box id, so a box's batches stay in
order while a slow batch of one box (a big backlog, a huge sequence jump) never holds up the
others, and the database works while Python parses. The worker's answer (the ack) goes back
to the socket thread through ``reply``, since a ZeroMQ socket belongs to one thread. SQLite
has one writer, so there the receiver applies inline and uses no pool.

Example::

    pool = ApplyPool(4, reply=lambda route, frames: outgoing.append((route, frames)))
    pool.submit("440605-01", route, lambda: [b"ack", b"{}"])
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Callable

from hub.storage.engines import unavailable_errors

log = logging.getLogger(__name__)
Job = Callable[[], list[bytes] | None]


class ApplyPool:
    def __init__(self, workers: int, reply: Callable[[bytes, list[bytes]], None],
                 on_unavailable: Callable[[BaseException], None] | None = None):
        self.reply = reply
        self.on_unavailable = on_unavailable
        self._queues: list[queue.Queue] = [queue.Queue() for _ in range(workers)]
        self._threads = [threading.Thread(target=self._work, args=(q,), daemon=True,
                                          name=f"hub-apply-{n}")
                         for n, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    def submit(self, box_id: str, route: bytes, job: Job) -> None:
        self._queues[zlib.crc32(box_id.encode()) % len(self._queues)].put((route, job))

    def stop(self) -> None:
        for pending in self._queues:
            pending.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def _work(self, pending: queue.Queue) -> None:
        unavailable = unavailable_errors()
        while (item := pending.get()) is not None:
            route, job = item
            try:
                frames = job()
            except unavailable as exc:  # not acknowledged: the box sends the batch again
                if self.on_unavailable:
                    self.on_unavailable(exc)
                continue
            except Exception:  # noqa: BLE001 - one bad batch must not end the worker
                log.exception("applying a batch failed")
                continue
            if frames is not None:
                self.reply(route, frames)
