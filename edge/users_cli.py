"""``hallwatch edge user add|reset|disable|enable|list``: the box's page users from a shell.

Thin commands: open the box's store from ``--config``, call one ``UserStore`` method, print
the result. A generated password is printed once and never stored in plain text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from edge.config import load_box_config
from edge.store import Store
from edge.storeidentity import StoreLost
from edge.storetx import StoreError
from standard.catalogue import CatalogueError, departments, load_catalogue
from standard.configfile import ConfigError
from standard.districts import dept_checker


@click.group("user")
def user() -> None:
    """Users of the hall manager's pages (大厅管理页面用户)."""


def config_option(command):
    @click.option("--config", "config_path", required=True,
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The box's box.toml; users live in its database.")
    @functools.wraps(command)
    def wrapped(config_path: Path, **kwargs):
        return command(config_path, **kwargs)

    return wrapped


@contextmanager
def user_store(config_path: Path) -> Iterator:
    """The box's users; a department user's --dept must be one of the box's catalogue's
    departments of its own district (standard/districts.py ``check_dept_scope``)."""
    from web.userstore import UserStore

    try:
        config = load_box_config(config_path)
        catalogue = load_catalogue(config.path(config.catalogue))
        store = Store(config.db_path, box_id=config.box_id, marker=config.store_marker).open()
    except (ConfigError, StoreError, StoreLost, CatalogueError) as exc:
        raise click.ClickException(str(exc)) from None
    check = dept_checker(departments(catalogue), config.district_code)
    try:
        yield UserStore(store, check_dept=check).setup()
    finally:
        store.close()


@contextmanager
def refused() -> Iterator[None]:
    """Turn a refused change (bad name, unknown user) into a clear error, not a traceback."""
    from web.userstore import UserError

    try:
        yield
    except UserError as exc:
        raise click.ClickException(str(exc)) from None


def announce(username: str, password: str) -> None:
    click.echo(f"用户 {username} 的密码：{password}")
    click.echo("（只显示这一次，请以安全方式交给本人；这是一次性密码，首次登录时须设置自己的密码 / shown once)")


@user.command("add")
@config_option
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["manager", "supervisor", "department", "technician", "auditor"]),
              help="manager 大厅管理员, supervisor 区监察室, department 审批部门 (with --dept), "
                   "technician 技术员, auditor 只读审计.")
@click.option("--dept", "dept_code", default=None, metavar="CODE",
              help="department only: its code in the box's catalogue, e.g. 440605SCJ; the user "
                   "sees only this department's cases, alerts, cards and notices.")
@click.option("--name", "display_name", default="", help="Display name, e.g. 王芳.")
@click.option("--admin", is_flag=True, help="May manage users on the 用户管理 page.")
def add(config_path: Path, username: str, role: str, dept_code: str | None, display_name: str,
        admin: bool) -> None:
    """Add a user with a generated password (printed once)."""
    with user_store(config_path) as users, refused():
        password = users.add(username, display_name, role, is_admin=admin, dept_code=dept_code,
                             actor="(cli)")
    announce(username.strip().lower(), password)


@user.command("reset")
@config_option
@click.argument("username")
def reset(config_path: Path, username: str) -> None:
    """Give a user a new generated password (printed once); their sessions end."""
    with user_store(config_path) as users, refused():
        password = users.reset_password(username, actor="(cli)")
    announce(username, password)


@user.command("disable")
@config_option
@click.argument("username")
def disable(config_path: Path, username: str) -> None:
    """Disable a user: they cannot sign in, and their sessions end."""
    with user_store(config_path) as users, refused():
        users.set_disabled(username, True, actor="(cli)")
    click.echo(f"已停用用户 {username} (disabled)")


@user.command("enable")
@config_option
@click.argument("username")
def enable(config_path: Path, username: str) -> None:
    """Enable a disabled user again."""
    with user_store(config_path) as users, refused():
        users.set_disabled(username, False, actor="(cli)")
    click.echo(f"已启用用户 {username} (enabled)")


@user.command("list")
@config_option
def list_users(config_path: Path) -> None:
    """List the users, their roles and when they last signed in."""
    with user_store(config_path) as users:
        rows = users.all()
    for row in rows:
        flags = ("admin " if row.is_admin else "") + ("disabled" if row.disabled else "")
        click.echo(f"{row.username:<20}{row.role:<12}{row.dept_code or '-':<14}"
                   f"{row.display_name:<12}"
                   f"{row.last_login_at or '-':<27}{flags}")
