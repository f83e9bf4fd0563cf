"""``hallwatch provision``: create hub and box identities and enroll boxes.

Each command parses its options, calls one function of ``standard.identity`` and turns
its errors into a one-line message. Online (the hub folder is reachable)::

    hallwatch provision hub-init --dir /srv/hub
    hallwatch provision box --hub-dir /srv/hub --district 440605 --name 南海大厅 --out /srv/box1

Offline (the technician cannot reach the hub)::

    hallwatch provision request --out box1 --district 440605 --name ... --box-id 440605-03
    hallwatch provision approve --hub-dir /srv/hub box1/enroll-request.json --out approval.json
    hallwatch provision accept --box-dir box1 approval.json
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import click

from hub.api_token import token_path
from hub.config import HubConfig, load_hub_config
from provisioning import enrollment
from provisioning.options import USER_ERRORS, force_option
from provisioning.technician_cli import COMMANDS as TECHNICIAN_COMMANDS
from standard import boxregistry, identity
from standard.districts import DISTRICTS
from standard.envelope import fingerprint


def user_errors(command: Callable) -> Callable:
    """Turn errors a technician can cause into a clean message instead of a stack trace."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _load_hub(hub_dir: Path) -> HubConfig:
    return load_hub_config(hub_dir / "hub.toml")


district_option = click.option(
    "--district", "district_code", required=True, metavar="CODE",
    help="District code: " + ", ".join(f"{code} {name}" for code, name in DISTRICTS.items()),
)
name_option = click.option("--name", required=True, help="The service hall's name.")
catalogue_option = click.option(
    "--catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Item catalogue JSON to copy into the box folder as catalogue.json.",
)
profile_option = click.option(
    "--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Hardware profile TOML (firmware_cfg/*.toml), checked and copied as profile.toml.",
)
calendar_option = click.option(
    "--calendar-overrides", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Calendar override JSON (next year's days, closures), copied as calendar.json.",
)
hub_dir_option = click.option(
    "--hub-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The hub folder made by hub-init (holds hub.toml).",
)


@click.group(name="provision")
def provision() -> None:
    """Create hub and box identities, and enroll boxes at the hub."""


@provision.command("hub-init")
@click.option("--dir", "hub_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the hub's keys, hub.toml and enrolled boxes.")
@click.option("--bind", default=HubConfig.model_fields["bind"].default, show_default=True,
              help="Where the hub listens. Loopback by default: listening on the network is "
                   "the deployer's explicit choice.")
@click.option("--public-endpoint", help="The endpoint boxes dial (default: the --bind address).")
@force_option
@user_errors
def hub_init(hub_dir: Path, bind: str, public_endpoint: str | None, force: bool) -> None:
    """Create the hub's identity, hub.public.json, boxes/ and hub.toml."""
    config, hub = enrollment.init_hub(
        hub_dir, bind=bind, public_endpoint=public_endpoint, force=force
    )
    click.echo(f"Hub keys:       {config.path(config.identity)} (secret, mode 0600)")
    click.echo(f"Hub public:     {config.path(identity.HUB_PUBLIC_FILE)}")
    click.echo(f"Configuration:  {config.path('hub.toml')}")
    click.echo(f"Boxes dial:     {config.public_endpoint}")
    click.echo(f"12345 API token: {token_path(config)} (secret, mode 0600; give its content "
               "to the 12345 hotline system; 'hallwatch hub token' writes a new one)")
    click.echo(f"Hub sign-key fingerprint: {fingerprint(hub.sign_public)}")
    click.echo("Keep it: technicians compare it when they accept an offline approval.")
    _echo_unit(config)


@provision.command("hub-unit")
@click.option("--dir", "hub_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The hub folder made by hub-init (holds hub.toml).")
@user_errors
def hub_unit(hub_dir: Path) -> None:
    """Write the hub's systemd unit (hallwatch-hub.service) into the hub folder again."""
    _echo_unit(_load_hub(hub_dir))


def _echo_unit(config: HubConfig) -> None:
    from provisioning.hubunit import install_commands, write_hub_unit

    unit = write_hub_unit(config)
    click.echo(f"systemd unit:   {unit} (to run the hub as a service, as root:)")
    for command in install_commands(unit):
        click.echo(f"  {command}")


@provision.command("box")
@hub_dir_option
@district_option
@name_option
@click.option("--out", "box_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The new box folder.")
@click.option("--box-id", help="Default: DISTRICT-NN, after the district's enrolled boxes.")
@catalogue_option
@profile_option
@calendar_option
@force_option
@user_errors
def box(hub_dir: Path, district_code: str, name: str, box_dir: Path, box_id: str | None,
        catalogue: Path | None, profile: Path | None, calendar_overrides: Path | None,
        force: bool) -> None:
    """Create a box folder and enroll the box at the hub (online path)."""
    hub_config = _load_hub(hub_dir)
    new_box, config = enrollment.provision_box(
        hub_config, box_dir, district_code, name, box_id=box_id, catalogue=catalogue, force=force,
        profile=profile, calendar_overrides=calendar_overrides,
    )
    click.echo(f"Box {new_box.box_id} ({config.district_name} {name}) enrolled at {hub_dir}")
    _echo_box_files(config.base_dir)
    click.echo(f"Relays to:      {', '.join(config.relay.endpoints)}")


def _echo_box_files(base_dir: str) -> None:
    base = Path(base_dir)
    click.echo(f"Configuration:  {base / 'box.toml'}")
    click.echo(f"Box keys:       {base / identity.BOX_IDENTITY_FILE} (secret, mode 0600)")
    click.echo(f"Platform token: {base / identity.PLATFORM_TOKEN_FILE} (secret, mode 0600)")


@provision.command("request")
@click.option("--out", "box_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The new box folder.")
@district_option
@name_option
@click.option("--box-id", required=True,
              help="The box id, e.g. 440605-03: ask the hub operator (offline, it cannot "
                   "be numbered for you).")
@catalogue_option
@profile_option
@calendar_option
@force_option
@user_errors
def request(box_dir: Path, district_code: str, name: str, box_id: str, catalogue: Path | None,
            profile: Path | None, calendar_overrides: Path | None, force: bool) -> None:
    """Create a box folder without the hub and write enroll-request.json (offline path)."""
    new_box = identity.new_box_identity(box_id, district_code, name)
    config = enrollment.create_box_dir(box_dir, new_box, catalogue=catalogue, force=force,
                                     profile=profile, calendar_overrides=calendar_overrides)
    path = enrollment.make_request(box_dir)
    click.echo(f"Box {new_box.box_id} created, not yet enrolled.")
    _echo_box_files(config.base_dir)
    click.echo(f"Enrollment request: {path}  (take it to the hub operator: provision approve)")


@provision.command("approve")
@hub_dir_option
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the signed approval.")
@force_option
@user_errors
def approve(hub_dir: Path, request_file: Path, out_file: Path, force: bool) -> None:
    """Enroll a box from its enroll-request.json and write a signed approval."""
    enrolled, hub_fingerprint = enrollment.approve_request(
        _load_hub(hub_dir), request_file, out_file, force=force
    )
    click.echo(f"Box {enrolled.box_id} enrolled; approval written to {out_file}")
    click.echo(f"Hub sign-key fingerprint: {hub_fingerprint}")


@provision.command("accept")
@click.option("--box-dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The box folder made by 'provision request'.")
@click.argument("approval_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--endpoint", help="The hub endpoint to dial (default: the one in the approval).")
@click.option("--fingerprint", "expected",
              help="The hub sign-key fingerprint hub-init printed; without it you are "
                   "asked to compare.")
@force_option
@user_errors
def accept(box_dir: Path, approval_file: Path, endpoint: str | None, expected: str | None,
           force: bool) -> None:
    """Install the hub keys from a signed approval and point the box's relay at the hub."""
    hub = enrollment.check_approval(box_dir, approval_file)
    click.echo(f"Hub sign-key fingerprint: {hub.fingerprint}")
    if expected is None:
        click.confirm("Is this the fingerprint hub-init printed?", abort=True)
    elif expected.strip().lower() != hub.fingerprint:
        raise click.ClickException(
            f"fingerprint does not match {expected!r}: do not trust this approval"
        )
    hub = enrollment.accept_approval(box_dir, approval_file, endpoint=endpoint, force=force)
    click.echo(f"Hub keys installed in {box_dir / identity.BOX_HUB_PUBLIC_FILE}")
    click.echo(f"Relays to: {endpoint or hub.endpoint}")


@provision.command("list")
@hub_dir_option
@user_errors
def list_boxes(hub_dir: Path) -> None:
    """List the boxes enrolled at the hub."""
    for enrolled in boxregistry.list_enrolled(_load_hub(hub_dir)):
        state = f"revoked {enrolled.revoked_at}" if enrolled.revoked else "active"
        click.echo(f"{enrolled.box_id}\t{enrolled.district_code}\t{enrolled.name}\t"
                   f"enrolled {enrolled.enrolled_at}\t{state}")


@provision.command("revoke")
@hub_dir_option
@click.argument("box_id")
@user_errors
def revoke(hub_dir: Path, box_id: str) -> None:
    """Revoke a box: the hub refuses its batches from then on."""
    revoked = boxregistry.revoke_box(_load_hub(hub_dir), box_id)
    click.echo(f"Box {revoked.box_id} revoked at {revoked.revoked_at}")


# The technician's commands: check, bundle, install, selftest, rotate.
for _command in TECHNICIAN_COMMANDS:
    provision.add_command(_command)
