"""Private files: 0600 in 0700 folders, whatever the process's umask.

Databases, logs, evidence snapshots and keys hold personal data or secrets. systemd's
``UMask=0077`` covers the box's unit, but a box or hub started from a shell (umask 0022) made
them 0644 in 0755 folders: readable by every local user. Every writer of such a file goes
through these helpers instead of ``open``/``mkdir``/``sqlite3.connect`` alone:

- :func:`private_dir` makes a folder (and its missing parents) 0700; with ``tighten=True`` it
  also narrows an existing one that is ours (the data folder, ``keys/``: hallwatch's own).
  Folders that exist are otherwise left alone: a log or report may be put in ``/tmp`` or
  ``/var/log``, which must keep their modes;
- :func:`private_file` makes an empty file 0600 (before SQLite opens it: SQLite gives its
  ``-wal`` and ``-shm`` files the mode of the database file), or tightens an existing one;
- :func:`private_sqlite` does both for a database file and its ``-wal``/``-shm``/``-journal``;
- :func:`write_private` writes bytes atomically (temporary file, fsync, rename) as 0600;
- :func:`open_private` opens a file for appending or writing as 0600 (logs).

Example::

    private_dir(Path("data"), tighten=True)            # data/ 0700, even if it was 0755
    db_path = private_sqlite(Path("data/box.db"))      # box.db 0600 (and -wal, -shm)
    write_private(Path("keys/box.identity.json"), data)
    with open_private(Path("data/notifications.log")) as log:
        log.write("...\\n")
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import IO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    """chmod ``path`` to ``mode`` when it is wider; a file that is not ours is left alone."""
    try:
        info = path.stat()
        if stat.S_IMODE(info.st_mode) & ~mode and info.st_uid == os.geteuid():
            os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):
        pass


def private_dir(path: Path | str, *, tighten: bool = False) -> Path:
    """``path`` as a folder: made 0700 when missing (its missing parents too).

    ``tighten=True``: an existing ``path`` of ours that is wider is narrowed to 0700 as well.
    """
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process or thread
            pass
        _tighten(folder, PRIVATE_DIR)  # made by us: exactly 0700
    if tighten:
        _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path | str) -> Path:
    """``path`` exists as a 0600 file (empty when new) in a 0700 folder."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    _tighten(path, PRIVATE_FILE)
    return path


def private_sqlite(path: Path | str) -> Path:
    """A SQLite database file ready to open: 0600 with its companions, in a 0700 folder."""
    path = private_file(path)
    for suffix in SQLITE_COMPANIONS:
        _tighten(path.with_name(path.name + suffix), PRIVATE_FILE)
    return path


def write_private(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically as a 0600 file (a reader sees old or new, whole)."""
    path = Path(path)
    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def open_private(path: Path | str, mode: str = "a", encoding: str | None = "utf-8") -> IO:
    """``open(path, mode)`` for writing, the file made 0600 in a 0700 folder if it is new."""
    path = Path(path)
    private_file(path)
    if "b" in mode:
        return open(path, mode)
    return open(path, mode, encoding=encoding)

