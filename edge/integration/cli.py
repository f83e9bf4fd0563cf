"""``hallwatch edge catalogue import`` and ``hallwatch edge sources check | reconcile``.

Thin commands: each parses its options, calls one library function and turns the library's
errors into ``click.ClickException``. edge/cli.py adds ``COMMANDS`` to the ``edge`` group.

Example::

    hallwatch edge catalogue import 事项目录.xlsx --out catalogue.json
    hallwatch edge sources check --config box.toml
    hallwatch edge sources reconcile --config box.toml --date 2026-11-02
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from edge.config import load_box_config
from edge.ingest import validate
from edge.integration.config import source_mapping, source_url
from edge.integration.intake import map_rows
from edge.integration.mapping import RowMapper
from edge.integration.pull import DatabaseReader, day_bounds
from edge.integration.reconcile import reconcile_counts
from edge.integration.state import INTEGRATION_SCHEMA
from edge.integration.tables import SUFFIXES
from edge.store import Store
from edge.storetx import StoreError
from edge.supervision import SUPERVISION_SCHEMA
from standard.catalogue import CatalogueError
from standard.catalogue_workbook import WorkbookError, import_workbook
from standard.configfile import ConfigError

PREVIEW_ROWS = 3


@click.group()
def catalogue() -> None:
    """The item catalogue (事项目录) from the province's Excel workbook."""


@catalogue.command("import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The catalogue JSON to write (compared with it first when it exists).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML naming the workbook's columns, when its headers are not recognised.")
@click.option("--current", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The catalogue in force, to report what changed (default: --out).")
def import_catalogue(workbook: Path, out: Path, mapping: Path | None,
                     current: Path | None) -> None:
    """Turn a province-style workbook into catalogue JSON, row by row, and say what changed.

    Nothing is written when any row is refused; every refused row is named.
    """
    try:
        lines = import_workbook(workbook, out, mapping=mapping, current=current)
    except (WorkbookError, ConfigError, CatalogueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("\n".join(lines))


@click.group()
def sources() -> None:
    """The platform sources of box.toml's [[sources]] (中间库, drop folders)."""


config_option = click.option("--config", "config_path", required=True,
                             type=click.Path(exists=True, dir_okay=False, path_type=Path),
                             help="box.toml with [[sources]].")


@sources.command()
@config_option
def check(config_path: Path) -> None:
    """Check each source: its mapping, the database or folder, and the first rows mapped.

    Reads only; stores nothing. Exits with status 1 when a source has a problem.
    """
    try:
        config = load_box_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not config.sources:
        click.echo("box.toml has no [[sources]]")
        return
    failed = False
    for section in config.sources:
        try:
            lines = _check_source(section, Path(config.base_dir))
            click.echo(f"{section.name}: ok")
        except (ConfigError, OSError, ValueError) as exc:
            lines, failed = [str(exc)], True
            click.echo(f"{section.name}: 有问题 (problem)")
        except Exception as exc:  # noqa: BLE001 - the database's own errors, named as they are
            lines, failed = [f"{type(exc).__name__}: {exc}".splitlines()[0]], True
            click.echo(f"{section.name}: 有问题 (problem)")
        for line in lines:
            click.echo(f"  {line}")
    if failed:
        raise SystemExit(1)


def _check_source(section, base_dir: Path) -> list[str]:
    mapper = RowMapper(source_mapping(section, base_dir))
    if section.kind == "folder":
        folder = base_dir / section.folder
        waiting = [p.name for p in folder.glob("*") if p.suffix.lower() in SUFFIXES] \
            if folder.is_dir() else []
        return [f"folder {folder}" + ("" if folder.is_dir() else "（尚不存在，将自动创建）"),
                f"{len(waiting)} file(s) waiting"]
    reader = DatabaseReader(source_url(section, base_dir), watermark=section.watermark,
                            table=section.table, query=section.query)
    try:
        with reader.engine().connect() as conn:
            columns = reader.columns(conn)
        missing = mapper.missing_columns(columns)
        if missing:
            raise ValueError(f"columns missing from {section.table or 'the query'}: "
                             f"{'; '.join(missing)}")
        batch = reader.read(None, PREVIEW_ROWS)
    finally:
        reader.close()
    lines = [f"database {reader.shown_url}, {len(columns)} columns"]
    records, refused = map_rows(mapper, enumerate(batch.rows))
    for index, text in records:
        outcome = validate(index, text)
        lines.append(text if hasattr(outcome, "event_id") else f"refused: {outcome.reason}")
    lines += [f"refused: {r.reason}" for r in refused]
    return lines


@sources.command("reconcile")
@config_option
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The day to reconcile (local date).")
def reconcile_day(config_path: Path, day: dt.datetime) -> None:
    """Reconcile one day now for each 中间库 source with a [sources.reconcile] query."""
    try:
        config = load_box_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    chosen = [s for s in config.sources if s.reconcile is not None]
    if not chosen:
        raise click.ClickException("no source has a [sources.reconcile] query")
    store = Store(config.db_path, box_id=config.box_id)
    store.extra_schema += [SUPERVISION_SCHEMA, INTEGRATION_SCHEMA]
    try:
        store.open()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        for section in chosen:
            reader = DatabaseReader(source_url(section, Path(config.base_dir)),
                                    watermark=section.watermark, table=section.table,
                                    query=section.query)
            try:
                figures = reader.counts(section.reconcile.query, day_bounds(day.date()))
            finally:
                reader.close()
            result = store.write(lambda tx: reconcile_counts(tx, day.date(), f"中间库 {section.name}",
                                                      figures))
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    finally:
        store.close()


COMMANDS = (catalogue, sources)
