"""The box's web application: platform API now, the hall manager's pages as they arrive."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

from standard.records import MAX_BODY_BYTES

if TYPE_CHECKING:
    from edge.app import Box


def create_app(box: Box, test_config: dict | None = None) -> Flask:
    """Application factory: every view reaches the box's services through ``app.extensions``."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    if test_config:
        app.config.update(test_config)
    app.extensions["box"] = box

    from web.box import api

    app.register_blueprint(api.bp)
    from web.box import evaluations_api

    app.register_blueprint(evaluations_api.bp)
    from web.box import reconciliation_api

    app.register_blueprint(reconciliation_api.bp)
    from web.box import pages  # the hall manager's pages and their sign-in (needs the store open)

    pages.install(app, box)
    return app
