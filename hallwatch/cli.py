"""The ``hallwatch`` command: one group, a subgroup per process."""

from __future__ import annotations

import logging

import click

from edge.cli import edge
from hallwatch.demo import demo
from hallwatch.standard_cli import standard
from hub.cli import hub
from provisioning.cli import provision


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """hallwatch: electronic supervision for government service halls (电子监察系统)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


main.add_command(edge)
main.add_command(hub)
main.add_command(provision)
main.add_command(demo)
main.add_command(standard)
