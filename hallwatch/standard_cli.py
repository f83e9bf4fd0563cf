"""``hallwatch standard``: the data-exchange standard, for platform vendors.

    hallwatch standard validate export.ndjson ratings.json catalogue.json
"""

from __future__ import annotations

from pathlib import Path

import click

from edge.vendorcheck import KINDS, Accepted, CheckError, check_file


@click.group()
def standard() -> None:
    """数据交换标准：供平台厂商自检 (the data-exchange standard, for platform vendors)."""


@standard.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), default="auto", show_default=True,
              help="event (办件过程记录), evaluation (好差评) or catalogue (事项目录); auto "
                   "guesses from each file (a catalogue has 'items', an evaluation "
                   "'evaluation_id').")
def validate(files: tuple[Path, ...], kind: str) -> None:
    """Judge FILES (JSON array, NDJSON or CSV) exactly as the box would, storing nothing.

    Prints each refused record's problems with the field named, in Chinese and English, and
    notes for records the box takes only for compatibility. Record numbers (#N) are the
    box's `index`: from 0, the NDJSON line number or CSV data row minus one. A record that
    re-uses an id from earlier in the run with other content is refused as the box refuses a
    conflicting re-send. Exits 1 when any record would be refused.
    """
    refused = False
    accepted = Accepted()  # one box receiving the files in turn: a re-send is compared
    for path in files:
        try:
            report = check_file(path, kind, accepted)
        except CheckError as exc:
            raise click.ClickException(str(exc)) from None
        for problem in report.problems:
            click.echo(f"{path}: {problem.line()}")
        click.echo(f"{path}: {report.summary()}")
        refused = refused or not report.ok
    if refused:
        raise SystemExit(1)
