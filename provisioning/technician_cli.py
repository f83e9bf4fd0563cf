"""The technician's commands: ``provision check / bundle / install / selftest / rotate``.

``provisioning/cli.py`` adds ``COMMANDS`` to the ``provision`` group. Each command parses its
options, calls one library function and turns the errors a technician can cause into a
one-line message (exit 1). The path from bare hardware to an enrolled hall::

    hallwatch provision check firmware_cfg/hall-4.toml
    hallwatch provision box --hub-dir /srv/hub ... --profile hall-4.toml --out /srv/box1
    hallwatch provision bundle /srv/box1 --out /media/usb/440605-01.hwb   # prints the code
    hallwatch provision install /media/usb/440605-01.hwb                  # on the box
    hallwatch provision selftest --config /etc/hallwatch/box.toml
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path, PurePosixPath
from typing import Callable

import click

from edge.config import load_box_config
from standard.catalogue import CatalogueError, load_catalogue
from standard.configfile import ConfigError
from edge.profile import ProfileError
from provisioning import bundle as bundles
from provisioning import profilecheck
from provisioning.install import install_bundle
from provisioning.options import USER_ERRORS, force_option
from provisioning.rotate import rotate_box
from provisioning.selftest import SelftestError, SelftestOptions, perform_selftest, selftest_parts

TECHNICIAN_ERRORS = (*USER_ERRORS, bundles.BundleError, SelftestError)


def technician_errors(command: Callable) -> Callable:
    """A clean message instead of a stack trace for every error a technician can cause."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TECHNICIAN_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


config_option = click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The box's box.toml.")


@click.command("check")
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path),
              help="The box's box.toml: every window's dept_code must be a department of its "
                   "catalogue and district.")
@click.option("--catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Without --config: the district's catalogue JSON to check dept_code against.")
@click.option("--district", "district_code", metavar="CODE",
              help="Without --config: the box's district code (with --catalogue).")
def check(profile: Path, config_path: Path | None, catalogue: Path | None,
          district_code: str | None) -> None:
    """Check a hardware profile: every problem at once (exit 1), or OK and a summary.

    With --config (or --catalogue and --district) each window's department must belong to
    the box's district catalogue, as the box checks at start-up.
    """
    try:
        hall = _hall(config_path, catalogue, district_code)
    except (ConfigError, CatalogueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        loaded = profilecheck.check_profile(profile, *hall)
    except ProfileError as exc:
        click.echo(f"{profile}: {len(exc.problems)} 个问题 (problems):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"OK {profile}")
    for line in profilecheck.summary(loaded):
        click.echo(f"  {line}")


def _hall(config_path: Path | None, catalogue: Path | None,
          district_code: str | None) -> tuple[dict | None, str | None]:
    """(catalogue, district code) to check departments against, or (None, None)."""
    if config_path is not None:
        config = load_box_config(config_path)
        return load_catalogue(config.path(config.catalogue)), config.district_code
    if (catalogue is None) != (district_code is None):
        raise click.UsageError("--catalogue and --district go together (or use --config)")
    if catalogue is None:
        return None, None
    return load_catalogue(catalogue), district_code


@click.command("bundle")
@click.argument("box_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle file to write (e.g. on the USB stick).")
@force_option
@technician_errors
def bundle(box_dir: Path, out_file: Path, force: bool) -> None:
    """Pack BOX_DIR into one file for the USB stick; its keys are sealed with an install code.

    The install code is printed once and kept nowhere: give it to the technician by another
    path (phone, SMS, paper), never on the stick.
    """
    path, code = bundles.make_bundle(box_dir, out_file, force=force)
    opened = bundles.open_bundle(path, code)
    sealed = sum(item.secret for item in opened.files)
    click.echo(f"Bundle:  {path}  (box {opened.box_id}, {len(opened.files)} files, "
               f"{sealed} sealed)")
    click.echo(f"安装码 (install code, shown once): {code}")
    click.echo("Give the code to the technician separately from the stick; "
               "it is needed by 'provision install'.")


@click.command("install")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
              show_default=True,
              help="Install under this folder (a mounted SD card's root file system); "
                   "systemctl is only run when it is /.")
@click.option("--code", help="The install code 'provision bundle' printed (asked if absent).")
@click.option("--hallwatch-bin", type=PurePosixPath,
              help="The hallwatch command the unit runs (default: the one running now).")
@force_option
@technician_errors
def install(bundle_file: Path, root: Path, code: str | None, hallwatch_bin: PurePosixPath | None,
            force: bool) -> None:
    """Unpack a bundle into /etc/hallwatch and /var/lib/hallwatch and install the unit."""
    header = bundles.read_bundle(bundle_file)
    click.echo(f"Box {header.get('box_id')} ({header.get('name')}), bundled "
               f"{header.get('created_at')}")
    if code is None:
        code = click.prompt(f"安装码 (install code, {bundles.install_code_hint()})")
    result = install_bundle(bundle_file, code, root, force=force, hallwatch_bin=hallwatch_bin)
    click.echo(f"Configuration:  {result.config_path}")
    click.echo(f"Service unit:   {result.unit_path}")
    owner = result.owner.name if result.owner else "unchanged"
    click.echo(f"Owner:          {owner}; keys 0600 in a 0700 folder")
    click.echo(f"Hub sign-key fingerprint: {result.hub_fingerprint} (compare with hub-init's)")
    for note in result.notes:
        click.echo(f"Note: {note}")
    click.echo("Next:")
    for command in result.next_commands:
        click.echo(f"  {command}")


@click.command("selftest")
@config_option
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Press the keys from this JSON script on mock pins (tests, rehearsals) "
                   "instead of waiting for real presses.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the JSON report (default: DATA_DIR/selftest/...).")
@click.option("--key-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds to wait for each key press.")
@click.option("--camera-seconds", default=3.0, show_default=True,
              type=click.FloatRange(0.2, 60), help="Seconds to read each camera.")
@click.option("--skip", multiple=True, type=click.Choice(["keys", "cameras", "hub"]),
              help="Leave a part out (repeatable).")
@technician_errors
def selftest(config_path: Path, script: Path | None, report_path: Path | None,
             key_timeout: float, camera_seconds: float, skip: tuple[str, ...]) -> None:
    """Walk through the hall's keys and cameras, check clock, calendar, disk and hub.

    Exits 1 if any check failed. Stop the box service first: the self-test needs the pins.
    """
    config = load_box_config(config_path)
    options = SelftestOptions(key_timeout=key_timeout, camera_seconds=camera_seconds,
                              skip=frozenset(skip))
    outcome = perform_selftest(config, selftest_parts(config, script), options, say=click.echo,
                               report_path=report_path)
    counts = outcome.report["counts"]
    click.echo(f"== {'通过 (passed)' if outcome.ok else '未通过 (FAILED)'}: ok {counts['ok']}, "
               f"warn {counts['warn']}, fail {counts['fail']}, skip {counts['skip']} ==")
    click.echo(f"Report: {outcome.report_path}")
    if outcome.queued_seq is not None:
        click.echo(f"Queued for the hub as outbox record {outcome.queued_seq}")
    if not outcome.ok:
        sys.exit(1)


@click.command("rotate")
@config_option
@click.option("--hub-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The hub folder: enroll the new keys at once (online). Without it a "
                   "rotation request is written for the hub operator (offline).")
@click.option("--force", is_flag=True,
              help="Rotate even though an earlier offline request still waits for the hub.")
@technician_errors
def rotate(config_path: Path, hub_dir: Path | None, force: bool) -> None:
    """Give the box new keys and retire the old ones; queued records are kept."""
    result = rotate_box(config_path, hub_dir=hub_dir, force=force)
    click.echo(f"Box {result.box_id}: new keys (sign-key fingerprint {result.old_fingerprint} "
               f"-> {result.new_fingerprint}); the old keys are deleted")
    if result.enrolled:
        click.echo(f"Enrolled at {hub_dir}. A running box reconnects with the new keys within "
                   "seconds; nothing queued is lost.")
    else:
        click.echo(f"Rotation request: {result.request_file}")
        click.echo("Take it to the hub operator: hallwatch hub enroll-rotation --config hub.toml "
                   f"{result.request_file.name}")
        click.echo("Until then the hub refuses this box; its records wait in the outbox.")


COMMANDS = (check, bundle, install, selftest, rotate)
