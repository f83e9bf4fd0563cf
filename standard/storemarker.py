"""A database's marker file: the box or hub made its database once, so losing it is an error.

A program that finds its database missing or empty would otherwise make a new one and carry
on as if nothing had happened (a box would start its sequence again, a hub would forget every
box). Box and hub each write a small JSON marker next to their configuration the first time
they make their database, and refuse to start when the marker says there was one and the file
is gone, empty or not a database (edge/storeidentity.py, hub/storeguard.py).

Example::

    file_state(Path("data/hub.db"))          # "missing", "empty", "not a database", "present"
    write_marker(Path("hub.store.json"), {"database": "data/hub.db"})
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from standard.files import write_private

SQLITE_HEADER = b"SQLite format 3\x00"
STATE_WORDS = {"missing": "不存在", "empty": "为空（0 字节）",
               "not a database": "不是 SQLite 数据库（文件头已损坏）"}


class MarkerError(Exception):
    """The marker file cannot be read."""


def file_state(db: Path) -> str:
    """``missing``, ``empty``, ``not a database`` or ``present``."""
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        return "missing"
    if size == 0:
        wal = db.with_name(db.name + "-wal")
        return "empty" if not wal.exists() or wal.stat().st_size == 0 else "present"
    with db.open("rb") as handle:
        return "present" if handle.read(16) == SQLITE_HEADER else "not a database"


def read_marker(marker: Path | None) -> dict[str, Any] | None:
    """The marker's content, or None when there is none (no database was ever made)."""
    if marker is None or not marker.exists():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MarkerError(f"{marker}: 无法读取数据库标记 (cannot read the store marker: {exc})"
                          ) from None
    return data if isinstance(data, dict) else {}


def write_marker(marker: Path, fields: dict[str, Any]) -> None:
    """Write the marker (0600, atomically) with ``fields`` and the time it was made."""
    data = {"version": 1, **fields,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    write_private(marker, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode())
