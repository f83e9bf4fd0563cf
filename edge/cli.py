"""``hallwatch edge ...``: run the box and work with its store from a shell.

Commands are thin: parse options, call one library function, turn its errors into
``click.ClickException``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from edge.config import load_box_config
from edge.options import Target, columns, parse_at, target_options
from edge.storeidentity import StoreLost
from edge.storetx import StoreError
from standard.catalogue import CatalogueError
from standard.configfile import ConfigError
from standard.lazycommands import LazyGroup


# Each capability's commands, and the pages' users (add, reset, disable): imported when used,
# so that 'edge status' does not load numpy for the video analysis, nor SQLAlchemy.
CAPABILITY_COMMANDS = {
    "press": "edge.evaluations.cli:press", "ratings": "edge.evaluations.cli:ratings",
    "check": "edge.supervision.cli:check", "alerts": "edge.supervision.cli:alerts",
    "notice": "edge.supervision.cli:notice",
    "catalogue": "edge.integration.cli:catalogue", "sources": "edge.integration.cli:sources",
    "analyse-video": "edge.presence.cli:analyse_video", "user": "edge.users_cli:user",
}


@click.group(cls=LazyGroup, lazy=CAPABILITY_COMMANDS)
def edge() -> None:
    """The edge box in a district service hall (区行政服务中心)."""


@edge.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
def serve(config_path: Path) -> None:
    """Run the box: web server, store, rules and relay, until Ctrl-C or SIGTERM."""
    from edge.app import SetupError, build_box
    from edge.app import serve as run

    try:
        box = build_box(load_box_config(config_path))
    except (ConfigError, CatalogueError, SetupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        run(box, ready=lambda line: click.echo(line, err=False) or sys.stdout.flush())
    except (StoreLost, StoreError) as exc:  # the database is gone or damaged: no restart loop
        raise StoreUnusable(str(exc)) from None


@edge.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirm", is_flag=True,
              help="Really do it; without it, only say what would be done.")
@click.option("--reason", default="", help="Why (kept in the record the hub receives).")
def reinit(config_path: Path, confirm: bool, reason: str) -> None:
    """Give the box a new, empty database after its own was lost or damaged.

    The old file is kept (renamed box.db.reinit-<time>), the new database's first record tells
    the hub (which raises an integrity alert), and the relay continues after the sequence the
    hub holds for this box. Stop the box first. Logged in <data_dir>/reinit.log.
    """
    from edge.reinit import ReinitError, describe, reinit_store

    config = load_box_config(config_path)
    if not confirm:
        click.echo(f"{config.db_path}: {describe(config)}\n"
                   f"reinit would keep it as {config.db_path.name}.reinit-<time>, make a new "
                   "database and tell the hub. Add --confirm to do it.")
        sys.exit(1)
    try:
        report = reinit_store(config, reason=reason or "(no reason given)")
    except (ReinitError, StoreError, StoreLost, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"re-initialised {report.db} (it was: {report.previous_state}); old file kept "
               f"as {report.kept_as or '(none)'}; new store {report.store_id}; the hub is told "
               "at the next connection")


class StoreUnusable(click.ClickException):
    """The box's database cannot be used; systemd does not restart on this status."""

    exit_code = 78  # EX_CONFIG; hallwatch-box.service: RestartPreventExitStatus=78


@edge.command()
@target_options
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def ingest(target: Target, files: tuple[Path, ...]) -> None:
    """Load case events from JSON, NDJSON or CSV files (backfill, platform exports).

    Exits with status 1 if any record was rejected or conflicts with one already held; those
    records are kept in the quarantine table with the reason (a conflict also opens the
    数据冲突 alert). Loading the same file again is harmless.
    """
    from edge.filefeed import ingest_files
    from edge.supervision import conflict_alert

    catalogue = target.catalogue()
    with target.store() as store:
        result = ingest_files(store, files, show_progress=sys.stderr.isatty(),
                              catalogue=catalogue, on_conflicts=[conflict_alert])
    unknown = sorted({c for c in result.item_codes if c not in catalogue})
    click.echo(f"accepted {result.accepted}, duplicates {result.duplicates}, "
               f"conflicts {len(result.conflicts)}, rejected {len(result.rejected)}")
    if result.cases:
        click.echo(f"{len(result.cases)} cases wait to be judged: run `hallwatch edge check` "
                   "(a running box judges them by itself)")
    for conflict in result.conflicts[:20]:
        click.echo(f"  #{conflict.index}: {conflict.rejection().reason}", err=True)
    for rejection in result.rejected[:20]:
        click.echo(f"  {rejection.source} #{rejection.index}: {rejection.reason}", err=True)
    if len(result.rejected) > 20:
        click.echo(f"  ... and {len(result.rejected) - 20} more (see the quarantine table)",
                   err=True)
    if unknown:
        click.echo(f"warning: items not in the catalogue: {', '.join(unknown[:10])}", err=True)
    if result.rejected or result.conflicts:
        sys.exit(1)


@edge.command()
@target_options
@click.option("--at", "at_text", help="Evaluate as of this ISO date-time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per case.")
@click.option("--open-only", is_flag=True, help="Leave out finished cases.")
def cases(target: Target, at_text: str | None, as_json: bool, open_only: bool) -> None:
    """Cases with deadline, working days remaining, light and reasons."""
    from edge.cases import CaseBoard, CaseFilter
    from standard.deadlines import LightSettings

    at = parse_at(at_text)
    settings = LightSettings()
    if target.config:
        settings = LightSettings(**target.config.lights.model_dump())
    with target.store() as store:
        board = CaseBoard(store, target.catalogue(), target.calendar(), settings)
        rows = board.cases(at, CaseFilter(include_finished=not open_only))
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict(), ensure_ascii=False))
        return
    widths = (22, 18, 10, 6, 12, 10, 15)
    click.echo(columns(("case_no", "item_code", "case_type", "stage", "deadline",
                        "remaining", "light", "reasons"), widths))
    for row in rows:
        remaining = "" if row.remaining_working_days is None else row.remaining_working_days
        light = row.light if row.outcome is None else f"{row.light}/{row.outcome}"
        click.echo(columns((row.case_no, row.item_code, row.case_type or "", row.stage or "",
                            row.deadline.isoformat() if row.deadline else "", str(remaining),
                            light, "；".join(row.reasons)), widths))


@edge.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status(config_path: Path, as_json: bool) -> None:
    """The box's relay (last sequence made, acknowledged, backlog, hub connected and which)
    and its platform sources (watermark, rows, lag, last error)."""
    from edge.integration import latest_reconciliations, source_states, summary_text
    from edge.storeschema import get_meta

    target = Target(load_box_config(config_path).db_path, None, None,
                    load_box_config(config_path))
    with target.reading() as db:
        last_seq = int(get_meta(db.conn, "chain_seq", "0"))
        acked = int(get_meta(db.conn, "relay_acked_seq", "0"))
        heard_at = get_meta(db.conn, "relay_heard_at")
        endpoint = get_meta(db.conn, "relay_endpoint")
        connected = get_meta(db.conn, "relay_connected") == "1" and heard_at is not None and (
            dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(heard_at)
        ).total_seconds() < 10
        rebase_pending = get_meta(db.conn, "rebase") == "pending"
        hub_ahead = get_meta(db.conn, "relay_hub_ahead") or None
        has_sources = db.conn.execute("select 1 from sqlite_master where type = 'table'"
                                      " and name = 'integration_sources'").fetchone()
        now = dt.datetime.now(dt.timezone.utc)
        feeds = [s.as_dict(now) for s in source_states(db)] if has_sources else []
        checks = latest_reconciliations(db, 5) if has_sources else []
    report = {"box_id": target.box_id, "last_seq": last_seq, "acked_seq": acked,
              "backlog": max(last_seq - acked, 0), "hub_connected": connected,
              "last_heard": heard_at, "hub_endpoint": endpoint,
              "rebase_pending": rebase_pending, "hub_ahead": int(hub_ahead) if hub_ahead else None}
    if as_json:
        click.echo(json.dumps({**report, "sources": feeds,
                               "reconciliations": [r.as_dict() for r in checks]},
                              ensure_ascii=False))
        return
    for key, value in report.items():
        click.echo(f"{key:<14}{value}")
    for feed in feeds:
        lag = "" if feed["lag_seconds"] is None else f", lag {feed['lag_seconds']:.0f} s"
        click.echo(f"source {feed['name']} ({feed['kind']}): watermark {feed['watermark']}, "
                   f"rows {feed['rows_read']}, accepted {feed['accepted']}, rejected "
                   f"{feed['rejected']}{lag}" + (f", failures {feed['failures']}: "
                                                 f"{feed['last_error']}" if feed["failures"]
                                                 else ""))
    for check in checks:
        click.echo(f"reconciliation {check.day} {check.origin}: {summary_text(check)}")
