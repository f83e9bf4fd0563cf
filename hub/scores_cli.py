"""``hallwatch hub score``, ``publish-scores`` and ``rebuild-views``: thin commands over hub/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.options import command_config, open_store
from hub.scorebook import CorrectionNeedsReason, PublishRefused, ScoresNotReady
from hub.scoring import ScoringError, compute_month
from hub.services import Scope
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
    store = HubStore(config.store_target)
    try:
        dashboard = wire_dashboard(config, store, with_web=False)
    except (CatalogueError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    open_store(config, store)
    return dashboard


def unit_row(run, row: dict) -> dict:
    """One unit of a stored version as ``hub score --json`` prints it."""
    return {"month": run.month, "version": run.version, "status": run.status,
            "kind": row["unit_kind"], "unit": row["dept_code"] or row["district_code"],
            "name": row["unit_name"], "district": row["district_code"], "cases": row["cases"],
            "score": row["score"], "rank": row["rank"],
            "lines": [{"key": line["key"], "indicator": line["label"], "inputs": line["inputs"],
                       "rate": line["rate"], "rate_text": line["rate_text"],
                       "points": line["points"], "rule": line["rule"]}
                      for line in row["lines"]]}


@click.command("score")
@config_option
@month_option
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per unit: unit, name, cases, score (null: 无办件), lines.")
@click.option("--reason", help="Correct a published month: the new version's reason (更正原因).")
def score(config_path: Path, month: str, as_json: bool, reason: str | None) -> None:
    """Compute and store a month's scores (a draft until published) and print them.

    A published month is frozen: without --reason this prints the published version; with
    --reason it computes a correction, a new draft version.
    """
    dashboard = open_dashboard(config_path)
    book = dashboard.scorebook
    current = book.current(month, published_only=False)
    if current is not None and current.published and not reason:
        click.echo(f"{month} 已发布（{current.label}），以下为已发布的成绩；更正请加 --reason",
                   err=True)
        run = current
    else:
        try:
            results = compute_month(dashboard.data, dashboard.scoring, month)
            run = book.save(month, results, dashboard.scoring, dashboard.scoring_text,
                            user="(cli)", reason=reason)
        except (ScoringError, CorrectionNeedsReason) as exc:
            raise click.ClickException(str(exc)) from None
    rows = book.scores(run, Scope.city())
    if as_json:
        for row in rows:
            click.echo(json.dumps(unit_row(run, row), ensure_ascii=False))
        return
    click.echo(f"{month} 绩效评估 · {run.label} · {run.formula}")
    for kind, title in (("district", "各单位（按经办件数加权）"), ("dept", "各部门")):
        click.echo(f"\n{title}")
        for row in (r for r in rows if r["unit_kind"] == kind):
            shown = "  无办件" if row["score"] is None else f"{row['score']:>8.2f}"
            rank = row["rank"] or "—"
            terms = "  ".join(f"{line['label']} {line['points']:g}" for line in row["lines"])
            click.echo(f"{rank:>3}  {row['dept_code'] or row['district_code']:<12}"
                       f"{row['unit_name']:<20}{row['cases']:>6} 件{shown}   {terms}")


@click.command("publish-scores")
@config_option
@month_option
@click.option("--force", is_flag=True,
              help="Publish before the month has ended (or a draft older than its end); "
                   "needs --reason and is recorded on the version.")
@click.option("--reason", help="Why the publication is forced.")
def publish_scores(config_path: Path, month: str, force: bool, reason: str | None) -> None:
    """Publish a month's draft scores; the published version is frozen from then on."""
    dashboard = open_dashboard(config_path)
    try:
        run = dashboard.scorebook.publish(month, user="(cli)", force=force, reason=reason)
    except (ScoresNotReady, PublishRefused) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{month} 成绩已发布：{run.label}{'（强制提前发布）' if run.forced else ''}")


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
