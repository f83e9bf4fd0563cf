"""The hub's configuration file (``hub.toml``), validated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field

from standard.configfile import Section, load_toml


class HubWebSection(Section):
    # Loopback by default: exposing the dashboard is the deployer's explicit choice.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    enabled: bool = True
    # The public portal under /portal/ of the dashboard too (one machine, e.g. the demo).
    # Off by default: the portal runs apart, on the internet side (`hallwatch hub portal`).
    serve_portal: bool = False
    # Sign-in: a session ends this long after sign-in, or after this long without a click.
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # Behind a TLS proxy (HTTPS): the sign-in cookie is marked Secure, never sent over HTTP.
    secure_cookies: bool = False
    # A box counts as online when it was heard from within this many seconds.
    online_seconds: float = Field(default=10.0, gt=0, le=3600)
    # How often open cases' lights are recomputed (they change with the date, not only events).
    light_refresh_seconds: float = Field(default=300.0, ge=5, le=86_400)


class HubPortalSection(Section):
    """The public portal (公众门户): its own listener, rate limits, complaint deadlines."""

    # `hallwatch hub portal` listens here (the internet side, 外网, behind a TLS proxy).
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)

    # Requests per minute from one address to the portal's pages; forms have their own limit.
    requests_per_minute: int = Field(default=120, ge=1, le=100_000)
    submissions_per_hour: int = Field(default=10, ge=1, le=10_000)
    # 投诉举报: decide within this many working days whether a complaint is accepted ...
    accept_working_days: int = Field(default=5, ge=1, le=60)
    # ... and answer an accepted one within this many more.
    reply_working_days: int = Field(default=15, ge=1, le=120)


class HubScoresSection(Section):
    """绩效评估 drafts the hub computes by itself (hub/score_scheduler.py)."""

    # Draft last month on the 1st from this local time, then refresh it until it is published.
    auto_draft: bool = True
    draft_time: dt.time = dt.time(2, 0)
    refresh_minutes: float = Field(default=60.0, ge=1, le=24 * 60)


class HubDatabaseSection(Section):
    """Where the hub stores (hub/store.py): SQLite in data/hub.db unless ``url`` says else."""

    # "postgresql://hallwatch@db.internal/hallwatch" for PostgreSQL; empty: SQLite. A password
    # belongs in ~/.pgpass (or PGPASSFILE), not here.
    url: str = Field(default="", pattern=r"^(postgres(ql)?://.*)?$")
    # The public portal's connection (hub portal): a role that reads published data and writes
    # only complaints (docs/hub.md). Empty: the same as url (SQLite: a read-only connection).
    portal_url: str = Field(default="", pattern=r"^(postgres(ql)?://.*)?$")
    # PostgreSQL: monthly partitions of records older than this many months are dropped or
    # archived (detached as archived_records_YYYY_MM); 0 keeps every month.
    retention_months: int = Field(default=0, ge=0, le=1200)
    retention_action: Literal["drop", "archive"] = "archive"
    # PostgreSQL: threads per receiver applying different boxes' batches at once (a box's
    # batches stay in order), so that one box's big batch never holds up the others.
    apply_workers: int = Field(default=4, ge=1, le=64)


class HubConfig(Section):
    version: Literal[1]
    base_dir: str
    city_name: str = "佛山市"
    # Where boxes connect. Binding to all interfaces is the deployer's explicit choice.
    bind: str = Field(default="tcp://127.0.0.1:7700", pattern=r"^tcp://")
    # The endpoint written into new boxes' configs (what boxes dial).
    public_endpoint: str = Field(default="tcp://127.0.0.1:7700", pattern=r"^tcp://")
    data_dir: str = "data"
    identity: str = "keys/hub.identity.json"
    boxes_dir: str = "boxes"
    database: HubDatabaseSection = HubDatabaseSection()
    web: HubWebSection = HubWebSection()
    portal: HubPortalSection = HubPortalSection()
    scores: HubScoresSection = HubScoresSection()
    # The city's item catalogue (事项目录: the union of the districts'); relative to hub.toml.
    catalogue: str | None = None
    calendar_overrides: str | None = None
    # The performance-score formula (绩效评估); default: the built-in one (firmware_cfg/scoring.toml).
    scoring: str | None = None
    # 督办 notices the city issues: number word (佛山电监〔2026〕3号) and working days to answer.
    duban_word: str = Field(default="电监", min_length=1, max_length=8)
    duban_due_working_days: int = Field(default=5, ge=1, le=60)

    def path(self, relative: str) -> Path:
        return Path(self.base_dir) / relative

    @property
    def db_path(self) -> Path:
        return self.path(self.data_dir) / "hub.db"

    @property
    def store_target(self) -> Path | str:
        """What HubStore opens: the PostgreSQL URL, or the SQLite file."""
        return self.database.url or self.db_path


def load_hub_config(path: Path) -> HubConfig:
    """Read and validate ``hub.toml``."""
    return load_toml(path, HubConfig)
