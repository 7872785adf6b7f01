"""`create_service_app`: the one FastAPI factory behind every Gatewright service.

Nothing happens at import time: no settings read, no engine, no network. A service's own
`create_app(settings)` calls this with its routers and its `Database`, so tests and provider
verification build apps with whatever overrides they need.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from gatewright.servicekit import health
from gatewright.servicekit.correlation import DEFAULT_MAX_BODY_BYTES, CorrelationMiddleware
from gatewright.servicekit.db import Database
from gatewright.servicekit.errors import ERROR_RESPONSES, install_error_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    service: str,
    version: str,
    routers: Sequence[APIRouter],
    db: Database | None = None,
    lifespan: Lifespan | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    description: str = "",
    state: dict[str, Any] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield
        if db is not None:
            db.dispose()

    app = FastAPI(
        title=service,
        version=version,
        description=description,
        lifespan=_lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.db = db
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    install_error_handlers(app)
    app.add_middleware(CorrelationMiddleware, service=service, max_body_bytes=max_body_bytes)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    return app
