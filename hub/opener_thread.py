"""Batches opened on a thread of their own, so that the receiver's socket thread stays free.

The socket thread only peeks at a batch's header (:func:`peek_first`) and queues it here; this
thread checks the signature, decrypts and parses it (hub/batch_open.py) and hands it to the
apply pool (hub/apply_pool.py), or has it refused. Opening is most of a receiver's own work
per record: done on the socket thread, a ping queued behind a few dozen boxes' batches waited
longer than a box waits for an answer (``HUB_LOST_SECONDS``, 3 s), and the boxes reconnected
and sent everything again (bench/bench_hub_province.py). Now the socket thread answers pings
at once, listing the queued batches as ``applying``.

The thread opens a batch only while fewer than ``room_records`` records wait in the pool: a
backlog waits here sealed, about a tenth of its size once parsed.

Example::

    opening = BatchOpening(opener, pool, refused, room_records=80_000)
    opening.put(route, enrolled_box, frames, first_seq)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from hub.apply_pool import ApplyPool, Job
from hub.batch_open import BatchRefused, open_batch
from standard.envelope import Opener
from standard.boxregistry import EnrolledBox

log = logging.getLogger(__name__)


class BatchOpening:
    def __init__(self, opener: Opener, pool: ApplyPool,
                 refused: Callable[[bytes, EnrolledBox, int, BatchRefused | None], None], *,
                 room_records: int):
        """``refused(route, box, first, error)``: a batch was not opened (``error`` None when
        the receiver stopped first); the caller answers the box."""
        self.opener = opener
        self.pool = pool
        self.refused = refused
        self.room_records = room_records
        self._queue: queue.Queue = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-open", daemon=True)
        self._thread.start()

    def put(self, route: bytes, sender: EnrolledBox, body: list, first: int) -> None:
        self._queue.put((route, sender, body, first))

    def stop(self) -> None:
        """Batches not opened yet are dropped (not acknowledged: their boxes send them again)."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            route, sender, body, first = item
            while not self._stopping.is_set() and \
                    not self.pool.wait_for_room(self.room_records, timeout=0.5):
                pass
            if self._stopping.is_set():
                self.refused(route, sender, first, None)
                continue
            try:
                batch, _, last = open_batch(self.opener, sender, body)
            except BatchRefused as exc:
                self.refused(route, sender, first, exc)
                continue
            except Exception:  # noqa: BLE001 - a bug on one batch must not stop the thread
                log.exception("opening a batch of box %s failed", sender.box_id)
                self.refused(route, sender, first, None)
                continue
            self.pool.submit(Job(batch, route, first, last))
