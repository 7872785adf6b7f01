"""Route dependencies every service shares: the DB and the clock, read from `app.state`.

Each service's `service/api/deps.py` re-exports these next to its own (settings, path IDs), so
routes import everything from one place; tests override them with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from gatewright.servicekit.db import Database

__all__ = ["DB", "Now", "get_clock", "get_db", "now"]


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


async def now(clock: Annotated[Callable[[], datetime], Depends(get_clock)]) -> datetime:
    return clock()


DB = Annotated[Database, Depends(get_db)]
Now = Annotated[datetime, Depends(now)]
