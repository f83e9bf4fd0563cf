"""What the hub's commands share: ``--config hub.toml`` loaded, its errors as click errors.

``hub/cli.py`` and the command modules it registers (users, scores) both use it, so none of
them imports the CLI back.
"""

from __future__ import annotations

from pathlib import Path

import click

from hub.config import HubConfig, load_hub_config
from hub.store import HubStore, StorageError
from hub.storeguard import HubStoreLost, check_hub_store
from standard.configfile import ConfigError


def command_config(path: Path) -> HubConfig:
    """``hub.toml`` at ``path``; a ``click.ClickException`` naming the problem if it is wrong."""
    try:
        return load_hub_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_store(config: HubConfig, store: HubStore | None = None) -> HubStore:
    """The hub's store, opened (and migrated); a clear error when there is none to open."""
    if not config.database.url and not config.db_path.exists():
        raise click.ClickException(f"{config.db_path}: no hub database yet; run 'hub serve'")
    try:
        check_hub_store(config)
    except HubStoreLost as exc:
        raise click.ClickException(str(exc)) from None
    store = store or HubStore(config.store_target)
    try:
        return store.open()
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
