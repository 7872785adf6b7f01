"""`create_service_app`: the one FastAPI factory behind every Gatewright service.

Nothing happens at import time: no settings read, no engine, no network. A service's own
`create_app(settings)` calls this with its routers and its `Database`, so tests and provider
verification build apps with whatever overrides they need.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from gatewright.servicekit import health
from gatewright.servicekit.audit import AuditOutbox, start_deliverer
from gatewright.servicekit.correlation import CorrelationMiddleware
from gatewright.servicekit.db import Database
from gatewright.servicekit.errors import ERROR_RESPONSES, ErrorObserver, install_error_handlers
from gatewright.servicekit.requestbody import (
    DEFAULT_MAX_BODY_BYTES,
    RejectionObserver,
    RequestBodyMiddleware,
)
from gatewright.servicekit.settings import ServiceSettings

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
    audit_outbox: AuditOutbox | None = None,
    settings: ServiceSettings | None = None,
    on_service_error: ErrorObserver | None = None,
    on_body_rejected: RejectionObserver | None = None,
) -> FastAPI:
    """The app, with `audit_outbox` delivered to `settings.audit_url` for as long as it runs
    (the deliverer starts once the service's own lifespan has set up its tables, and stops
    before it tears down), `on_service_error` told of every ServiceError and
    `on_body_rejected` of every body the request-body check refused."""
    if audit_outbox is not None and (db is None or settings is None):
        raise ValueError("an audit outbox needs the service's db and settings")

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if lifespan is not None:
                await stack.enter_async_context(lifespan(app))
            if audit_outbox is not None:
                assert db is not None
                assert settings is not None
                app.state.audit = start_deliverer(
                    db,
                    audit_outbox,
                    audit_url=settings.audit_url,
                    service_token=settings.service_token.get_secret_value(),
                    retention_seconds=settings.audit_outbox_retention_seconds,
                )
                if app.state.audit is not None:
                    stack.push_async_callback(run_in_threadpool, app.state.audit.stop)
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
    app.state.audit = None
    app.state.audit_outbox = audit_outbox
    for key, value in (state or {}).items():
        setattr(app.state, key, value)
    install_error_handlers(app, observer=on_service_error)
    # The last added runs first: correlation (request ID) wraps the body check.
    app.add_middleware(
        RequestBodyMiddleware, max_body_bytes=max_body_bytes, on_rejected=on_body_rejected
    )
    app.add_middleware(CorrelationMiddleware, service=service)
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    return app
