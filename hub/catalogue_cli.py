"""``hallwatch hub catalogue import``: the province's Excel catalogue as catalogue JSON, before
``hallwatch hub publish --kind catalogue`` sends it to the boxes.

The workbook logic is the box's too (``standard/catalogue_workbook.py``); this is its thin
command on the hub.

Example::

    hallwatch hub catalogue import 省级事项目录.xlsx --out catalogue.json
    hallwatch hub publish --config hub.toml --kind catalogue catalogue.json
"""

from __future__ import annotations

from pathlib import Path

import click

from standard.catalogue import CatalogueError
from standard.catalogue_workbook import WorkbookError, import_workbook
from standard.configfile import ConfigError


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

    Nothing is written when any row is refused; every refused row is named. Publish the
    result with ``hallwatch hub publish --kind catalogue``.
    """
    try:
        lines = import_workbook(workbook, out, mapping=mapping, current=current)
    except (WorkbookError, ConfigError, CatalogueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("\n".join(lines))
