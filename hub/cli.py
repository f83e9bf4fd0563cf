"""``hallwatch hub ...``: run the city hub and inspect what it holds."""

from __future__ import annotations

import click


@click.group()
def hub() -> None:
    """The city hub (市电子监察中心): receives every district box's records."""
