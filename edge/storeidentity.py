"""A box never starts over by itself: the store's identity, checked before the store opens.

The first time a box makes its database it writes ``box.store.json`` next to ``box.toml``: the
box id, the database's own random id (``store_id``, also in its ``meta`` table), the file and
when it was made. From then on a database that is missing, empty, not a database, or another
store's, is an error that names the file and what to do, never a silent new start whose
records the hub would take for ones it already has. Only ``hallwatch edge reinit --confirm``
(edge/reinit.py) makes a new database for such a box, and it tells the hub.

A file of 0 bytes, or one that is not a SQLite database, is refused even without the marker:
SQLite would make an empty database of the first and the box would start over.

Example::

    check_file(Path("data/box.db"), Path("box.store.json"))   # raises StoreLost
    bind(conn, Path("box.store.json"), "440605-01")           # after the writer connected
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from standard.storemarker import STATE_WORDS, MarkerError, file_state, write_marker
from standard.storemarker import read_marker as _read

MARKER_NAME = "box.store.json"


class StoreLost(Exception):
    """The box's database is missing, empty, damaged or another's; the box must not start over."""


def read_marker(marker: Path | None) -> dict[str, Any] | None:
    """The marker's content, or None when there is none (a box that never made a database)."""
    try:
        return _read(marker)
    except MarkerError as exc:
        raise StoreLost(str(exc)) from None


def remedy(db: Path, marker: Path | None) -> str:
    config = marker.parent / "box.toml" if marker is not None else Path("box.toml")
    return (f"箱体不会自行重新开始。请从备份恢复 {db}；确认无法恢复时，由技术员运行 "
            f"hallwatch edge reinit --config {config} --confirm 重新初始化（旧文件会保留，市中心会"
            f"收到告警）(the box never starts over by itself: restore {db} from a backup, or "
            f"re-initialise it explicitly with 'hallwatch edge reinit --config {config} "
            "--confirm', which keeps the old file and tells the hub)")


def check_file(db: Path, marker: Path | None) -> None:
    """Raise StoreLost when ``db`` must not be opened (or made) as the box's database."""
    state = file_state(db)
    known = read_marker(marker)
    if state == "present" or (state == "missing" and known is None):
        return
    made = f"，本箱体 {known.get('created_at', '')} 已建立过数据库（见 {marker}）" if known else ""
    raise StoreLost(f"{db}: 数据库{STATE_WORDS[state]}{made}。{remedy(db, marker)}")


def bind(conn: sqlite3.Connection, marker: Path | None, box_id: str) -> str:
    """Give the database its ``store_id`` (once) and check it against the marker, or write the
    marker the first time. Returns the store id. Call on the writer's connection."""
    row = conn.execute("select value from meta where key = 'store_id'").fetchone()
    store_id = row[0] if row else uuid.uuid4().hex
    if row is None:
        conn.execute("insert into meta (key, value) values ('store_id', ?)", (store_id,))
    if marker is None:
        return store_id
    known = read_marker(marker)
    if known is None:
        database = conn.execute("select file from pragma_database_list where name = 'main'"
                                ).fetchone()[0]
        write_marker(marker, {"box_id": box_id, "store_id": store_id, "database": database})
    elif known.get("store_id") != store_id or known.get("box_id") != box_id:
        raise StoreLost(f"{marker}: 这不是本箱体的数据库（标记 store_id {known.get('store_id')}，"
                        f"box {known.get('box_id')}；数据库 store_id {store_id}，box {box_id}）"
                        f"(this database is not the one the box made). "
                        f"{remedy(Path(known.get('database', 'box.db')), marker)}")
    return store_id
