"""Printable notices at the hub: the boxes' 限期办理通知书 / 整改建议书 and the city's 督办通知书.

Each is one self-contained A4 page with its own print CSS (standard/notice_layout.py); the
page loads nothing else, and its Content-Security-Policy lets it load nothing else either.
"""

from __future__ import annotations

from flask import Blueprint, Response

from hub.services.notices import box_notice, notice_page
from web.auth import login_required
from web.hub.common import READERS, dashboard, data, scope

bp = Blueprint("notices", __name__)
PRINT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def printable(page: str) -> Response:
    return Response(page, mimetype="text/html", headers={"Content-Security-Policy": PRINT_CSP})


@bp.get("/notices/<box_id>/<path:number>")
@login_required(roles=READERS)
def show(box_id: str, number: str):
    """A box's notice as issued (404 outside the user's scope)."""
    return printable(notice_page(data(), box_notice(data(), scope(), box_id, number)))


@bp.get("/dubans/<int:duban_id>/notice")
@login_required(roles=READERS)
def duban(duban_id: int):
    """The city's 督办通知书 (404 outside the user's scope)."""
    return printable(dashboard().dubans.notice_page(data(), duban_id, scope()))
