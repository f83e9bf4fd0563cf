"""``hallwatch hub user ...``: add hub web users with a role and scope, reset, disable, list.

A generated password is printed once and never stored in plain text.
"""

from __future__ import annotations

from pathlib import Path

import click

from hub.options import command_config
from hub.services import HUB_ROLES
from hub.users import HubUsers
from hub.wiring import load_city_catalogue, users_path
from standard.catalogue import CatalogueError, departments
from web.userstore import UserError


def _users(config_path: Path) -> HubUsers:
    return HubUsers(users_path(command_config(config_path))).setup()


def _known_depts(config_path: Path) -> list[str]:
    """The city catalogue's department codes (none without a catalogue: scopes are refused)."""
    try:
        catalogue = load_city_catalogue(command_config(config_path))
    except CatalogueError as exc:
        raise click.ClickException(str(exc)) from None
    return list(departments(catalogue))


config_option = click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="hub.toml")
name_option = click.option("--name", "username", required=True,
                           help="User name (2–32 letters, digits, _ . -).")


@click.group()
def user() -> None:
    """Web users of the hub: 市监察局 (city), 区监察室 (district), 市直部门 (department)."""


@user.command("add")
@config_option
@name_option
@click.option("--role", required=True, type=click.Choice(list(HUB_ROLES)),
              help="city: every district; district: one district; department: one department"
                   " (or several) in every district.")
@click.option("--scope", "scope_text", default=None,
              help="district: its code (440605; 440600 the city level); department: its code"
                   " without the district prefix for every district (SCJ, or SCJ,WJJ), or with"
                   " it for one district (440605SCJ). None for city. Checked against the"
                   " city catalogue.")
@click.option("--display-name", default="", help="The person's or office's name, e.g. 南海区监察室.")
@click.option("--admin", is_flag=True, help="May manage users on the dashboard (city users only).")
def add(config_path: Path, username: str, role: str, scope_text: str | None, display_name: str,
        admin: bool) -> None:
    """Add a user and print its generated first password (shown this once)."""
    try:
        password = _users(config_path).add(username, role, scope_text, display_name=display_name,
                                           is_admin=admin, actor="(cli)",
                                           known_depts=_known_depts(config_path))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已添加用户 {username.strip().lower()}（{HUB_ROLES[role]}"
               f"{'，范围 ' + scope_text if scope_text else ''}）")
    click.echo(f"首次登录密码：{password}  （只显示这一次，请登录后修改）")


@user.command("reset")
@config_option
@name_option
def reset(config_path: Path, username: str) -> None:
    """Give the user a new random password (ends its sessions) and print it once."""
    try:
        password = _users(config_path).reset(username, actor="(cli)")
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"用户 {username} 的新密码：{password}  （只显示这一次）")


@user.command("disable")
@config_option
@name_option
@click.option("--enable", is_flag=True, help="Enable a disabled user again instead.")
def disable(config_path: Path, username: str, enable: bool) -> None:
    """Disable a user (its sessions end at once); --enable undoes it."""
    try:
        _users(config_path).disable(username, not enable, actor="(cli)")
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已{'启用' if enable else '停用'}用户 {username}")


@user.command("list")
@config_option
def list_users(config_path: Path) -> None:
    """Every user with role, scope and state."""
    users = _users(config_path)
    scopes = users.scopes()
    for entry in users.users.all():
        state = "disabled" if entry.disabled else "active"
        scope = scopes.get(entry.username, "") or "-"
        click.echo(f"{entry.username:<20}{entry.role:<12}{scope:<16}"
                   f"{state}{' admin' if entry.is_admin else ''}")
