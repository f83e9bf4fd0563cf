"""The hub never starts over by itself either: its SQLite database, checked before it opens.

The first time the hub makes ``hub.db`` it writes ``hub.store.json`` next to ``hub.toml``. From
then on a hub database that is missing, empty or not a database is an error that names the
file and what to do (restore the backup, or ``hallwatch hub reinit --config hub.toml
--confirm``), never a new, empty hub that forgets every box. A hub that starts over after the
command gets each box's records again with ``hallwatch hub resend``; what the boxes pruned is
shown as lost with the old database (``pruned`` integrity alerts, hub/storage/batches.py).

On PostgreSQL the database server keeps its own files; this check is for the SQLite file.

Example::

    check_hub_store(config)     # HubStoreLost before HubStore.open()
    mark_hub_store(config)      # after it opened: the marker, the first time
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
from pathlib import Path

from hub.config import HubConfig
from standard.files import open_private
from standard.storemarker import STATE_WORDS, MarkerError, file_state, read_marker, write_marker

log = logging.getLogger(__name__)

MARKER_NAME = "hub.store.json"


class HubStoreLost(Exception):
    """The hub's database is missing, empty or not a database, though the hub had one."""


def marker_path(config: HubConfig) -> Path:
    return Path(config.base_dir) / MARKER_NAME


def check_hub_store(config: HubConfig) -> None:
    """Raise HubStoreLost when the hub's SQLite file must not be opened (or made) as its own."""
    if config.database.url:
        return
    db, marker = config.db_path, marker_path(config)
    state = file_state(db)
    try:
        known = read_marker(marker)
    except MarkerError as exc:
        raise HubStoreLost(str(exc)) from None
    if state == "present" or (state == "missing" and known is None):
        return
    made = f"，市中心 {known.get('created_at', '')} 已建立过数据库（见 {marker}）" if known else ""
    config_file = Path(config.base_dir) / "hub.toml"
    raise HubStoreLost(
        f"{db}: 数据库{STATE_WORDS[state]}{made}。市中心不会自行重新开始：请从备份恢复 {db}；"
        f"确认无法恢复时运行 hallwatch hub reinit --config {config_file} --confirm，再用 "
        f"hallwatch hub resend 取回各箱体仍保存的记录 (the hub never starts over by itself: "
        f"restore {db} from a backup, or run 'hallwatch hub reinit --config {config_file} "
        "--confirm' and then 'hallwatch hub resend' for each box)")


def mark_hub_store(config: HubConfig) -> None:
    """Write the marker the first time the hub's SQLite database exists."""
    marker = marker_path(config)
    if not config.database.url and config.db_path.exists() and not marker.exists():
        write_marker(marker, {"database": str(config.db_path)})


def reinit_hub_store(config: HubConfig, *, reason: str, operator: str | None = None) -> Path | None:
    """Keep the old hub.db aside (``hub.db.reinit-<time>``) and let the hub make a new one.

    Returns where the old file went (None when there was none). Logged in
    ``<data_dir>/reinit.log``; the hub must be stopped.
    """
    if config.database.url:
        raise HubStoreLost("hub reinit is for the SQLite hub database; on PostgreSQL restore or "
                           "recreate the database with the server's own tools")
    db = config.db_path
    moment = dt.datetime.now(dt.timezone.utc)
    kept = db.with_name(f"{db.name}.reinit-{moment:%Y%m%dT%H%M%SZ}")
    moved = False
    for suffix in ("", "-wal", "-shm"):
        source = db.with_name(db.name + suffix)
        if source.exists():
            os.replace(source, kept.with_name(kept.name + suffix))
            moved = True
    marker_path(config).unlink(missing_ok=True)
    operator = operator or getpass.getuser()
    line = {"at": moment.isoformat(timespec="seconds"), "operator": operator, "reason": reason,
            "kept_as": str(kept) if moved else None}
    with open_private(config.path(config.data_dir) / "reinit.log") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    log.warning("hub database re-initialised by %s: %s (old file: %s)", operator, reason,
                kept if moved else "none")
    return kept if moved else None
