"""The ``hallwatch`` command: one group, a subgroup per process.

Each subgroup is imported when it is invoked (or listed by ``--help``), not when the command
starts: ``hallwatch hub status`` does not load the box's modules, nor ``edge status`` the hub's
(standard/lazycommands.py).
"""

from __future__ import annotations

import logging

import click

from standard.lazycommands import LazyGroup

SUBCOMMANDS = {
    "edge": "edge.cli:edge",
    "hub": "hub.cli:hub",
    "provision": "provisioning.cli:provision",
    "demo": "hallwatch.demo:demo",
    "standard": "hallwatch.standard_cli:standard",
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """hallwatch: electronic supervision for government service halls (电子监察系统)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
