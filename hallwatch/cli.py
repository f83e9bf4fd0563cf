"""The ``hallwatch`` command: one group, a subgroup per process.

Each subgroup is imported when it is invoked (or listed by ``--help``), not when the command
starts: ``hallwatch hub status`` does not load the box's modules, nor ``edge status`` the hub's.
Tests and operators start these commands many times; every import costs start-up time.
"""

from __future__ import annotations

import importlib
import logging

import click

# name -> "module:attribute" of the subgroup or command, in the order ``--help`` lists them
SUBCOMMANDS = {
    "edge": "edge.cli:edge",
    "hub": "hub.cli:hub",
    "provision": "provisioning.cli:provision",
    "demo": "hallwatch.demo:demo",
    "standard": "hallwatch.standard_cli:standard",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented pattern)."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx)
                              if name not in self.lazy)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, attribute = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """hallwatch: electronic supervision for government service halls (电子监察系统)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
