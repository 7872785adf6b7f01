"""The one DB layer: SQLAlchemy 2, SQLite by default, PostgreSQL when the URL says so.

Data functions are synchronous; sessions are short and explicit
(`with db.session() as s, s.begin(): ...`). Plain `def` routes run in FastAPI's thread pool.
Async code (the request paths every completion takes) calls them through `await db.call(fn)`:
on SQLite that runs on the event loop itself, on a network database in the thread pool (see
`Database.call` and decision 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event, inspect, text
from sqlalchemy.engine import CursorResult, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


def utcnow() -> datetime:
    """The services' default clock: now, as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (portable across SQLite and PostgreSQL); returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # Take the write lock at BEGIN, so concurrent read-then-write transactions queue
            # instead of failing with "database is locked" on upgrade.
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            yield s

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run synchronous database work `fn(*args, **kwargs)` from async code.

        SQLite: right here, on the event loop. Its writes are serialized by BEGIN IMMEDIATE
        anyway, a short transaction takes a fraction of a millisecond, and a hop to the thread
        pool costs about half a millisecond on a busy 2-core machine (budgets' reserve route:
        0.55 ms inline against 1.0 ms pooled, measured in-process). Keep such work short: no
        network calls inside `fn`. Network databases (PostgreSQL): the thread pool, so a slow
        query or a lock wait never stalls the loop.
        """
        if self.is_sqlite:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    def create_all(self, metadata: MetaData) -> None:
        """Create missing tables; refuse to start on tables an older build made.

        There are no migrations yet: a table that exists without a column this build needs
        would fail later with an obscure error on some request, so say it now, once."""
        metadata.create_all(self.engine)
        schema = inspect(self.engine)
        outdated = {
            table.name: missing
            for table in metadata.sorted_tables
            if (missing := sorted(set(table.columns.keys()) - _columns(schema, table.name)))
        }
        if outdated:
            raise SchemaOutdated(self.url, outdated)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


class SchemaOutdated(RuntimeError):
    """The database holds tables from an older build (missing columns); there are no migrations."""

    def __init__(self, url: str, missing: dict[str, list[str]]) -> None:
        where = make_url(url).render_as_string(hide_password=True)
        tables = "; ".join(f"{name} lacks {', '.join(cols)}" for name, cols in missing.items())
        super().__init__(
            f"The database at {where} was made by an older build ({tables}). Gatewright has no "
            "schema migrations yet: start this service on an empty data dir or database."
        )
        self.missing = missing


def _columns(schema: Any, table: str) -> set[str]:
    return {column["name"] for column in schema.get_columns(table)}


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    # The driver's own transaction handling is switched off; SQLAlchemy's "begin" event issues
    # BEGIN IMMEDIATE instead (the documented SQLite recipe).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def rowcount(result: Any) -> int:
    """The rows an `UPDATE` or `DELETE` matched (`Session.execute` types its result as a plain
    `Result`, which has no `rowcount`)."""
    return cast(CursorResult[Any], result).rowcount
