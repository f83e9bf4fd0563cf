"""The hub's configuration file (``hub.toml``), validated."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from standard.configfile import Section, load_toml


class HubWebSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


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
    web: HubWebSection = HubWebSection()

    def path(self, relative: str) -> Path:
        return Path(self.base_dir) / relative

    @property
    def db_path(self) -> Path:
        return self.path(self.data_dir) / "hub.db"


def load_hub_config(path: Path) -> HubConfig:
    """Read and validate ``hub.toml``."""
    return load_toml(path, HubConfig)
