"""A click group whose subcommands are imported on first use, for quick command start-up.

``hallwatch hub status`` has no use for the box's modules, nor ``hallwatch edge status`` for
the video analysis' numpy; yet a group that imports every subcommand's module loads them all
before it parses its arguments (seconds on a busy box, for every command an operator or a
test starts). A lazy subcommand is named by ``"module:attribute"``::

    @click.group(cls=LazyGroup, lazy={"user": "hub.users_cli:user"})
    def hub() -> None: ...

``group.commands[name]`` and ``group.get_command(ctx, name)`` import it; ``--help`` lists every
command, sorted, as click does.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyCommands(dict):
    """``name -> click.Command``; a lazy one is imported when it is first looked up."""

    def __init__(self, lazy: dict[str, str]):
        super().__init__()
        self.lazy = lazy

    def __missing__(self, name: str) -> click.Command:
        if name not in self.lazy:
            raise KeyError(name)
        module, attribute = self.lazy[name].split(":")
        command = getattr(importlib.import_module(module), attribute)
        self[name] = command
        return command

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def names(self) -> list[str]:
        return sorted(set(self) | set(self.lazy))


class LazyGroup(click.Group):
    """A ``click.Group`` with ``lazy={name: "module:attribute"}`` subcommands."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        commands = LazyCommands(lazy)
        commands.update(self.commands)
        self.commands = commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self.commands.names()
