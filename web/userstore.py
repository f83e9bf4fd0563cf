"""Web users in SQLite: roles, scrypt password hashes, the sign-in log, lockout and sessions.

``UserStore`` works on its own SQLite file (give a path: ``web/userdb.py``) or inside the box's
store (give any object with ``write(fn(tx))`` running ``fn`` in one transaction with
``tx.conn``, and ``query(sql, params)`` returning dicts). It does not import ``edge``, so the hub can use it. The same database holds the server-side
sessions (``web/sessions.py``) and the per-account lockout (``web/lockout.py``): a password
change, reset or a disabled account ends the user's sessions in the same transaction.

A generated password (the first administrator's, a new user's, a reset) is a one-time
password: someone else has seen it, so the user must choose a new one at the first sign-in
(``must_change_password``; ``web/auth.py`` sends them to 修改密码 before any other page).

Example::

    users = UserStore(Path("data/users.db")).setup()
    password = users.add("zhangsan", "张三", "manager")   # generated, shown once
    user = users.authenticate("zhangsan", password, "127.0.0.1")
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from web import lockout, sessions
from web.lockout import FAILURE_WINDOW, MAX_FAILURES, locked_message
from web.userdb import FileDatabase

log = logging.getLogger(__name__)

BOX_ROLES: dict[str, str] = {
    "manager": "大厅管理员",
    "supervisor": "区监察室",
    "department": "审批部门",
    "technician": "技术员",
    "auditor": "只读审计",
}
# Roles whose users belong to one department (``dept_code``) and see only its records.
BOX_DEPT_ROLES = frozenset({"department"})
FIRST_ADMIN = "admin"
MIN_PASSWORD = 10
# Letters and digits that cannot be misread off a screen (no 0/O, 1/l/I).
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")

SCHEMA = (
    "create table if not exists users ("
    " id integer primary key, username text not null unique, display_name text not null,"
    " role text not null, is_admin integer not null default 0, password_hash text not null,"
    " disabled integer not null default 0, session_epoch integer not null default 0,"
    " created_at text not null, updated_at text not null, last_login_at text,"
    " must_change_password integer not null default 0, dept_code text)",
    "create table if not exists auth_log ("
    " id integer primary key, at text not null, username text not null,"
    " remote_addr text not null, event text not null, actor text, detail text)",
    "create index if not exists auth_log_by_user on auth_log(username, remote_addr, event, at)",
    *sessions.SCHEMA,
    *lockout.SCHEMA,
)
# Columns added after the first release: (table, column, definition) for older files.
ADDED_COLUMNS = (("users", "must_change_password", "integer not null default 0"),
                 ("users", "dept_code", "text"))


class UserError(ValueError):
    """A user cannot be added or changed as asked; the message says why, in Chinese."""


class LoginFailed(Exception):
    """Wrong user name or password (or a disabled user)."""


class LoginLocked(LoginFailed):
    """Too many failed attempts for this account; try again later."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    is_admin: bool
    disabled: bool
    session_epoch: int
    created_at: str
    last_login_at: str | None
    role_name: str = ""
    must_change_password: bool = False
    dept_code: str | None = None  # a department user's own department (440605SCJ)


def generate_password(length: int = 14) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UserStore:
    """Users, their roles and the sign-in log."""

    def __init__(self, target: Path | str | Any, *, roles: dict[str, str] = BOX_ROLES,
                 clock: Callable[[], dt.datetime] = _utc_now,
                 dept_roles: frozenset[str] = BOX_DEPT_ROLES,
                 check_dept: Callable[[str], str] | None = None):
        """``check_dept(code)`` returns the department code as stored, or raises ValueError
        naming what is wrong (the box checks its catalogue and district); without it any
        code is taken."""
        self.db = FileDatabase(Path(target)) if isinstance(target, (str, Path)) else target
        self.roles = roles
        self.clock = clock
        self.dept_roles = dept_roles
        self.check_dept = check_dept

    def setup(self) -> UserStore:
        """Create the tables if they are missing (safe to call at every start)."""
        def create(tx) -> None:
            for statement in SCHEMA:
                tx.conn.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                have = {row[1] for row in tx.conn.execute(f"pragma table_info({table})")}
                if column not in have:
                    tx.conn.execute(f"alter table {table} add column {column} {definition}")

        self.db.write(create)
        return self

    # -- reading --------------------------------------------------------------------------
    def _user(self, row: dict[str, Any] | None) -> User | None:
        if row is None:
            return None
        return User(row["id"], row["username"], row["display_name"], row["role"],
                    bool(row["is_admin"]), bool(row["disabled"]), row["session_epoch"],
                    row["created_at"], row["last_login_at"],
                    self.roles.get(row["role"], row["role"]),
                    bool(row.get("must_change_password")), row.get("dept_code"))

    def get(self, username: str) -> User | None:
        rows = self.db.query("select * from users where username = ?", (username.lower(),))
        return self._user(rows[0] if rows else None)

    def get_by_id(self, user_id: int) -> User | None:
        rows = self.db.query("select * from users where id = ?", (user_id,))
        return self._user(rows[0] if rows else None)

    def all(self) -> list[User]:
        return [self._user(row) for row in self.db.query("select * from users order by username")]

    def recent_log(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.db.query("select * from auth_log order by id desc limit ?", (limit,))

    # -- changing -------------------------------------------------------------------------
    def add(self, username: str, display_name: str, role: str, *, is_admin: bool = False,
            password: str | None = None, must_change: bool | None = None,
            dept_code: str | None = None, actor: str = "") -> str:
        """Add a user; returns the password (generated unless given).

        A generated password must be changed at the first sign-in (``must_change`` says
        otherwise); a given one was chosen by the caller and need not be.
        """
        must_change = password is None if must_change is None else must_change
        username = self._check_username(username)
        display_name = display_name.strip() or username
        if len(display_name) > 40:
            raise UserError("姓名不能超过40个字符")
        self._check_role(role)
        dept_code = self._check_dept(role, dept_code)
        if is_admin and dept_code:
            raise UserError("审批部门用户不能管理用户 (department users cannot be administrators)")
        password = password or generate_password()
        self._check_password(password)

        def insert(tx) -> None:
            if tx.conn.execute("select 1 from users where username = ?", (username,)).fetchone():
                raise UserError(f"用户名 {username} 已存在")
            now = self._now()
            tx.conn.execute(
                "insert into users (username, display_name, role, is_admin, password_hash,"
                " created_at, updated_at, must_change_password, dept_code)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (username, display_name, role, int(is_admin), _hash(password), now, now,
                 int(must_change), dept_code))
            self._log(tx, "user_added", username, actor=actor,
                      detail=f"{role}{' ' + dept_code if dept_code else ''}"
                             f"{' admin' if is_admin else ''}")

        self.db.write(insert)
        return password

    def ensure_first_admin(self) -> tuple[str, str] | None:
        """When there are no users at all, add ``admin`` with a random password.

        Returns (username, password) when it did, None otherwise. Only the hash is kept.
        """
        password = generate_password()

        def create(tx) -> bool:
            if tx.conn.execute("select count(*) from users").fetchone()[0]:
                return False
            now = self._now()
            tx.conn.execute(
                "insert into users (username, display_name, role, is_admin, password_hash,"
                " created_at, updated_at, must_change_password)"
                " values (?, '系统管理员', 'manager', 1, ?, ?, ?, 1)",
                (FIRST_ADMIN, _hash(password), now, now))
            self._log(tx, "user_added", FIRST_ADMIN, actor="(first start)", detail="manager admin")
            return True

        return (FIRST_ADMIN, password) if self.db.write(create) else None

    def reset_password(self, username: str, *, actor: str = "") -> str:
        """Give the user a new one-time password (ending their sessions and any lockout)."""
        password = generate_password()
        self._update(username, "password_reset", actor,
                     "password_hash = ?, must_change_password = 1", (_hash(password),))
        return password

    def change_password(self, username: str, current: str, new: str) -> None:
        """The user's own change: needs the current password."""
        rows = self.db.query("select password_hash from users where username = ?",
                             (username.lower(),))
        if not rows or not check_password_hash(rows[0]["password_hash"], current):
            raise UserError("当前密码不正确")
        self._check_password(new)
        if check_password_hash(rows[0]["password_hash"], new):
            raise UserError("新密码不能与当前密码相同")
        self._update(username, "password_changed", username,
                     "password_hash = ?, must_change_password = 0", (_hash(new),))

    def set_disabled(self, username: str, disabled: bool, *, actor: str = "") -> None:
        event = "user_disabled" if disabled else "user_enabled"
        self._update(username, event, actor, "disabled = ?", (int(disabled),))

    def _update(self, username: str, event: str, actor: str, assignments: str,
                params: tuple) -> None:
        """Change a user and end every session of theirs, in one transaction."""
        username = username.strip().lower()

        def change(tx) -> None:
            row = tx.conn.execute(
                f"update users set {assignments}, session_epoch = session_epoch + 1,"
                " updated_at = ? where username = ? returning id",
                (*params, self._now(), username)).fetchone()
            if row is None:
                raise UserError(f"没有用户 {username}")
            sessions.end_sessions_of(tx, row[0])
            if event == "password_reset":
                lockout.clear(tx, username)
            self._log(tx, event, username, actor=actor)

        self.db.write(change)

    # -- signing in -----------------------------------------------------------------------
    def authenticate(self, username: str, password: str, remote_addr: str) -> User:
        """The user, when the password is right and the user is neither disabled nor locked.

        The attempt is counted for the account before the password is checked
        (``web/lockout.py``): past MAX_FAILURES within FAILURE_WINDOW it raises LoginLocked
        without a check (even for the right password); a wrong password raises LoginFailed,
        or LoginLocked when it was the last one allowed.
        """
        username = username.strip().lower()[:64]
        attempt = self.db.write(lambda tx: self._count_attempt(tx, username, remote_addr))
        if attempt > MAX_FAILURES:
            log.warning("sign-in locked: %s from %s (attempt %d)", username, remote_addr, attempt)
            raise LoginLocked(locked_message())
        rows = self.db.query("select * from users where username = ?", (username,))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH  # same time either way
        ok = check_password_hash(stored, password) and bool(rows) and not rows[0]["disabled"]
        if not ok:
            self._record("login_failed", username, remote_addr)
            log.warning("sign-in failed: %s from %s (%d recent failures)", username,
                        remote_addr, attempt)
            if attempt >= MAX_FAILURES:
                raise LoginLocked(locked_message())
            raise LoginFailed("用户名或密码错误")
        now = self._now()

        def succeed(tx) -> None:
            tx.conn.execute("update users set last_login_at = ? where id = ?", (now, rows[0]["id"]))
            lockout.clear(tx, username)
            self._log(tx, "login_ok", username, remote_addr)

        self.db.write(succeed)
        log.info("signed in: %s from %s", username, remote_addr)
        return self._user({**rows[0], "last_login_at": now})

    def _count_attempt(self, tx, username: str, remote_addr: str) -> int:
        attempt = lockout.count_attempt(tx, username, self.clock())
        if attempt > MAX_FAILURES:
            self._log(tx, "login_locked", username, remote_addr)
        return attempt

    def failures(self, username: str) -> int:
        """Sign-in attempts counted against ``username`` now (those refused as locked included)."""
        return lockout.failures(self.db, username.strip().lower(), self.clock())

    def record(self, event: str, username: str, remote_addr: str = "", **extra: str) -> None:
        """Add a line to the sign-in log (e.g. logout)."""
        self._record(event, username, remote_addr, **extra)

    def _record(self, event: str, username: str, remote_addr: str, **extra: str) -> None:
        self.db.write(lambda tx: self._log(tx, event, username, remote_addr, **extra))

    def _log(self, tx, event: str, username: str, remote_addr: str = "", *, actor: str = "",
             detail: str = "") -> None:
        tx.conn.execute(
            "insert into auth_log (at, username, remote_addr, event, actor, detail)"
            " values (?, ?, ?, ?, ?, ?)",
            (self._now(), username, remote_addr, event, actor, detail))

    # -- checks ---------------------------------------------------------------------------
    def _now(self) -> str:
        return _stamp(self.clock())

    def _check_role(self, role: str) -> None:
        if role not in self.roles:
            names = "、".join(f"{k}（{v}）" for k, v in self.roles.items())
            raise UserError(f"角色 {role!r} 无效，可选：{names}")

    def _check_dept(self, role: str, dept_code: str | None) -> str | None:
        """The department a user of ``role`` belongs to: required for a department role,
        refused for the others, checked by ``check_dept``."""
        code = (dept_code or "").strip()
        if role not in self.dept_roles:
            if code:
                raise UserError(f"只有审批部门用户需要指定部门（--dept），角色 {role} 不需要 "
                                f"(only department users have a department)")
            return None
        if not code:
            raise UserError("审批部门用户须指定所属部门代码（--dept），如 440605SCJ "
                            "(department users need --dept with a department code)")
        if self.check_dept is not None:
            try:
                code = self.check_dept(code)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        return code

    @staticmethod
    def _check_username(username: str) -> str:
        username = username.strip().lower()
        if not (2 <= len(username) <= 32) or not set(username) <= _USERNAME_CHARS:
            raise UserError("用户名须为2到32个字符，只能包含英文字母、数字、下划线、点和连字符")
        return username

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise UserError(f"密码至少{MIN_PASSWORD}个字符")


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _hash(password: str) -> str:
    return generate_password_hash(password, method="scrypt")
