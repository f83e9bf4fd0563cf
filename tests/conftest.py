"""Fixtures shared by every test folder.

PostgreSQL
----------
``pg_server`` (session): the superuser URL of a PostgreSQL server for the tests.

- ``HALLWATCH_TEST_PG_URL`` set (``.ci/run`` sets it): that server is used;
- unset, and Debian's server binaries present (``/usr/lib/postgresql/*/bin``): a throwaway
  cluster is started in a temporary folder for the session (tests/pgcluster.py);
- neither: the test is skipped, with the reason, except when ``CI=true``: then it fails, so
  that PostgreSQL is never silently left untested in CI.

``pg_url`` (function): a URL to a new, empty database made for the test
(``CREATE DATABASE``) and dropped after it. Any test that needs PostgreSQL takes it::

    def test_something(pg_url):
        with psycopg.connect(pg_url) as conn: ...

``pg_module_url`` is the same, shared by one test module (for slow set-ups).
``hub_database`` is parametrized over both hub engines, for tests that must hold on both: a
SQLite file path or a PostgreSQL URL, either one what ``HubStore(...)`` takes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.pgcluster import (TEST_DATABASE_PREFIX, Cluster, ClusterError, new_database_name,
                             server_bin_dir)

PG_URL_ENV = "HALLWATCH_TEST_PG_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url = os.environ.get(PG_URL_ENV)
    if url:
        yield url
        _drop_test_databases(url)  # copies the tests made (tests/hubkit.py clone_database)
        return
    if server_bin_dir() is None:
        _unavailable(f"{PG_URL_ENV} is unset and no PostgreSQL server binaries are installed "
                     "(apt-get install postgresql)")
    try:
        cluster = Cluster.create()
    except ClusterError as exc:
        _unavailable(str(exc))
    try:
        yield cluster.url
    finally:
        cluster.destroy()


def _drop_test_databases(server_url: str) -> None:
    import psycopg

    pattern = TEST_DATABASE_PREFIX.replace("_", "\\_") + "%"
    with psycopg.connect(server_url, autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "select datname from pg_database where datname like %s", (pattern,))]
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hub_module_database(request) -> Iterator[str | None]:
    """Module-scoped, over both engines: None (SQLite in the hub's folder) or the URL of a
    fresh PostgreSQL database, for tests/hubkit.py's ``database=``."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_database(request.getfixturevalue("pg_server")) as url:
        yield url


def _with_database(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` instead of its own."""
    base, _, query = server_url.partition("?")
    base = re.sub(r"/[^/@]*$", "", base) if base.count("/") > 2 else base
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server for the ``with`` block; yields its URL."""
    import psycopg

    name = new_database_name()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def pg_module_url(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_database(request, tmp_path) -> Path | str:
    """Where a test's hub stores: a SQLite file in tmp_path, or a fresh PostgreSQL database's
    URL. ``HubStore(hub_database)`` opens either; ``hub_database_toml`` makes hub.toml say so."""
    if request.param == "sqlite":
        return tmp_path / "hub.db"
    return request.getfixturevalue("pg_url")


def hub_database_toml(target: Path | str) -> dict:
    """hub.toml's settings for ``target``: nothing for SQLite, ``[database] url`` else."""
    return {} if isinstance(target, Path) else {"database": {"url": target}}
