"""Options and helpers that the box's commands share: ``--config`` or ``--db``/``--catalogue``
resolved to a :class:`Target`, ``--at`` parsing, and aligned columns for Chinese text.

Both ``edge/cli.py`` and each capability's CLI module use these, so no capability imports the
CLI back.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from edge.config import BoxConfig, load_box_config
from edge.store import Store
from edge.storeidentity import StoreLost, check_file
from edge.storetx import StoreError
from standard.calendar import WorkCalendar, load_overrides
from standard.catalogue import CatalogueError, load_catalogue
from standard.configfile import ConfigError


@dataclass
class Reader:
    """A read-only connection with the store's ``query`` (for read functions that take one)."""

    conn: sqlite3.Connection

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


@dataclass
class Target:
    """What a command works on: from ``--config`` or from ``--db``/``--catalogue``."""

    db: Path
    catalogue_path: Path | None
    overrides: Path | None
    config: BoxConfig | None

    @property
    def box_id(self) -> str:
        return self.config.box_id if self.config else "unprovisioned"

    @property
    def marker(self) -> Path | None:
        """box.store.json when the command works on a box's folder (``--config``)."""
        return self.config.store_marker if self.config else None

    def store(self) -> Store:
        try:
            return Store(self.db, box_id=self.box_id, marker=self.marker).open()
        except (StoreError, StoreLost) as exc:
            raise click.ClickException(str(exc)) from None

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """The database read-only, for commands that only look: no writer, no lock, nothing
        made when the file is missing (``store()`` opens it for writing)."""
        try:
            check_file(self.db, self.marker)
        except StoreLost as exc:
            raise click.ClickException(str(exc)) from None
        if not self.db.exists():
            raise click.ClickException(f"{self.db}: no database yet (the box makes it when it "
                                       "first starts)")
        conn = sqlite3.connect(f"file:{self.db.resolve()}?mode=ro", uri=True, timeout=30)
        try:
            yield Reader(conn)
        finally:
            conn.close()

    def catalogue(self):
        if self.catalogue_path is None:
            raise click.UsageError("give --catalogue FILE or --config box.toml")
        try:
            return load_catalogue(self.catalogue_path)
        except CatalogueError as exc:
            raise click.ClickException(str(exc)) from None

    def calendar(self) -> WorkCalendar:
        try:
            return WorkCalendar(load_overrides(self.overrides) if self.overrides else None)
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None


def target_options(command):
    """``--config`` or ``--db``/``--catalogue``/``--calendar-overrides``, resolved to a Target."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="box.toml; the database, catalogue and calendar are found there.")
    @click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                  help="The box's SQLite file.")
    @click.option("--catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="Item catalogue JSON (事项目录).")
    @click.option("--calendar-overrides", type=click.Path(exists=True, dir_okay=False,
                                                          path_type=Path),
                  help="Calendar override JSON (next year's days, local closures).")
    @functools.wraps(command)
    def wrapped(config_path, db, catalogue, calendar_overrides, **kwargs):
        config = None
        if config_path:
            try:
                config = load_box_config(config_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            db = db or config.db_path
            catalogue = catalogue or config.path(config.catalogue)
            if config.calendar_overrides and not calendar_overrides:
                calendar_overrides = config.path(config.calendar_overrides)
        if db is None:
            raise click.UsageError("give --db PATH or --config box.toml")
        return command(Target(db, catalogue, calendar_overrides, config), **kwargs)

    return wrapped


def parse_at(value: str | None) -> dt.datetime:
    """``--at`` as an aware datetime; now when absent. A naive value is local time (+08:00)."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {value!r}", param_hint="--at") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return moment


def columns(values: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """Left-aligned columns that stay aligned with Chinese text (2 cells per CJK character)."""
    cells = []
    for value, width in zip(values, widths):
        shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)
        cells.append(value + " " * max(width - shown, 1))
    cells.extend(values[len(widths):])
    return "".join(cells).rstrip()
