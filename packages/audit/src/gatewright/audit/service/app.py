"""`create_app(settings, clock=None)`: the audit FastAPI app. Nothing runs at import time.

At startup (lifespan) the app creates its tables and opens the identity client (authz checks,
with the service token and the current request ID); the JWKS verifier for user access tokens is
built here and fetches keys lazily. `clock` (default: the system clock, UTC) stamps each event's
`received_at`, so tests can pin time. Request bodies above `max_body_bytes` are refused with 413
before they are parsed.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from gatewright.audit.service import store
from gatewright.audit.service.api.routes import events
from gatewright.audit.service.config import AuditSettings
from gatewright.servicekit import Database, create_service_app
from gatewright.servicekit.access import IdentityAuthorizer, service_identity
from gatewright.servicekit.auth import JWKSVerifier
from gatewright.servicekit.db import utcnow

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-audit")


def create_app(settings: AuditSettings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    db = Database(settings.database_url_for("audit"))
    identity_url = settings.identity_url.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.create_all, store.metadata)
        identity = service_identity(identity_url, settings)
        app.state.authorizer = IdentityAuthorizer(identity)
        try:
            yield
        finally:
            identity.close()

    return create_service_app(
        service="audit",
        version=VERSION,
        description="Append-only, hash-chained audit log: ingest, query, chain verification.",
        routers=[events.router],
        db=db,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        state={
            "settings": settings,
            "clock": clock or utcnow,
            "verifier": JWKSVerifier(
                f"{identity_url}/.well-known/jwks.json", cache_seconds=settings.jwks_cache_seconds
            ),
        },
    )
