"""``hallwatch hub score``, ``publish-scores`` and ``rebuild-views``: thin commands over hub/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.options import command_config
from hub.scorebook import ScoresNotReady
from hub.scoring import ScoringError, compute_month
from hub.units import BadMonth, parse_month
from standard.configfile import ConfigError

config_option = click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="hub.toml")


def _month(_ctx, _param, value: str) -> str:
    try:
        return parse_month(value)
    except BadMonth as exc:
        raise click.BadParameter(str(exc)) from None


month_option = click.option("--month", required=True, callback=_month,
                            help="The month, YYYY-MM (e.g. 2026-10).")


def open_dashboard(config_path: Path):
    """The hub's store and desks, opened without the receiver or the web server."""
    from hub.store import HubStore
    from hub.wiring import wire_dashboard
    from standard.catalogue import CatalogueError

    config = command_config(config_path)
    if not config.db_path.exists():
        raise click.ClickException(f"{config.db_path}: no hub database yet; run 'hub serve'")
    store = HubStore(config.db_path)
    try:
        dashboard = wire_dashboard(config, store, with_web=False)
    except (CatalogueError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    store.open()
    return dashboard


@click.command("score")
@config_option
@month_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per unit, with its lines.")
def score(config_path: Path, month: str, as_json: bool) -> None:
    """Compute and store a month's performance scores (a draft until published)."""
    dashboard = open_dashboard(config_path)
    try:
        results = compute_month(dashboard.data, dashboard.scoring, month)
    except ScoringError as exc:
        raise click.ClickException(str(exc)) from None
    run = dashboard.scorebook.save(month, results, dashboard.scoring, dashboard.scoring_text,
                                   user="(cli)")
    if as_json:
        for unit in results:
            click.echo(json.dumps({"month": month, "version": run.version, "status": run.status,
                                   **unit.as_dict()}, ensure_ascii=False))
        return
    click.echo(f"{month} 绩效评估 · {run.label} · {run.formula}")
    for kind, title in (("district", "各区"), ("dept", "各部门")):
        click.echo(f"\n{title}")
        for unit in sorted((u for u in results if u.kind == kind), key=lambda u: u.rank):
            terms = "  ".join(f"{line.label} {line.points:+g}" for line in unit.lines[1:])
            click.echo(f"{unit.rank:>3}  {unit.name:<20}{unit.total:>8.2f}   {terms}")


@click.command("publish-scores")
@config_option
@month_option
def publish_scores(config_path: Path, month: str) -> None:
    """Publish a month's draft scores; the published version is frozen from then on."""
    dashboard = open_dashboard(config_path)
    try:
        run = dashboard.scorebook.publish(month, user="(cli)")
    except ScoresNotReady as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{month} 成绩已发布：{run.label}")


@click.command("rebuild-views")
@config_option
def rebuild_views(config_path: Path) -> None:
    """Rebuild the dashboard's tables from the stored records (after an upgrade)."""
    from hub.projections import rebuild

    dashboard = open_dashboard(config_path)
    count = rebuild(dashboard.data.store,
                    progress=lambda n: click.echo(f"{n} records", err=True) if n % 100_000 == 0
                    else None)
    click.echo(f"rebuilt the views from {count} records")
