"""The 中间库 pull: rows past a watermark, read with SQLAlchemy Core, stored with the watermark.

SQLAlchemy Core writes the dialect's own SQL (``LIMIT``, ``TOP``, ``FETCH FIRST``) for
whichever database the district runs, with its own driver: ``postgresql+psycopg://``,
``mysql+pymysql://``, ``oracle+oracledb://``, ``mssql+pyodbc://``, ``sqlite:///``.

A batch is the rows whose watermark column is greater than the committed watermark, in its
order, at most ``batch_size`` of them. When a batch is full, the rows sharing its last
watermark value are left for the next batch (so a value is never split between two batches);
when every row of a full batch shares one value, all rows with that value are read. The
batch is stored in one store transaction together with the new watermark
(``state.advance``), so a crash at any point loses nothing and reads nothing twice.

Example::

    reader = DatabaseReader("sqlite:///exchange.db", table="t_bj_hjxx", watermark="xh")
    batch = reader.read(after=None, limit=1000)
    batch.rows[0], batch.watermark, batch.behind
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge.integration.intake import Sink, load_rows
from edge.integration.mapping import RowMapper, plain_text
from edge.integration.state import advance, load_watermark

if TYPE_CHECKING:
    import sqlalchemy as sa

# SQLAlchemy is imported by the functions that use it: every box imports this module (a drop
# folder's outcome is a PollOutcome), few have a 中间库, and the import takes half a second or more.

CONNECT_TIMEOUT = 10  # seconds; an unreachable 前置机 must not hang the pull for minutes


class SourceError(Exception):
    """A source cannot be read as configured (no such column, a query that fails)."""


@dataclass
class Batch:
    rows: list[dict[str, Any]]
    watermark: Any  # the value to commit with these rows
    behind: bool  # the batch was full: more rows wait


@dataclass
class PollOutcome:
    """What one poll of a source did (for its state on the health page).

    ``read`` and ``accepted`` are added to the source's totals; a 中间库 batch leaves them 0,
    as it counts them in the transaction that stores the rows (``state.advance``).
    """

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    behind: bool = False
    files: list[str] = field(default_factory=list)


def make_engine(url: str) -> sa.Engine:
    """An engine with a connect timeout where the driver has one, and stale-link checks."""
    import sqlalchemy as sa

    backend = sa.engine.make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    return sa.create_engine(url, pool_pre_ping=True, pool_size=1, max_overflow=1,
                            pool_recycle=1800, connect_args=connect_args)


class DatabaseReader:
    """Reads a platform's table or query past a watermark; one engine, opened on first use."""

    def __init__(self, url: str, *, watermark: str, table: str | None = None,
                 query: str | None = None):
        if (table is None) == (query is None):
            raise ValueError("give table or query")
        self.url = url
        self.watermark_name = watermark
        self.table = table
        self.query = query.strip().rstrip(";") if query else None
        self._engine: sa.Engine | None = None
        self._key: str | None = None

    @property
    def shown_url(self) -> str:
        """The URL without its password (for pages and logs)."""
        import sqlalchemy as sa

        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _source(self) -> sa.FromClause:
        import sqlalchemy as sa

        if self.table is not None:
            schema, _, name = self.table.rpartition(".")
            return sa.table(name, schema=schema or None)
        return sa.text(self.query).columns().subquery("hallwatch_source")

    def columns(self, conn: sa.Connection) -> list[str]:
        """The source's column names as the database reports them."""
        import sqlalchemy as sa

        probe = sa.select(sa.text("*")).select_from(self._source()).where(sa.false())
        try:
            return list(conn.execute(probe).keys())
        except sa.exc.ProgrammingError as exc:  # no such table, a query that does not parse
            raise SourceError(f"cannot read {self.table or 'the query'}: {exc.orig}") from None

    def _watermark_key(self, conn: sa.Connection) -> str:
        if self._key is None:
            names = self.columns(conn)
            matches = [n for n in names if n.lower() == self.watermark_name.lower()]
            if not matches:
                raise SourceError(f"watermark column {self.watermark_name!r} is not in the "
                                  f"source (its columns: {', '.join(names[:30])})")
            self._key = matches[0]
        return self._key

    def read(self, after: Any, limit: int) -> Batch:
        """The next batch after ``after`` (None: from the start)."""
        import sqlalchemy as sa

        with self.engine().connect() as conn:
            key = self._watermark_key(conn)
            mark = sa.column(key)
            base = sa.select(sa.text("*")).select_from(self._source()).where(mark.is_not(None))
            if after is not None:
                base = base.where(mark > sa.bindparam("after", after))
            rows = [dict(r) for r in conn.execute(base.order_by(mark).limit(limit)).mappings()]
            full = len(rows) == limit
            if full:
                last = rows[-1][key]
                kept = [r for r in rows if r[key] != last]
                rows = kept or [dict(r) for r in conn.execute(
                    base.where(mark == sa.bindparam("last", last))).mappings()]
        return Batch(rows, rows[-1][key] if rows else after, full)

    def counts(self, query: str, params: dict[str, Any]) -> dict[str, int]:
        """(item_code → count) from a reconciliation query returning two columns."""
        import sqlalchemy as sa

        with self.engine().connect() as conn:
            result = conn.execute(sa.text(query.strip().rstrip(";")), params)
            counts: dict[str, int] = {}
            for row in result:
                if len(row) < 2:
                    raise SourceError("the reconcile query must return item_code and count")
                code = plain_text(row[0])
                counts[code] = counts.get(code, 0) + int(row[1] or 0)
            return counts


class DatabasePull:
    """One 中间库 source: each ``poll()`` stores one batch with its watermark."""

    def __init__(self, name: str, reader: DatabaseReader, mapper: RowMapper, sink: Sink, *,
                 batch_size: int):
        self.name = name
        self.kind = "database"
        self.reader = reader
        self.mapper = mapper
        self.sink = sink
        self.batch_size = batch_size

    def poll(self) -> PollOutcome:
        after = load_watermark(self.sink.store, self.name)
        batch = self.reader.read(after, self.batch_size)
        if not batch.rows:
            return PollOutcome()

        def with_rows(tx, loaded) -> None:
            advance(tx, self.name, self.kind, batch.watermark, rows=len(batch.rows),
                    accepted=loaded.stored, newest_at=loaded.newest_at)

        loaded = load_rows(self.sink, self.mapper, _positions(batch.rows),
                           source=f"中间库 {self.name}", extra=with_rows, one_transaction=True)
        result = loaded.result
        return PollOutcome(duplicates=result.duplicates,
                           rejected=len(result.rejected) + len(result.conflicts),
                           behind=batch.behind)

    def close(self) -> None:
        self.reader.close()

    def describe(self) -> str:
        return f"{self.reader.shown_url} {self.reader.table or '（查询）'}"


def _positions(rows: Iterable[dict[str, Any]]) -> Iterable[tuple[int, dict[str, Any]]]:
    return enumerate(rows)


def day_bounds(day: dt.date) -> dict[str, str]:
    """The parameters a reconcile query may use for ``day``."""
    following = day + dt.timedelta(days=1)
    return {"day": day.isoformat(), "start": f"{day.isoformat()} 00:00:00",
            "end": f"{following.isoformat()} 00:00:00"}
