"""What a migration step gets (hub/storage/migrations.py): the engine and the open transaction.

Example::

    def step(db: Migrating) -> None:
        db.run("create index if not exists x on t(a);")   # SQLite spelling, translated
        if db.postgres: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.storage.engines import Engine


@dataclass
class Migrating:
    """What a migration step gets: the engine and the open transaction's connection."""

    engine: Engine
    conn: Any

    @property
    def postgres(self) -> bool:
        return self.engine.name == "postgresql"

    def run(self, ddl: str) -> None:
        """DDL in the project's (SQLite) spelling, translated for the engine."""
        self.engine.script(self.conn, self.engine.dialect.ddl(ddl))

    def add_columns(self, added: tuple[tuple[str, str, str], ...]) -> None:
        for table, column, definition in added:
            if column not in self.engine.columns(self.conn, table):
                self.conn.execute(f"alter table {table} add column {column} {definition}")
