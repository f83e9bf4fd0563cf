"""``hallwatch hub portal``: the public portal as its own process, on the internet side (外网).

The composition root of the portal process: the store opened with the portal's access only,
the desks the pages need, the portal application (web/portal/app.py) on ``[portal] host`` and
``port``. It never migrates, never receives and never opens the users database.

What the portal may do with the hub's database:

- PostgreSQL: it connects with ``[database] portal_url``, a role made by ``hallwatch hub
  portal-role`` (:func:`grant_sql`): SELECT on the published tables, INSERT on complaints.
- SQLite: reads on read-only connections and writes on a connection whose authorizer refuses
  any write but to the complaint tables, and any read of the tables below not listed.

Example::

    server = build_portal(load_hub_config(Path("/srv/hub/hub.toml")))
    server.start(); print(server.url)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from hub.config import HubConfig
from hub.store import HubStore

# What the portal's pages read (published scores, the case lookup, the public rates, the
# complaint chart and status) and the only tables it writes.
PORTAL_READS = ("hub_cases", "hub_case_events", "hub_case_daily", "hub_rating_daily",
                "score_versions", "unit_scores", "hub_meta", "schema_migrations")
PORTAL_WRITES = ("complaints", "complaint_events", "captcha_used")


def portal_store(config: HubConfig) -> HubStore:
    """The store as the portal may use it (not open yet)."""
    if config.database.url:
        return HubStore(config.database.portal_url or config.database.url)
    return HubStore(config.db_path, allowed=(PORTAL_READS + PORTAL_WRITES, PORTAL_WRITES))


def grant_sql(role: str) -> str:
    """The SQL that gives ``role`` the portal's access (run by the tables' owner)."""
    reads = ", ".join(PORTAL_READS + PORTAL_WRITES)
    return (f"grant usage on schema public to {role};\n"
            f"grant select on {reads} to {role};\n"
            f"grant insert on complaints, complaint_events, captcha_used to {role};\n"
            f"grant delete on captcha_used to {role};\n"
            f"grant usage on all sequences in schema public to {role};\n")


class PortalServer:
    def __init__(self, config: HubConfig, clock: Callable[[], dt.datetime] | None = None):
        from hub.wiring import utc_now, wire_dashboard

        self.config = config
        self.store = portal_store(config)
        self.dashboard = wire_dashboard(config, self.store, clock=clock or utc_now,
                                        with_web=False)
        self.url = ""
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from waitress import create_server

        from web.portal.app import create_portal_app

        self.store.open(migrate_schema=False)
        app = create_portal_app(self.dashboard)
        self._server = create_server(app, host=self.config.portal.host,
                                     port=self.config.portal.port, threads=8,
                                     ident="hallwatch-portal")
        self.url = f"http://{self.config.portal.host}:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="portal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.store.close()


def build_portal(config: HubConfig, clock: Callable[[], dt.datetime] | None = None
                 ) -> PortalServer:
    return PortalServer(config, clock)
