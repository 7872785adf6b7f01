"""The DB layer on SQLite and, for real, on the local PostgreSQL server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text

from gatewright.servicekit import Database, ServiceSettings
from gatewright.servicekit.db import SchemaOutdated, UTCDateTime, utcnow
from gatewright.servicekit.testing import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with database_url(request.param, tmp_path / "t.db") as url:
        database = Database(url)
        yield database
        database.dispose()


def test_round_trip_and_transaction_rollback(db: Database) -> None:
    meta = MetaData()
    table = Table(
        f"t_{uuid.uuid4().hex[:10]}",
        meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(50), nullable=False),
    )
    db.create_all(meta)
    try:
        with db.session() as s, s.begin():
            s.execute(table.insert().values(id=1, name="a"))

        def insert_then_fail() -> None:
            with db.session() as s, s.begin():
                s.execute(table.insert().values(id=2, name="b"))
                raise RuntimeError("abort")

        with pytest.raises(RuntimeError):
            insert_then_fail()
        with db.session() as s:
            assert s.execute(select(table.c.name)).scalars().all() == ["a"]
    finally:
        meta.drop_all(db.engine)


async def test_call_runs_sqlite_work_on_the_loop_and_network_work_in_the_pool(
    db: Database,
) -> None:
    def where(n: int, *, scale: int) -> tuple[int, int]:
        with db.session() as s:
            value = s.execute(text("SELECT :n"), {"n": n}).scalar_one()
        return threading.get_ident(), value * scale

    thread, value = await db.call(where, 21, scale=2)
    assert value == 42
    on_loop = thread == threading.get_ident()
    assert on_loop is db.is_sqlite


def test_tables_from_an_older_build_refuse_to_start_with_their_names(db: Database) -> None:
    name = f"t_{uuid.uuid4().hex[:10]}"
    old, new = MetaData(), MetaData()
    Table(name, old, Column("id", Integer, primary_key=True))
    Table(
        name,
        new,
        Column("id", Integer, primary_key=True),
        Column("email", String(50)),
        Column("role", String(20)),
    )
    db.create_all(old)
    try:
        with pytest.raises(SchemaOutdated, match=f"{name} lacks email, role") as refused:
            db.create_all(new)
        assert refused.value.missing == {name: ["email", "role"]}
        assert "no schema migrations yet" in str(refused.value)
        db.create_all(old)  # the same build starts again
    finally:
        old.drop_all(db.engine)


def test_ping(db: Database) -> None:
    assert db.ping()
    with db.session() as s:
        assert s.execute(text("SELECT 1")).scalar() == 1


def test_settings_pick_sqlite_under_data_dir_or_the_url(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path / "data")
    assert settings.database_url_for("identity") == f"sqlite:///{tmp_path / 'data' / 'identity.db'}"
    settings = ServiceSettings(data_dir=tmp_path, database_url="postgresql+psycopg://x/y")
    assert settings.database_url_for("identity") == "postgresql+psycopg://x/y"


def test_settings_refuse_dev_service_token_in_production() -> None:
    with pytest.raises(ValueError, match="SERVICE_TOKEN"):
        ServiceSettings(environment="production")


def test_utc_datetime_round_trips_aware_utc(db: Database) -> None:
    md = MetaData()
    t = Table(
        f"t_utc_{uuid.uuid4().hex[:8]}",
        md,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime()),
    )
    db.create_all(md)
    plus2 = timezone(timedelta(hours=2))
    with db.session() as s, s.begin():
        s.execute(t.insert().values(id=1, at=datetime(2026, 1, 1, 12, tzinfo=plus2)))
        s.execute(t.insert().values(id=2, at=None))
    with db.session() as s:
        rows = {row.id: row.at for row in s.execute(select(t.c.id, t.c.at))}
    assert rows == {1: datetime(2026, 1, 1, 10, tzinfo=UTC), 2: None}
    assert rows[1].tzinfo is UTC
    with pytest.raises(Exception, match="naive datetime"), db.session() as s, s.begin():
        s.execute(t.insert().values(id=3, at=datetime(2026, 1, 1)))
    assert utcnow().tzinfo is UTC
    md.drop_all(db.engine)
