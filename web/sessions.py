"""Server-side sessions: the cookie holds a random id only, the data stays in ``sessions``.

Flask's default session is the data itself, signed, in the cookie: a cookie copied before
``POST /logout`` kept opening pages until it expired, because there was nothing on the server
to end. Here the cookie is 32 random bytes; the table (in the users database: the box's
``box.db``, the hub's ``users.db``) keeps the session's data under the SHA-256 of that id, so a
copy of the database does not hold live cookies. Ending a session deletes its row, and a copied
cookie then finds nothing: on logout, on a new sign-in (a new id, against session fixation),
when the password changes or is reset and when the user is disabled (``UserStore`` deletes the
user's rows in the same transaction as the change).

Why not Flask-Session or Flask-Login? Flask-Session stores in Redis, Memcached, MongoDB,
DynamoDB, SQLAlchemy or files; our users live in SQLite next to the box's records and the
box's writes all go through one writer thread (``edge/store.py``), which none of those
backends would use. Flask-Login keeps the user id in Flask's cookie session and so would not
end a copied cookie by itself; the role checks, idle and absolute expiry and the forced first
password change (``web/auth.py``) would stay ours anyway. Eighty lines on the store we already
have beat a dependency that needs another database.

Only signed-in sessions are rows. A session without a user (the sign-in form's CSRF token, a
message after logout) is Flask's signed cookie instead, marked ``a.``: it grants nothing, so
there is nothing to end, and the sign-in page writes nothing. Under a platform backlog a write
waits its turn at the box's one writer (issue 22), and anyone on the network could otherwise
fill the table by asking for the sign-in page. Signing in issues a row and a new id. Rows are
purged when they expire.

Example::

    app.session_interface = ServerSessions(users.db, clock=time.time, lifetime=8 * 3600)
    ...
    renew(session)   # on sign-in and logout: the old id is gone, a new one is issued
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from flask.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
from itsdangerous import BadSignature
from werkzeug.datastructures import CallbackDict

SCHEMA = (
    "create table if not exists sessions ("
    " id_hash text primary key, user_id integer, data text not null,"
    " created_at text not null, expires_at text not null)",
    "create index if not exists sessions_by_expiry on sessions(expires_at)",
    "create index if not exists sessions_by_user on sessions(user_id, created_at)",
)
MAX_ID_LENGTH = 128  # a longer cookie is not one of ours: not even looked up
ANONYMOUS = "a."  # a session without a user: signed data in the cookie, no row
_SIGNED = SecureCookieSessionInterface()  # Flask's own signing of cookie sessions


class ServerSession(CallbackDict, SessionMixin):
    """A session's data; ``sid`` is None until the first save gives it an id."""

    def __init__(self, data: dict | None = None, sid: str | None = None):
        def touched(_self) -> None:
            self.modified = True

        super().__init__(data or {}, touched)
        self.sid = sid
        self.modified = False
        self.renewed = False
        self.in_cookie = False  # came as a signed anonymous cookie


def renew(session: SessionMixin) -> None:
    """Empty ``session`` and have its next save use a new id (the old row is deleted)."""
    session.clear()
    if isinstance(session, ServerSession):
        session.renewed = True


def end_sessions_of(tx, user_id: int) -> None:
    """Inside a users-database transaction: every session of ``user_id`` ends."""
    tx.conn.execute("delete from sessions where user_id = ?", (user_id,))


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii", "replace")).hexdigest()


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")


class ServerSessions(SessionInterface):
    """Flask's session interface on a users database (``write(fn(tx))``, ``query(sql)``)."""

    def __init__(self, db: Any, *, clock: Callable[[], float], lifetime: float):
        self.db = db
        self.clock = clock
        self.lifetime = lifetime

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and sid.startswith(ANONYMOUS):
            return self._open_anonymous(app, sid[len(ANONYMOUS):])
        if sid and len(sid) <= MAX_ID_LENGTH:
            rows = self.db.query("select data from sessions where id_hash = ? and expires_at > ?",
                                 (_digest(sid), _stamp(self.clock())))
            if rows:
                return ServerSession(json.loads(rows[0]["data"]), sid)
        return ServerSession()

    def save_session(self, app, session: ServerSession, response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        ended = session.sid is not None and (not session or session.get("uid") is None)
        if ended:  # signed out, or emptied: the row goes
            self.db.write(lambda tx: tx.conn.execute(
                "delete from sessions where id_hash = ?", (_digest(session.sid),)))
        if not session:
            if ended or session.in_cookie:
                self._set_cookie(app, response, None, session)
            return
        if session.get("uid") is None:
            if ended or session.modified or not session.in_cookie:
                signed = _SIGNED.get_signing_serializer(app).dumps(dict(session))
                self._set_cookie(app, response, ANONYMOUS + signed, session)
            return
        if session.sid is None or session.renewed:
            self._issue(session)
            self._set_cookie(app, response, session.sid, session)
        elif session.modified:
            data = json.dumps(dict(session), ensure_ascii=False)
            # An update only: a session ended meanwhile (logout in another tab) stays ended.
            self.db.write(lambda tx: tx.conn.execute(
                "update sessions set data = ? where id_hash = ?", (data, _digest(session.sid))))

    def _open_anonymous(self, app, signed: str) -> ServerSession:
        """The data of a signed anonymous cookie (nothing, if forged, altered or too old)."""
        try:
            data = _SIGNED.get_signing_serializer(app).loads(signed, max_age=int(self.lifetime))
        except BadSignature:
            data = None
        session = ServerSession(data if isinstance(data, dict) and "uid" not in data else None)
        session.in_cookie = True
        return session

    def _set_cookie(self, app, response, value: str | None, session: ServerSession) -> None:
        """Set the session cookie to ``value``, or delete it (None), with the app's flags."""
        flags = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                 "secure": self.get_cookie_secure(app),
                 "httponly": self.get_cookie_httponly(app),
                 "samesite": self.get_cookie_samesite(app)}
        if value is None:
            response.delete_cookie(self.get_cookie_name(app), **flags)
        else:
            response.set_cookie(self.get_cookie_name(app), value,
                                expires=self.get_expiration_time(app, session), **flags)

    def _issue(self, session: ServerSession) -> None:
        old, session.sid, session.renewed = session.sid, secrets.token_urlsafe(32), False
        now = self.clock()
        started = session.get("login_at", now)
        data = json.dumps(dict(session), ensure_ascii=False)
        user_id = session.get("uid")

        def insert(tx) -> None:
            if old is not None:
                tx.conn.execute("delete from sessions where id_hash = ?", (_digest(old),))
            tx.conn.execute("delete from sessions where expires_at <= ?", (_stamp(now),))
            tx.conn.execute(
                "insert into sessions (id_hash, user_id, data, created_at, expires_at)"
                " values (?, ?, ?, ?, ?)", (_digest(session.sid), user_id, data, _stamp(now),
                                            _stamp(started + self.lifetime)))

        self.db.write(insert)
