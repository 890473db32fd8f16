"""A pytest run of tests that use no database (the engine's, say) sets up no test database, so it
starts at once (tests/conftest.py, `_database_run_fixtures`). Each run here is a pytest run of its
own, in a subprocess, as a PostgreSQL role that may not create databases: setting one up fails
("permission denied to create database"), as it did before."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLE = "tests_may_not_create_databases"

NO_DATABASE = "tests/scheduling/test_dst_quarter_hours.py"


@pytest.fixture(scope="module")
def role() -> Iterator[str]:
    url = urlparse(os.environ["DATABASE_URL"])
    server = psycopg2.connect(
        host=url.hostname, port=url.port or 5432, user=url.username or "postgres", dbname="postgres"
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {ROLE}")
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN NOCREATEDB")
    try:
        yield urlunparse(url._replace(netloc=f"{ROLE}@{url.hostname}:{url.port or 5432}"))
    finally:
        with server.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {ROLE}")
        server.close()


def _run(target: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_run_of_tests_without_the_database_sets_up_none(role: str) -> None:
    result = _run(NO_DATABASE, role)
    assert result.returncode == 0, result.stdout + result.stderr
