"""`create_app(settings)`: the gateway FastAPI app. Nothing runs at import time.

At startup (lifespan) the app creates its tables and builds, once, the pooled keep-alive clients
it talks through: identity and budgets `AsyncClient`s (service token, `request_id_factory=
outbound_request_id` so every call carries the caller's X-Request-ID) and one shared
`httpx.AsyncClient` for backends. Collaborators can be passed in instead (`identity=`,
`budgets=`, `backend_http=`): the seam unit tests and provider verification use. Then it registers
`{public_url}/v1/internal/revoked-keys` with identity in the background, retrying with backoff;
until that succeeds, revoked keys expire from the key cache within `key_cache_seconds`. Last, it
starts the audit deliverer (servicekit.audit, `GATEWRIGHT_AUDIT_URL`) for `gateway_audit_outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from gatewright.budgets import AsyncClient as BudgetsClient
from gatewright.core import shared_ssl_context
from gatewright.gateway.service import store
from gatewright.gateway.service.api.routes import completions, internal, orgdata, route_table
from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.engine.pipeline import Gateway
from gatewright.gateway.service.engine.seams import BudgetsAPI, IdentityAPI
from gatewright.identity import AsyncClient as IdentityClient
from gatewright.servicekit import Database, create_service_app
from gatewright.servicekit.access import (
    SERVICE_NAME_HEADER,
    AsyncIdentityAuthorizer,
    AsyncIdentityOrgDirectory,
)
from gatewright.servicekit.auth import JWKSVerifier
from gatewright.servicekit.correlation import outbound_request_id

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-gateway")
log = logging.getLogger("gatewright.gateway")

POOL = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30)
HOOK_PATH = "/v1/internal/revoked-keys"
# Names the gateway to the services it calls (budgets labels `reservation.denied` with it).
CALLER_HEADERS = {SERVICE_NAME_HEADER: "gateway"}


async def register_hook(identity: IdentityAPI, url: str, *, max_delay: float = 30.0) -> None:
    """Register the revocation hook, retrying until identity takes it (cancelled at shutdown)."""
    delay = 0.2
    while True:
        try:
            await identity.keys.register_revocation_hook(url)
        except Exception as exc:
            log.warning(
                "cannot register the revocation hook with identity yet (%r); revoked keys "
                "expire from the key cache instead; retrying in %.1f s",
                exc,
                delay,
            )
            await asyncio.sleep(delay)  # retry backoff, not synchronization
            delay = min(max_delay, delay * 2)
            continue
        log.info("revocation hook registered", extra={"hook": url})
        return


def create_app(
    settings: GatewaySettings,
    *,
    identity: IdentityAPI | None = None,
    budgets: BudgetsAPI | None = None,
    backend_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    db = Database(settings.database_url_for("gateway"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.create_all, store.metadata)
        token = settings.service_token.get_secret_value()
        async with AsyncExitStack() as stack:
            ident: IdentityAPI
            if identity is None:
                ident = await stack.enter_async_context(
                    IdentityClient(
                        settings.identity_url,
                        token=token,
                        headers=CALLER_HEADERS,
                        request_id_factory=outbound_request_id,
                        http_client=httpx.AsyncClient(
                            limits=POOL, timeout=5.0, verify=shared_ssl_context()
                        ),
                    )
                )
            else:
                ident = identity
            app.state.authorizer = AsyncIdentityAuthorizer(
                ident, unavailable="Cannot check permissions right now"
            )
            # Whether identity still knows an org: the guard of a purge (decision 16).
            app.state.orgs = AsyncIdentityOrgDirectory(ident)
            ledger: BudgetsAPI
            if budgets is None:
                ledger = await stack.enter_async_context(
                    BudgetsClient(
                        settings.budgets_url,
                        token=token,
                        headers=CALLER_HEADERS,
                        request_id_factory=outbound_request_id,
                        http_client=httpx.AsyncClient(
                            limits=POOL, timeout=5.0, verify=shared_ssl_context()
                        ),
                    )
                )
            else:
                ledger = budgets
            http = backend_http
            if http is None:
                http = await stack.enter_async_context(
                    httpx.AsyncClient(limits=POOL, timeout=30.0, verify=shared_ssl_context())
                )
            app.state.gateway = Gateway(
                settings=settings, db=db, identity=ident, budgets=ledger, http=http
            )
            hook: asyncio.Task[None] | None = None
            if settings.register_revocation_hook:
                if settings.public_url:
                    url = settings.public_url.rstrip("/") + HOOK_PATH
                    hook = asyncio.create_task(register_hook(ident, url))
                else:
                    log.warning(
                        "GATEWRIGHT_PUBLIC_URL is not set: no revocation hook; revoked keys "
                        "expire from the key cache within %s s",
                        settings.key_cache_seconds,
                    )
            try:
                yield
            finally:
                if hook is not None:
                    hook.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await hook

    return create_service_app(
        service="gateway",
        version=VERSION,
        description="OpenAI-compatible chat completions with routing, fallback and budgets.",
        routers=[completions.router, route_table.router, internal.router, orgdata.router],
        db=db,
        lifespan=lifespan,
        audit_outbox=store.outbox,
        settings=settings,
        state={
            "settings": settings,
            "verifier": JWKSVerifier(
                settings.identity_url.rstrip("/") + "/.well-known/jwks.json",
                cache_seconds=settings.jwks_cache_seconds,
            ),
        },
    )
