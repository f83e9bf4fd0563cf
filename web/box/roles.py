"""Who may open the hall manager's pages: the roles each view names in ``login_required``.

A department user (``department``, 审批部门) belongs to one department (``User.dept_code``) and
sees only that department's cases, alerts, cards and notices: :func:`own_dept` is what every
view that lists or shows them filters by.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import abort, g

READERS = ("manager", "supervisor", "auditor")
DEPT_READERS = READERS + ("department",)  # the pages a department sees, for its own records
TECHNICIANS = ("technician",)


def own_dept() -> str | None:
    """The signed-in department user's department; None for the hall's roles (they see all)."""
    user = g.get("user")
    if user is None or user.role != "department":
        return None
    return user.dept_code or "-"  # a department user without a department sees nothing


def require_visible(dept_code: str | None, also: Iterable[str] = ()) -> None:
    """404 for a record of another department (the same answer as for one that is not there);
    ``also``: other departments it belongs to (a joint case's participating departments)."""
    own = own_dept()
    if own is not None and dept_code != own and own not in also:
        abort(404)
