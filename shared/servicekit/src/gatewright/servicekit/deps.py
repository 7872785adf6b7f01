"""Route dependencies every service shares: the DB and the clock, read from `app.state`, and
`id_path()`, the one rule for an ID in a path (another service's or the service's own).

Each service's `service/api/deps.py` re-exports these next to its own (settings, path IDs), so
routes import everything from one place; tests override them with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from gatewright.identity.models import MAX_ID_LENGTH
from gatewright.servicekit.db import Database

__all__ = ["DB", "ID_PATTERN", "Now", "get_clock", "get_db", "id_path", "now"]

ID_PATTERN = r"^[^\x00-\x1f\x7f/]+$"
"""An ID in a path: printable, without a slash (it would change the route)."""


def id_path(*, max_length: int = MAX_ID_LENGTH, **kwargs: Any) -> Any:
    """The `Path(...)` of an ID parameter: 1 to `max_length` printable characters (identity's
    bound on the IDs it issues, by default), so an overlong or control-character ID is a 422
    before any lookup."""
    return Path(min_length=1, max_length=max_length, pattern=ID_PATTERN, **kwargs)


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
