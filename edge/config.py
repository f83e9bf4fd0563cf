"""The box's configuration file (``box.toml``), validated.

Example (see ``firmware_cfg/box.example.toml``)::

    version = 1
    box_id = "440605-01"
    district_code = "440605"
    district_name = "南海区"
    data_dir = "data"
    catalogue = "catalogue.json"
    platform_token_file = "keys/platform.token"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.ingestqueue import INGEST_WORKERS
from edge.integration.config import SourceSection, unique_names
from edge.supervision.config import ContactSection, NotifySection, RulesSection
from standard.configfile import Section, load_toml


PEOPLE_THREADS = 4  # web-server threads the platform API can never take


class WebSection(Section):
    # Loopback by default: the hall network is opted into, never exposed by accident.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Page sign-in: a session ends this long after sign-in, or after this long without a click.
    session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # Behind a TLS proxy (HTTPS): the sign-in cookie is marked Secure, never sent over HTTP.
    secure_cookies: bool = False
    # The web server's threads, shared by people and the platform API; the platform holds at
    # most ingest_queue + 1 of them (edge/ingestqueue.py), people keep the rest.
    threads: int = Field(default=16, ge=PEOPLE_THREADS + INGEST_WORKERS, le=256)
    # Platform requests that may wait for their turn to ingest; one more is answered 503.
    ingest_queue: int = Field(default=6, ge=0, le=250, validate_default=True)

    @field_validator("ingest_queue")
    @classmethod
    def _people_keep_threads(cls, value: int, info: ValidationInfo) -> int:
        threads = info.data.get("threads")
        if threads is not None and value + INGEST_WORKERS > threads - PEOPLE_THREADS:
            raise ValueError(
                f"at most {threads - PEOPLE_THREADS - INGEST_WORKERS} with threads = {threads}: "
                f"the platform may hold ingest_queue + {INGEST_WORKERS} threads and the pages "
                f"keep at least {PEOPLE_THREADS} (raise threads or lower ingest_queue)")
        return value


class LightSection(Section):
    yellow_within_working_days: int = Field(default=1, ge=0, le=30)
    stage_yellow_within_working_days: int = Field(default=0, ge=0, le=30)


class RelaySection(Section):
    # Where the hub's receivers listen: one (hub_endpoint) or several to fail over between
    # (hub_endpoints, tried in order; several receivers sharing one PostgreSQL database).
    hub_endpoint: str | None = Field(default=None, pattern=r"^tcp://")
    hub_endpoints: list[Annotated[str, Field(pattern=r"^tcp://")]] = Field(default_factory=list)
    identity: str = "keys/box.identity.json"
    hub_public: str = "keys/hub.public.json"
    batch_size: int = Field(default=4000, ge=1, le=5000)
    window: int = Field(default=8, ge=1, le=128)
    outbox_quota_mb: int = Field(default=1024, ge=1)


    @model_validator(mode="after")
    def _one_or_several_endpoints(self) -> RelaySection:
        if not self.hub_endpoint and not self.hub_endpoints:
            raise ValueError("hub_endpoint or hub_endpoints is required (the hub's address)")
        return self

    @property
    def endpoints(self) -> list[str]:
        """Every hub endpoint, in the order the relay tries them."""
        first = [self.hub_endpoint] if self.hub_endpoint else []
        return list(dict.fromkeys(first + list(self.hub_endpoints)))

class EvaluationSection(Section):
    """好差评 policy (docs/evaluations.md): follow-up deadlines in working days, and more."""

    return_call_working_days: int = Field(default=1, ge=1, le=30)  # 回访
    rectify_working_days: int = Field(default=15, ge=1, le=90)  # 整改
    max_extension_working_days: int = Field(default=15, ge=0, le=90)  # one extension at most
    default_satisfied: bool = False  # unrated N working days after 办结 counts as 满意
    default_after_working_days: int = Field(default=5, ge=1, le=60)
    arm_max_age_minutes: int = Field(default=240, ge=1, le=1440)  # older events do not arm
    thanks_seconds: float = Field(default=3.0, gt=0, le=60)
    check_interval_seconds: float = Field(default=300.0, gt=0, le=86400)


class PresenceSection(Section):
    """离岗 detection from the profile's cameras (docs/presence.md).

    Lunch is the gap between the office periods: the profile's ``office_hours``, unless
    ``office_hours`` here says otherwise for the cameras.
    """

    absent_after_minutes: float = Field(default=5.0, gt=0, le=480)  # office time absent -> 离岗
    leave_grace_seconds: float = Field(default=30.0, ge=0, le=3600)  # empty seat before "absent"
    no_frames_after: float = Field(default=15.0, gt=0, le=3600)  # seconds without a frame
    frozen_after: float = Field(default=60.0, gt=0, le=3600)  # seconds of an identical image
    snapshot_quota_mb: float = Field(default=512.0, gt=0)  # evidence JPEGs; closed alerts go first
    evidence_check_seconds: float = Field(default=60.0, gt=0, le=86400)  # closed alerts -> evidence
    office_hours: list[str] | None = None  # e.g. ["08:30-12:00", "14:00-17:30"]
    every_day: bool = False  # count every day as a workday (demo, tests); never in a hall
    # With simulate = true: a box whose store has no presence yet starts with its simulated
    # staff's last N working days (the demo started at night shows yesterday's office day).
    simulated_history_days: int = Field(default=0, ge=0, le=10)
    # Live video (视频监控) from the frames the cameras already read: caps that keep the
    # detection fed. live_viewers = 0 turns live viewing off; the hub's snapshots stay.
    live_fps: float = Field(default=2.0, gt=0, le=10)  # frames a second per window at most
    live_viewers: int = Field(default=3, ge=0, le=20)  # live viewers at once on the box
    live_width: int = Field(default=640, ge=160, le=1920)  # pixels; frames are shrunk to it
    snapshot_max_kb: int = Field(default=256, ge=16, le=1024)  # a snapshot for the hub

    @field_validator("office_hours")
    @classmethod
    def _periods_in_order(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            from edge.profile import parse_period

            periods = sorted(parse_period(text) for text in value)
            if not periods:
                raise ValueError("at least one period is needed, e.g. \"08:30-12:00\"")
            for (_, end), (start, _) in zip(periods, periods[1:]):
                if start < end:
                    raise ValueError(f"periods overlap around {start:%H:%M}: make them disjoint")
        return value


class BoxConfig(Section):
    version: Literal[1]
    base_dir: str
    box_id: str = Field(pattern=r"^[0-9A-Za-z\-_.]{1,64}$")
    district_code: str = Field(pattern=r"^\d{6}$")
    district_name: str = ""
    data_dir: str = "data"
    catalogue: str
    calendar_overrides: str | None = None
    platform_token_file: str = "keys/platform.token"
    profile: str | None = None
    simulate: bool = False  # with a "mock" profile: simulated citizens press the keys (demo)
    evaluations: EvaluationSection = EvaluationSection()
    web: WebSection = WebSection()
    lights: LightSection = LightSection()
    relay: RelaySection | None = None
    rules: RulesSection = RulesSection()  # supervision rules, cards (docs/supervision.md)
    contacts: list[ContactSection] = Field(default_factory=list)  # [[contacts]]
    notify: NotifySection = NotifySection()  # notifiers: log, webhook, sms
    presence: PresenceSection = PresenceSection()  # cameras, 离岗 (docs/presence.md)
    sources: list[SourceSection] = Field(default_factory=list)  # [[sources]]: docs/integration.md

    @property
    def live_viewers(self) -> int:
        """Live viewers at once: ``presence.live_viewers``, or fewer when the web server has
        too few threads (each viewer holds one while watching; the pages keep two)."""
        return max(0, min(self.presence.live_viewers, self._threads_for_viewers()))

    def _threads_for_viewers(self) -> int:
        return self.web.threads - self.web.ingest_queue - INGEST_WORKERS - 2

    @model_validator(mode="after")
    def _live_viewers_leave_threads_for_pages(self) -> BoxConfig:
        """A live_viewers set in box.toml must leave the pages two threads (the default is
        lowered quietly instead, see :attr:`live_viewers`)."""
        people = self._threads_for_viewers() + 2
        if "live_viewers" in self.presence.model_fields_set and \
                self.presence.live_viewers > people - 2:
            raise ValueError(
                f"presence.live_viewers: at most {people - 2} with web.threads = "
                f"{self.web.threads} and web.ingest_queue = {self.web.ingest_queue}: each viewer"
                " holds a web thread while watching, and the pages keep two (lower"
                " live_viewers or raise web.threads)")
        return self

    @field_validator("sources")
    @classmethod
    def _source_names_differ(cls, value: list[SourceSection]) -> list[SourceSection]:
        return unique_names(value)

    def path(self, relative: str) -> Path:
        """Resolve a path from the config against the config file's folder."""
        return Path(self.base_dir) / relative

    @property
    def db_path(self) -> Path:
        return self.path(self.data_dir) / "box.db"

    @property
    def store_marker(self) -> Path:
        """``box.store.json`` next to box.toml: written when the box makes its database, so a
        lost database is an error, never a new start (edge/storeidentity.py)."""
        return Path(self.base_dir) / "box.store.json"


def load_box_config(path: Path) -> BoxConfig:
    """Read and validate ``box.toml``; raises ConfigError naming every wrong key."""
    return load_toml(path, BoxConfig)
