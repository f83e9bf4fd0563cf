"""What the hub's commands share: ``--config hub.toml`` loaded, its errors as click errors.

``hub/cli.py`` and the command modules it registers (users, scores) both use it, so none of
them imports the CLI back.
"""

from __future__ import annotations

from pathlib import Path

import click

from hub.config import HubConfig, load_hub_config
from standard.configfile import ConfigError


def command_config(path: Path) -> HubConfig:
    """``hub.toml`` at ``path``; a ``click.ClickException`` naming the problem if it is wrong."""
    try:
        return load_hub_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
