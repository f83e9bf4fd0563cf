"""Applying configuration the hub pushes down (signature already verified by the relay).

Kinds: ``catalogue`` (the item catalogue), ``calendar`` (working-day overrides) and
``lights`` (yellow thresholds). Each is validated with the same models as the local files,
written atomically where the box config points, and swapped into the running box; the applied
version is kept so the next hello tells the hub what the box has. ``on_applied`` then wakes the
rules: the cases whose verdict depends on what changed are judged again (an item that arrives
clears its cases' 事项缺失; edge/supervision/basis.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from edge.cases import CaseBoard
from edge.config import BoxConfig
from edge.store import Store
from edge.storeschema import get_meta, set_meta
from edge.storetx import Tx
from standard.calendar import CalendarOverrides, WorkCalendar
from standard.deadlines import LightSettings
from standard.records import Catalogue


class ConfigRejected(ValueError):
    """A pushed document is not valid for its kind."""


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


class ConfigApplier:
    def __init__(self, config: BoxConfig, store: Store, board: CaseBoard,
                 on_applied: Callable[[], None] | None = None):
        self.config = config
        self.store = store
        self.board = board
        self.on_applied = on_applied

    def __call__(self, kind: str, version: int, payload: dict) -> None:
        text = json.dumps(payload, ensure_ascii=False, indent=1)
        if kind == "catalogue":
            catalogue = _validated(Catalogue, text, kind)
            write_atomically(self.config.path(self.config.catalogue), text)
            self.board.catalogue = catalogue.by_code()
        elif kind == "calendar":
            overrides = _validated(CalendarOverrides, text, kind)
            target = self.config.calendar_overrides or f"{self.config.data_dir}/calendar.json"
            write_atomically(self.config.path(target), text)
            self.board.calendar = WorkCalendar(overrides)
        elif kind == "lights":
            try:
                self.board.settings = LightSettings(**payload)
            except TypeError as exc:
                raise ConfigRejected(f"lights: {exc}") from None
        else:
            raise ConfigRejected(f"unknown config kind {kind!r}")

        def remember(tx: Tx) -> None:
            versions = json.loads(get_meta(tx.conn, "config_versions", "{}") or "{}")
            versions[kind] = version
            set_meta(tx.conn, "config_versions", json.dumps(versions))
            tx.emit("config_applied", {"kind": kind, "doc_version": version})
        self.store.write(remember)
        if self.on_applied is not None:
            self.on_applied()


def _validated(model, text: str, kind: str):
    try:
        return model.model_validate_json(text)
    except ValueError as exc:
        raise ConfigRejected(f"{kind}: {exc}") from None
