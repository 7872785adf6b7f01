"""`create_app(settings, clock=None)`: the budgets FastAPI app. Nothing runs at import time.

At startup (lifespan) the app creates its tables, opens the identity client (authz checks, with
the service token and the current request ID) and the JWKS verifier, and starts the expiry sweep:
a background task that, every `sweep_interval_seconds`, expires held reservations past their
`expires_at` (at most `sweep_batch` per round) and stops on shutdown. `clock` (default: the
system clock, UTC) is what every route and the sweep take "now" from, so tests can move time.
The app also starts the audit deliverer (servicekit.audit, `GATEWRIGHT_AUDIT_URL`); 402 and 403
answers are recorded as `reservation.denied` / `authz.denied` on their way out (`events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from gatewright.budgets.service import events, store
from gatewright.budgets.service.api.routes import budgets, orgdata, reservations, spend
from gatewright.budgets.service.config import BudgetsSettings
from gatewright.servicekit import Database, ServiceError, create_service_app
from gatewright.servicekit.access import IdentityAuthorizer, IdentityOrgDirectory, service_identity
from gatewright.servicekit.auth import JWKSVerifier
from gatewright.servicekit.db import utcnow

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-budgets")
log = logging.getLogger("gatewright.budgets")


def sweep_once(db: Database, *, now: datetime, batch: int) -> int:
    """Expire held reservations past `expires_at`, one transaction per org; returns the count."""
    with db.session() as s:
        org_ids = store.orgs_with_due_reservations(s, now=now, limit=batch)
    expired = 0
    for org_id in org_ids:
        if expired >= batch:
            break
        with db.session() as s, s.begin():
            store.lock_org(s, org_id=org_id, now=now)
            expired += store.expire_due(s, org_id=org_id, now=now, limit=batch - expired)
    return expired


async def _sweep_forever(
    db: Database, clock: Callable[[], datetime], settings: BudgetsSettings
) -> None:
    while True:
        await asyncio.sleep(settings.sweep_interval_seconds)  # a timer, not synchronization
        try:
            await run_in_threadpool(sweep_once, db, now=clock(), batch=settings.sweep_batch)
        except Exception:
            log.exception("expiry sweep failed; retrying next round")


def create_app(
    settings: BudgetsSettings, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    db = Database(settings.database_url_for("budgets"))
    the_clock = clock or utcnow
    identity_url = settings.identity_url.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.create_all, store.metadata)
        identity = service_identity(identity_url, settings)
        app.state.authorizer = IdentityAuthorizer(identity)
        app.state.orgs = IdentityOrgDirectory(identity)
        sweeper = asyncio.create_task(_sweep_forever(db, the_clock, settings))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            identity.close()

    def audit_denial(request: Request, exc: ServiceError) -> None:
        """A 402 or 403 becomes its audit event (the request's transaction was rolled back)."""
        if exc.status_code in (402, 403):
            events.record_denial(db, request, exc)

    app = create_service_app(
        service="budgets",
        version=VERSION,
        description="Per-org and per-key limits, periods, reservations, spend ledger.",
        routers=[budgets.router, spend.router, reservations.router, orgdata.router],
        db=db,
        lifespan=lifespan,
        audit_outbox=store.outbox,
        settings=settings,
        on_service_error=audit_denial,
        state={
            "settings": settings,
            "clock": the_clock,
            "verifier": JWKSVerifier(
                f"{identity_url}/.well-known/jwks.json", cache_seconds=settings.jwks_cache_seconds
            ),
        },
    )
    return app
