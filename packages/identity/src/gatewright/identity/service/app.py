"""`create_app(settings)`: the identity FastAPI app. Nothing runs at import time.

At startup (lifespan) the app creates its tables, loads or generates its signing key under the
data dir and creates or promotes the bootstrap platform admin (idempotent); servicekit then
delivers the audit outbox (`GATEWRIGHT_AUDIT_URL`) until shutdown. Every 403
`permission_denied` any route raises is recorded as an `authz.denied` audit event on its way out
(`audit_denial`, servicekit's error observer), so no denial goes unaudited (see `events`).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from gatewright.identity.service import events, store
from gatewright.identity.service.api.routes import (
    auth,
    authz,
    invitations,
    jwks,
    keys,
    members,
    orgs,
    users,
)
from gatewright.identity.service.config import IdentitySettings
from gatewright.identity.service.passwords import Passwords
from gatewright.identity.service.tokens import TokenIssuer
from gatewright.servicekit import Database, ServiceError, create_service_app

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-identity")
log = logging.getLogger("gatewright.identity")


def bootstrap(db: Database, settings: IdentitySettings, passwords: Passwords) -> str:
    """Create the tables and the bootstrap platform admin; returns the admin's user id."""
    db.create_all(store.metadata)
    email = settings.bootstrap_admin_email.strip().lower()
    with db.session() as s:
        existing = store.get_credentials(s, email=email)
    password_hash = (
        "" if existing else passwords.hash(settings.bootstrap_admin_password.get_secret_value())
    )
    try:
        with db.session() as s, s.begin():
            admin_id = store.ensure_platform_admin(s, email=email, password_hash=password_hash)
    except IntegrityError:
        # Another replica inserted the admin between our read and our write: promote theirs.
        with db.session() as s, s.begin():
            admin_id = store.ensure_platform_admin(s, email=email, password_hash=password_hash)
    log.info("bootstrap admin ready", extra={"user_id": admin_id})
    return admin_id


def create_app(settings: IdentitySettings) -> FastAPI:
    db = Database(settings.database_url_for("identity"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        passwords = Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        )
        app.state.passwords = passwords
        app.state.tokens = TokenIssuer.from_data_dir(
            settings.data_dir, ttl_seconds=settings.access_token_ttl_seconds
        )
        app.state.admin_id = await run_in_threadpool(bootstrap, db, settings, passwords)
        yield

    def audit_denial(request: Request, exc: ServiceError) -> None:
        """An authorization denial becomes its audit event (its transaction was rolled back)."""
        if events.is_authz_denial(exc):
            events.record_denial(db, request, exc)

    app = create_service_app(
        service="identity",
        version=VERSION,
        description="Users, login, orgs, roles, invitations, API keys, authorization checks.",
        routers=[
            auth.router,
            jwks.router,
            users.router,
            orgs.router,
            members.router,
            invitations.router,
            keys.router,
            authz.router,
        ],
        db=db,
        lifespan=lifespan,
        audit_outbox=store.outbox,
        settings=settings,
        on_service_error=audit_denial,
        state={"settings": settings},
    )
    return app
