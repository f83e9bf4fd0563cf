"""Wiring the supervisors' side of the hub: views, query layer, desks, scores, users, web.

``wire_dashboard(config, store, clock)`` is called by the composition root (hub/app.py) before
the store opens: it registers the projections and the tables of the complaint, 督办 and score
desks on the store, and returns a :class:`Dashboard` whose ``services`` (the light refresher
and the web server) the hub starts and stops with the receiver.

Example::

    dashboard = wire_dashboard(config, store, clock=utc_now)
    dashboard.data.catalogue["440605-SCJ-001"].name
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub.complaints import ComplaintDesk, ComplaintSettings
from hub.config import HubConfig
from hub.dubans import DubanDesk
from hub.projections import ProjectionContext, install
from hub.projections.lights import LightRefresher
from hub.reports import ReportDesk, ReportWriter
from hub.retention import RetentionKeeper
from hub.scorebook import Scorebook
from hub.score_scheduler import ScoreScheduler
from hub.scoring import ScoringConfig, compute_month, load_scoring
from hub.snapshots import SnapshotDesk
from hub.services import HubData
from hub.users import HubUsers
from standard.calendar import WorkCalendar, load_overrides
from standard.catalogue import load_catalogue
from standard.configfile import ConfigError
from standard.deadlines import LightSettings
from standard.records import CatalogueItem
from standard.storecheck import StoreWatch


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Dashboard:
    config: HubConfig
    data: HubData
    complaints: ComplaintDesk
    dubans: DubanDesk
    scorebook: Scorebook
    scoring: ScoringConfig
    scoring_text: str
    users: HubUsers
    context: ProjectionContext
    reports: ReportDesk | None = None
    snapshots: SnapshotDesk | None = None
    store_watch: StoreWatch | None = None  # quick_check of hub.db (SQLite), for the overview
    services: list = field(default_factory=list)

    def published(self) -> None:
        """A month was published here: the scheduler ticks now, so its reports follow."""
        for service in self.services:
            if isinstance(service, ScoreScheduler):
                service.poke()

    def formula(self) -> tuple[ScoringConfig, str]:
        """The formula file as it is now (read again: an edit needs no restart)."""
        return load_scoring(self.config.path(self.config.scoring) if self.config.scoring
                            else None)

    def shown_formula(self) -> ScoringConfig:
        """The formula to show: the file as it is now, or the last valid one if it is broken."""
        try:
            return self.formula()[0]
        except ConfigError:
            return self.scoring


def load_city_catalogue(config: HubConfig) -> dict[str, CatalogueItem]:
    """The city catalogue hub.toml names; empty when it names none (lights are then unknown)."""
    return load_catalogue(config.path(config.catalogue)) if config.catalogue else {}


def load_city_calendar(config: HubConfig) -> WorkCalendar:
    overrides = config.path(config.calendar_overrides) if config.calendar_overrides else None
    return WorkCalendar(load_overrides(overrides) if overrides else None)


def users_path(config: HubConfig) -> Path:
    return config.path(config.data_dir) / "users.db"


def _pdf_renderer():
    """The reports' PDF renderer: Chromium through web/hub/report_pdf.py, which says why
    when Chromium or Playwright is missing (the report's HTML and XLSX work regardless)."""
    from web.hub.report_pdf import render_report_pdf

    return render_report_pdf


def wire_dashboard(config: HubConfig, store, *, clock: Callable[[], dt.datetime] = utc_now,
                   with_web: bool = True) -> Dashboard:
    """Register the views on ``store`` (not open yet) and build the supervisors' services."""
    catalogue = load_city_catalogue(config)
    calendar = load_city_calendar(config)
    settings = LightSettings()
    context = ProjectionContext(catalogue, calendar, settings, clock)
    install(store, context)
    data = HubData(store, catalogue, calendar, clock, settings,
                   online_seconds=config.web.online_seconds, city_name=config.city_name)
    scoring, scoring_text = load_scoring(config.path(config.scoring) if config.scoring else None)
    portal = config.portal
    desk = ComplaintDesk(store, calendar, clock,
                         ComplaintSettings(portal.accept_working_days, portal.reply_working_days),
                         known_depts=data.dept_names)
    dashboard = Dashboard(
        config, data, desk,
        DubanDesk(store, calendar, clock, city_name=config.city_name, word=config.duban_word,
                  due_working_days=config.duban_due_working_days),
        Scorebook(store, clock), scoring, scoring_text, HubUsers(users_path(config)), context)
    if not config.database.url:  # PostgreSQL keeps its own files; SQLite's is checked here
        dashboard.store_watch = StoreWatch(config.db_path, what="hub", advice=(
            "stop the hub and run 'hallwatch hub reinit --config hub.toml --confirm', then "
            "'hallwatch hub resend' for each box (see docs/hub.md)"))
        dashboard.services.append(dashboard.store_watch)
    dashboard.services.append(LightRefresher(store, context, config.web.light_refresh_seconds))
    if config.database.url and config.database.retention_months:
        dashboard.services.append(RetentionKeeper(
            store, keep_months=config.database.retention_months,
            action=config.database.retention_action, clock=clock))
    dashboard.reports = ReportDesk(store, clock)
    dashboard.snapshots = SnapshotDesk(store, clock)
    if config.scores.auto_draft:
        scheduler = ScoreScheduler(
            dashboard.scorebook, lambda month, formula: compute_month(data, formula, month),
            dashboard.formula, clock, draft_time=config.scores.draft_time,
            refresh_minutes=config.scores.refresh_minutes)
        scheduler.listeners.append(ReportWriter(dashboard.reports, data, dashboard.scorebook,
                                                _pdf_renderer()))
        dashboard.services.append(scheduler)
    if with_web and config.web.enabled:
        from web.hub.server import WebServer

        dashboard.services.append(WebServer(dashboard, config.web.host, config.web.port))
    return dashboard
