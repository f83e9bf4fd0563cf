"""现场与设备: each district hall's absences today, cameras, self-tests and refused links."""

from __future__ import annotations

from flask import Blueprint, render_template

from hub.services.halls import hall_views, refusals
from web.auth import login_required
from web.hub.common import data, scope

bp = Blueprint("halls", __name__)
HALL_READERS = ("city", "district")  # windows and boxes belong to a district


@bp.get("/halls")
@login_required(roles=HALL_READERS)
def index():
    return render_template("halls.html", halls=hall_views(data(), scope()),
                           refusals=refusals(data(), scope()), scope=scope(),
                           today=data().today())
