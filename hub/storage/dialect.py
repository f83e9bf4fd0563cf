"""What differs between SQLite and PostgreSQL, in one place.

Services, projections and pages write one SQL text for both engines: ``?`` placeholders,
``insert ... on conflict (...) do nothing / do update``, ``coalesce``, ``case when``, row values,
``returning``. Both engines accept all of that. Where no common form exists they ask the
store's dialect for a fragment (``store.dialect``):

====================  ==============================  ====================================
need                  SQLite                          PostgreSQL
====================  ==============================  ====================================
placeholders          ``?``                           ``%s`` (translated here)
string aggregate      ``group_concat(x, sep)``        ``string_agg(x, sep)``
index hint            ``+col`` (no index on col)      ``col`` (the planner decides)
JSON field as text    ``json_extract(doc, '$.k')``    ``doc::json ->> 'k'``
days between dates    ``julianday(a) - julianday(b)`` ``a::date - b::date``
table DDL             as written                      ids, blobs, triggers translated
====================  ==============================  ====================================

Example::

    dialect = dialect_for("postgresql")
    dialect.prepare("select * from hub_cases where case_no like ? || '%'")
    # "select * from hub_cases where case_no like %s || '%%'"
"""

from __future__ import annotations

import re
from functools import lru_cache


class Dialect:
    """SQLite's spelling: the SQL the project's modules are written in."""

    name = "sqlite"

    def prepare(self, sql: str) -> str:
        return sql

    def group_concat(self, expr: str, separator_literal: str) -> str:
        """An aggregate joining ``expr`` with a separator given as an SQL string literal."""
        return f"group_concat({expr}, {separator_literal})"

    def no_index(self, column: str) -> str:
        """``column`` written so that SQLite's planner will not pick an index on it."""
        return f"+{column}"

    def json_text(self, doc: str, key: str) -> str:
        return f"json_extract({doc}, '$.{key}')"

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from the ISO date ``earlier`` to ``later`` (SQL expressions)."""
        return f"cast(julianday({later}) - julianday({earlier}) as integer)"

    def ddl(self, script: str) -> str:
        return script


class PostgresDialect(Dialect):
    name = "postgresql"

    def prepare(self, sql: str) -> str:
        return _to_pyformat(sql)

    def group_concat(self, expr: str, separator_literal: str) -> str:
        return f"string_agg(({expr})::text, {separator_literal})"

    def no_index(self, column: str) -> str:
        return column

    def json_text(self, doc: str, key: str) -> str:
        return f"(({doc})::json ->> '{key}')"

    def days_between(self, later: str, earlier: str) -> str:
        return f"(({later})::date - ({earlier})::date)"

    def ddl(self, script: str) -> str:
        return postgres_ddl(script)


def dialect_for(name: str) -> Dialect:
    return PostgresDialect() if name == "postgresql" else Dialect()


@lru_cache(maxsize=4096)
def _to_pyformat(sql: str) -> str:
    """``?`` → ``%s`` outside string literals and quoted names; every ``%`` doubled."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


# -- DDL: SQLite's table definitions made PostgreSQL's -----------------------------------
_ROWID = re.compile(r"\b(\w+)\s+integer\s+primary\s+key\b", re.IGNORECASE)
_WITHOUT_ROWID = re.compile(r"\)\s*without\s+rowid\s*;", re.IGNORECASE)
_BLOB = re.compile(r"\bblob\b", re.IGNORECASE)
_REAL = re.compile(r"\breal\b", re.IGNORECASE)  # PostgreSQL's real is 4 bytes; SQLite's 8
_TRIGGER = re.compile(
    r"create\s+trigger\s+if\s+not\s+exists\s+(\w+)\s+before\s+(insert|update|delete)\s+on\s+(\w+)"
    r"\s+(?:when\s+(.*?)\s+)?begin\s+select\s+raise\s*\(\s*abort\s*,\s*'([^']*)'\s*\)\s*;"
    r"\s*end\s*;", re.IGNORECASE | re.DOTALL)


def _trigger(match: re.Match) -> str:
    """A refusing SQLite trigger as a PL/pgSQL function and a trigger (WHEN may hold a query)."""
    name, event, table, condition, message = match.groups()
    returned = "old" if event.lower() == "delete" else "new"
    return (f"create or replace function {name}_check() returns trigger language plpgsql as $$\n"
            f"begin\n  if {condition or 'true'} then raise exception '%', '{message}'; end if;\n"
            f"  return {returned};\nend $$;\n"
            f"create or replace trigger {name} before {event} on {table} for each row"
            f" execute function {name}_check();")


def postgres_ddl(script: str) -> str:
    """Translate the project's SQLite DDL: rowid ids, ``without rowid``, blobs, raise() triggers.

    >>> postgres_ddl("create table t (id integer primary key, b blob);")
    'create table t (id bigint generated by default as identity primary key, b bytea);'
    """
    script = _ROWID.sub(r"\1 bigint generated by default as identity primary key", script)
    script = _WITHOUT_ROWID.sub(");", script)
    script = _BLOB.sub("bytea", script)
    script = _REAL.sub("double precision", script)
    return _TRIGGER.sub(_trigger, script)
