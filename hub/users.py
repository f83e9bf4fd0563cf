"""The hub's web users: web/userstore.py's UserStore with hub roles, plus each user's scope.

Roles are ``city`` (市监察局), ``district`` (区监察室, scope: a district code, 440600 for the
city level) and ``department`` (scope: department suffixes such as ``SCJ`` or ``SCJ,WJJ`` for a
city department in every district, or ``440605SCJ`` for one department of one district). The scope
is kept next to the users, in ``hub_user_scopes`` of the same file (``data/users.db``); a user
without a valid scope sees nothing (fail closed).

Example::

    users = HubUsers(Path("data/users.db")).setup()
    password = users.add("nanhai", "district", "440605", display_name="南海区监察室")
    users.scope_of("nanhai")     # Scope(role='district', districts=('440605',), depts=())
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hub.services import HUB_ROLES, Scope, ScopeError
from web.userstore import UserError, UserStore

FIRST_ADMIN = "admin"
SCOPE_SCHEMA = ("create table if not exists hub_user_scopes ("
                " username text primary key, scope text not null)")


class HubUsers:
    def __init__(self, path: Path, **options):
        # The hub keeps a user's scope beside it (hub_user_scopes), not in users.dept_code.
        self.users = UserStore(Path(path), roles=HUB_ROLES, dept_roles=frozenset(), **options)

    def setup(self) -> HubUsers:
        self.users.setup()
        self.users.db.write(lambda tx: tx.conn.execute(SCOPE_SCHEMA))
        return self

    def add(self, username: str, role: str, scope_text: str | None = None, *,
            display_name: str = "", is_admin: bool = False, password: str | None = None,
            known_depts: Iterable[str] | None = None, actor: str = "") -> str:
        """Add a user with a role and scope; returns the password (generated unless given).

        A generated password is a one-time one, changed at the first sign-in (``UserStore.add``).
        ``known_depts``, the city catalogue's department codes, refuses a department scope
        that no catalogue knows, naming the wrong part (the commands and the page pass it).
        """
        try:
            scope = Scope.for_user(role, scope_text)
            if known_depts is not None:
                scope.check_known(known_depts)
        except ScopeError as exc:
            raise UserError(str(exc)) from None
        if is_admin and role != "city":
            raise UserError("只有市监察局用户可以管理用户 (only city users can be administrators)")
        password = self.users.add(username, display_name, role, is_admin=is_admin,
                                  password=password, actor=actor)
        self._set_scope(username, scope.text)
        return password

    def _set_scope(self, username: str, text: str) -> None:
        self.users.db.write(lambda tx: tx.conn.execute(
            "insert into hub_user_scopes (username, scope) values (?, ?) on conflict(username)"
            " do update set scope = excluded.scope", (username.strip().lower(), text)))

    def scope_text(self, username: str) -> str:
        rows = self.users.db.query("select scope from hub_user_scopes where username = ?",
                                   (username.strip().lower(),))
        return rows[0]["scope"] if rows else ""

    def scope_of(self, username: str) -> Scope | None:
        """The user's scope, or None when the user is unknown or the scope does not fit."""
        user = self.users.get(username)
        if user is None or user.disabled:
            return None
        try:
            return Scope.for_user(user.role, self.scope_text(username))
        except ScopeError:
            return None

    def scopes(self) -> dict[str, str]:
        return {row["username"]: row["scope"]
                for row in self.users.db.query("select username, scope from hub_user_scopes")}

    def ensure_first_admin(self) -> tuple[str, str] | None:
        """With no users at all: a city administrator ``admin`` with a random password."""
        if self.users.db.query("select count(*) as n from users")[0]["n"]:
            return None
        password = self.add(FIRST_ADMIN, "city", None, display_name="市监察局管理员",
                            is_admin=True, actor="(first start)")
        return FIRST_ADMIN, password

    def reset(self, username: str, *, actor: str = "") -> str:
        return self.users.reset_password(username, actor=actor)

    def disable(self, username: str, disabled: bool = True, *, actor: str = "") -> None:
        self.users.set_disabled(username, disabled, actor=actor)

