"""Publishing config documents to the boxes: validated, signed with the hub's key, stored.

The running receiver pushes the newest document of each kind to every connected box that
holds an older one; the box verifies the signature, applies it (``edge/configsync.py``) and
answers with a config-ack, which lands in the ``config_acks`` table.

Example::

    doc = publish_document(config, HubStore(config.store_target).open(), "catalogue",
                           Path("catalogue-2027.json"))
    doc["doc_version"]  # one more than the last catalogue published
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.config import HubConfig
from hub.store import ConfigVersionTaken, HubStore
from standard.calendar import CalendarOverrides
from standard.configfile import describe_errors
from standard.deadlines import LightSettings
from standard.envelope import sign_document
from standard.identity import IdentityError, load_hub_identity
from standard.records import Catalogue

KINDS = ("catalogue", "calendar", "lights")


class PublishError(Exception):
    """A document cannot be published: unreadable, invalid for its kind, or no hub key."""


def check_payload(kind: str, payload: Any, source: object) -> None:
    """Validate as the box will, so that a bad document fails here and not in every hall."""
    if not isinstance(payload, dict):
        raise PublishError(f"{source}: a {kind} document is a JSON object")
    models: dict[str, type[BaseModel]] = {"catalogue": Catalogue, "calendar": CalendarOverrides}
    if kind in models:
        try:
            models[kind].model_validate_json(json.dumps(payload), strict=kind == "catalogue")
        except ValidationError as exc:
            problems = "\n  ".join(describe_errors(exc))
            raise PublishError(f"{source}: invalid {kind}:\n  {problems}") from None
    elif kind == "lights":
        known = {field.name for field in dataclasses.fields(LightSettings)}
        unknown = sorted(payload.keys() - known)
        bad = sorted(key for key in payload.keys() & known
                     if not isinstance(payload[key], int) or not 0 <= payload[key] <= 30)
        if unknown or bad:
            raise PublishError(f"{source}: invalid lights: unknown keys {unknown}, values not "
                               f"whole numbers 0-30: {bad}; known keys are {sorted(known)}")
    else:
        raise PublishError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")


def publish_document(config: HubConfig, store: HubStore, kind: str, path: Path) -> dict:
    """Sign the JSON in ``path`` as the next ``kind`` version and store it; returns the doc."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PublishError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PublishError(f"{path}: not valid JSON: {exc}") from None
    check_payload(kind, payload, path)
    try:
        hub = load_hub_identity(config.path(config.identity))
    except IdentityError as exc:
        raise PublishError(str(exc)) from None
    doc = sign_document(payload, kind, store.next_config_version(kind), hub.sign_private)
    try:
        store.publish_config(doc)
    except ConfigVersionTaken:
        raise PublishError(f"{kind} version {doc['doc_version']} was published meanwhile by "
                           "someone else; run the command again") from None
    return doc
