"""``hallwatch hub ...``: run the city hub and inspect what it holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.config import HubConfig, load_hub_config
from hub.store import HubStore
from standard.configfile import ConfigError

config_option = click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="hub.toml")


def _config(path: Path) -> HubConfig:
    try:
        return load_hub_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def hub() -> None:
    """The city hub (市电子监察中心): receives every district box's records."""


@hub.command()
@config_option
def serve(config_path: Path) -> None:
    """Run the hub: the receiver for boxes (and the web pages), until Ctrl-C or SIGTERM."""
    from hub.app import build_hub, run
    from provisioning.identity import IdentityError

    try:
        built = build_hub(_config(config_path))
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    run(built, ready=lambda line: (click.echo(line), sys.stdout.flush()))


@hub.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per box.")
def status(config_path: Path, as_json: bool) -> None:
    """Each box: last seen, last sequence applied, records held, backlog, chain state."""
    config = _config(config_path)
    if not config.db_path.exists():
        raise click.ClickException(f"{config.db_path}: no hub database yet; run 'hub serve'")
    store = HubStore(config.db_path)
    rows = store.box_states()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    click.echo(f"{'box_id':<14}{'district':<10}{'last_seen':<31}{'last_seq':>9}{'records':>9}"
               f"{'backlog':>9}  chain")
    for row in rows:
        click.echo(f"{row['box_id']:<14}{row['district']:<10}{row['last_seen'] or '':<31}"
                   f"{row['last_seq']:>9}{row['records']:>9}{row['backlog']:>9}  {row['chain']}")
