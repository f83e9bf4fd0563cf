"""What the technicians' commands share: the errors they turn into one-line messages, and
``--force``. Both ``provisioning/cli.py`` and ``provisioning/technician_cli.py`` use it."""

from __future__ import annotations

import click

from standard.catalogue import CatalogueError
from standard.configfile import ConfigError
from standard.districts import UnknownDistrict
from standard.envelope import EnvelopeError
from standard.identity import IdentityError

USER_ERRORS = (IdentityError, EnvelopeError, ConfigError, UnknownDistrict, CatalogueError)

force_option = click.option(
    "--force", is_flag=True, help="Overwrite existing key and config files."
)
