"""The hub's composition root: store, receiver and (later) web apps, wired from hub.toml."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.config import HubConfig
from hub.projections.staffbackfill import StaffBackfill
from hub.receiver import Receiver
from hub.store import HubStore
from hub.storeguard import check_hub_store, mark_hub_store
from standard.boxregistry import load_enrolled
from standard.files import private_dir, private_sqlite
from standard.identity import load_hub_identity

log = logging.getLogger(__name__)


@dataclass
class Hub:
    config: HubConfig
    store: HubStore
    receiver: Receiver
    services: list = field(default_factory=list)
    dashboard: Any = None  # hub.wiring.Dashboard: views, desks, scores, users, web pages

    def start(self) -> Hub:
        # hub.db, users.db, logs and secrets: 0600 in a 0700 folder, whatever the umask.
        private_dir(self.config.path(self.config.data_dir), tighten=True)
        check_hub_store(self.config)  # never start over by itself (hub/storeguard.py)
        self.store.open()
        mark_hub_store(self.config)
        if self.config.db_path.exists():  # (a PostgreSQL hub has no file to protect)
            private_sqlite(self.config.db_path)
        self.receiver.start()
        for service in self.services:
            service.start()
        return self

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.receiver.stop()
        self.store.close()


def build_hub(config: HubConfig, *, clock: Callable[[], dt.datetime] | None = None,
              receive_only: bool = False, bind: str | None = None) -> Hub:
    """Wire a hub from its configuration; nothing is opened until ``Hub.start()``.

    ``receive_only`` (``hub receive``): the receiver and the projections, without the pages
    and the background jobs that one dashboard process runs for all receivers (but the
    one-off fill of the staff index, hub/projections/staffbackfill.py, which every process
    shares batch by batch). ``bind``
    overrides hub.toml's, so that several receivers can share one hub.toml.
    """
    from hub.wiring import utc_now, wire_dashboard

    identity = load_hub_identity(config.path(config.identity))
    store = HubStore(config.store_target)
    receiver = Receiver(store, identity, bind or config.bind, lambda: load_enrolled(config),
                        apply_workers=config.database.apply_workers)
    dashboard = wire_dashboard(config, store, clock=clock or utc_now, with_web=not receive_only)
    # Every process that applies projections fills the older cases' staff until done.
    services = [StaffBackfill(store), *([] if receive_only else dashboard.services)]
    return Hub(config=config, store=store, receiver=receiver, services=services,
               dashboard=dashboard)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(hub: Hub, *, ready: Callable[[str], None] = print) -> None:
    """Run until SIGINT/SIGTERM."""
    hub.start()
    try:
        ready(f"hallwatch hub receiving on {hub.receiver.bound_endpoint}")
        for service in hub.services:
            for line in getattr(service, "ready_lines", ()):
                ready(line)
        wait_for_signal()
    finally:
        hub.stop()
