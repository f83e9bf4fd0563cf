"""Re-initialising a box's database: only on a technician's explicit, logged command.

``hallwatch edge reinit --config box.toml --confirm`` is the one way a box gets a new database
once it has had one (edge/storeidentity.py refuses everything else). It:

1. keeps the old file: ``box.db`` (and its ``-wal``/``-shm``) is renamed
   ``box.db.reinit-<UTC time>``, never deleted;
2. makes a new database whose first record, ``store_reinit``, says who did it, when, why and
   what became of the old file; that record goes to the hub like any other;
3. marks the new store ``rebase = pending``: the relay sends nothing until the hub has said,
   at the next hello, which sequence number it holds for this box; the relay then renumbers
   its unsent rows to follow it (edge/relay.py), so the hub never takes the new records for
   ones it already has, and the box never takes the hub's acknowledgement as its own sequence;
4. writes a new ``box.store.json`` and a line in ``<data_dir>/reinit.log``.

The hub raises an integrity alert when a box asks for a rebase (hub/boxreset.py).

Example::

    report = reinit_store(config, reason="SD card failed", operator="wang")
    report.kept_as, report.store_id
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from edge.config import BoxConfig
from standard.storecheck import quick_check
from edge.store import Store
from edge.storeidentity import read_marker
from edge.storeschema import get_meta, set_meta
from edge.storetx import Tx, iso
from standard.storemarker import STATE_WORDS, file_state
from standard.files import open_private

log = logging.getLogger(__name__)

REBASE = "rebase"  # meta key: "pending" until the hub has told the relay where to continue
SUFFIXES = ("", "-wal", "-shm")


class ReinitError(Exception):
    """The database cannot be re-initialised now (e.g. the box is running)."""


@dataclass(frozen=True)
class ReinitReport:
    db: Path
    previous_state: str  # what the old file was: missing, empty, damaged, sound
    kept_as: Path | None  # where the old file now is (None when there was none)
    store_id: str
    previous_store_id: str | None
    record_seq: int  # the store_reinit record's sequence number in the new store


def describe(config: BoxConfig) -> str:
    """What the old database is, in words, for the command's plan and the record."""
    state = file_state(config.db_path)
    if state != "present":
        return STATE_WORDS[state]
    problem = quick_check(config.db_path)
    return f"已损坏：{problem}" if problem else "完好（其中的记录将不再使用）"


def reinit_store(config: BoxConfig, *, reason: str, operator: str | None = None,
                 now: dt.datetime | None = None) -> ReinitReport:
    """Move the old database aside and make a new one that tells the hub; see the module."""
    _refuse_if_running(config)
    db = config.db_path
    previous = read_marker(config.store_marker) or {}
    state = describe(config)
    moment = now or dt.datetime.now(dt.timezone.utc)
    kept = _move_aside(db, moment)
    config.store_marker.unlink(missing_ok=True)
    operator = operator or getpass.getuser()
    store = Store(db, box_id=config.box_id, marker=config.store_marker).open()
    try:
        def first(tx: Tx) -> tuple[str, int]:
            store_id = get_meta(tx.conn, "store_id") or ""
            set_meta(tx.conn, REBASE, "pending")
            set_meta(tx.conn, "reinit_at", iso(tx.now))
            seq = tx.emit("store_reinit", {
                "version": 1, "box_id": config.box_id, "store_id": store_id,
                "previous_store_id": previous.get("store_id"), "previous_state": state,
                "previous_file": kept.name if kept else None, "reason": reason,
                "operator": operator, "host": socket.gethostname(), "at": iso(tx.now)})
            return store_id, seq
        store_id, seq = store.write(first)
    finally:
        store.close()
    report = ReinitReport(db, state, kept, store_id, previous.get("store_id"), seq)
    _log(config, report, reason, operator, moment)
    return report


def _refuse_if_running(config: BoxConfig) -> None:
    """A running box holds its web port; moving its database away under it would fork it."""
    if not config.web.port:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.web.host, config.web.port))
        except OSError:
            raise ReinitError(f"{config.web.host}:{config.web.port} 正在使用：箱体似乎在运行，请先"
                              "停止它 (systemctl stop hallwatch-box) (the box seems to be running:"
                              " stop it first)") from None


def _move_aside(db: Path, moment: dt.datetime) -> Path | None:
    if not any(db.with_name(db.name + suffix).exists() for suffix in SUFFIXES):
        return None
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    kept = db.with_name(f"{db.name}.reinit-{stamp}")
    for suffix in SUFFIXES:
        source = db.with_name(db.name + suffix)
        if source.exists():
            os.replace(source, kept.with_name(kept.name + suffix))
    return kept


def _log(config: BoxConfig, report: ReinitReport, reason: str, operator: str,
         moment: dt.datetime) -> None:
    line = {"at": iso(moment), "box_id": config.box_id, "operator": operator, "reason": reason,
            "previous_state": report.previous_state,
            "kept_as": str(report.kept_as) if report.kept_as else None,
            "previous_store_id": report.previous_store_id, "store_id": report.store_id}
    with open_private(config.path(config.data_dir) / "reinit.log") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    log.warning("box database re-initialised by %s: %s (old file: %s, was %s)", operator,
                reason, report.kept_as or "none", report.previous_state)
