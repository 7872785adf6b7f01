"""Helpers for the services' own tests (not used at run time).

`database_url(kind, sqlite_path)`: the URL of a test database, SQLite at `sqlite_path` or a
PostgreSQL schema of the test's own (the two params of every "on both databases" fixture).
`Clock`: the clock a service's `clock=` seam takes, which tests move instead of waiting.

`postgres_schema()`: a fresh schema on the test PostgreSQL server for as long as the block runs,
selected through the URL it yields (`?options=-csearch_path=...`), dropped afterwards, so tests
can run in parallel on one database without seeing each other's tables. The server is
`GATEWRIGHT_TEST_POSTGRES_URL` (default: the local server, trust auth, database `test`). When it
is unreachable the test is skipped locally and fails under `CI=true`: a missing dependency is
never a silent skip in CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

POSTGRES_TEST_URL = os.environ.get(
    "GATEWRIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def postgres_schema(base_url: str = POSTGRES_TEST_URL) -> Iterator[str]:
    """Yield a database URL whose connections use a schema of their own (see the module doc)."""
    import pytest  # a test-time helper: only tests call this

    admin = sa.create_engine(base_url)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {base_url} is unreachable under CI=true: {exc}")
        pytest.skip(f"PostgreSQL at {base_url} is unreachable: {exc}")
    schema = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        sep = "&" if "?" in base_url else "?"
        yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def database_url(kind: Literal["sqlite", "postgresql"], sqlite_path: Path) -> Iterator[str]:
    """`sqlite:///<sqlite_path>`, or a fresh PostgreSQL schema's URL (`postgres_schema`)."""
    if kind == "sqlite":
        yield f"sqlite:///{sqlite_path}"
    else:
        with postgres_schema() as url:
            yield url


class Clock:
    """The injected clock: tests move time instead of waiting for it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
