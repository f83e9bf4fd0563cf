"""The pg_url fixture: each test gets its own empty PostgreSQL database."""

from __future__ import annotations

import psycopg

SEEN: list[str] = []


def _check_fresh(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        name = conn.execute("select current_database()").fetchone()[0]
        tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'"
                              ).fetchone()[0]
        conn.execute("create table marker (n integer)")
    assert tables == 0
    assert name not in SEEN
    SEEN.append(name)


def test_a_test_gets_an_empty_database(pg_url):
    _check_fresh(pg_url)


def test_the_next_test_gets_another_one(pg_url):
    _check_fresh(pg_url)
