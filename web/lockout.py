"""The sign-in lockout: failed attempts counted per account, atomically, before the check.

Each attempt is counted in one write transaction *before* its password is checked, and only
the first ``MAX_FAILURES`` attempts within the window get a check at all. Counting after the
check (read the count, check the password, record the failure) let 60 concurrent guesses all
read "0 failures" and all be checked: 12 were recorded and far more than 5 were tried. Now 60
concurrent wrong passwords are 60 counted attempts, at most 5 checked, and the account is
locked whatever address they come from. A successful sign-in clears the count; so does an
administrator's password reset. Unknown user names are counted the same way, so the answers
do not tell which names exist.

The window slides: an account stays locked until ``FAILURE_WINDOW`` after its last failed
attempt.
"""

from __future__ import annotations

import datetime as dt

MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)

SCHEMA = (
    "create table if not exists login_failures ("
    " username text primary key, failures integer not null, last_failed_at text not null)",
    "create index if not exists login_failures_by_time on login_failures(last_failed_at)",
)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def count_attempt(tx, username: str, now: dt.datetime) -> int:
    """Inside a write transaction: count one attempt for ``username``; its number in the window.

    A number above MAX_FAILURES means the account is locked and the password is not checked.
    """
    since = _stamp(now - FAILURE_WINDOW)
    tx.conn.execute("delete from login_failures where last_failed_at < ?", (since,))
    return tx.conn.execute(
        "insert into login_failures (username, failures, last_failed_at) values (?, 1, ?)"
        " on conflict(username) do update set failures = failures + 1,"
        " last_failed_at = excluded.last_failed_at returning failures",
        (username, _stamp(now))).fetchone()[0]


def clear(tx, username: str) -> None:
    """Inside a write transaction: forget ``username``'s failed attempts."""
    tx.conn.execute("delete from login_failures where username = ?", (username,))


def failures(db, username: str, now: dt.datetime) -> int:
    """Attempts counted for ``username`` in the window (those refused while locked included)."""
    rows = db.query("select failures from login_failures where username = ? and"
                    " last_failed_at >= ?", (username, _stamp(now - FAILURE_WINDOW)))
    return rows[0]["failures"] if rows else 0


def locked_message() -> str:
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)
    return f"登录失败次数过多，该账户已被锁定{minutes}分钟，请稍后再试或联系管理员"
