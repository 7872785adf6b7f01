"""`create_app(settings, live=None, clock=None)`: the gitops FastAPI app. Nothing runs at import.

At startup (lifespan) the app creates its tables and, unless `reconcile_loop` is off, starts the
scheduler (`scheduler.Scheduler`), which reconciles every Application on its poll interval and
at once on a create, change or refresh, each reconcile in a worker thread. `live` (default: the
identity, budgets and gateway clients with the service token, `live.ClientLiveFactory`, built
once and closed at shutdown) is how
a reconcile reads and writes live state; `clock` (default: UTC now) stamps statuses. Tests pass
both. `app.state.preview(name, revision)` diffs a revision against live state, applying
nothing. The app also starts the audit deliverer (servicekit.audit, `GATEWRIGHT_AUDIT_URL`) for
its own events (`events`); a 403 is recorded as servicekit's `authz.denied` on its way out. The
lifespan opens the identity client with the service token: permission checks (`gitops:manage`,
servicekit's `IdentityAuthorizer`) and org names (`IdentityOrgNames`).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from gatewright.gitops.models import Preview
from gatewright.gitops.service import store
from gatewright.gitops.service.api.deps import IdentityCallerCheck, IdentityOrgNames
from gatewright.gitops.service.api.routes import applications, hooks
from gatewright.gitops.service.config import GitopsSettings
from gatewright.gitops.service.gitrepo import RepoCache
from gatewright.gitops.service.live import ClientLiveFactory, LiveFactory
from gatewright.gitops.service.preview import preview
from gatewright.gitops.service.reconcile import Lease, reconcile_by_name
from gatewright.gitops.service.scheduler import Outcome, Scheduler, Timing
from gatewright.servicekit import Database, ServiceError, create_service_app
from gatewright.servicekit.access import IdentityAuthorizer, actor, service_identity
from gatewright.servicekit.audit.denial import record_denial
from gatewright.servicekit.db import utcnow

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-gitops")


def create_app(
    settings: GitopsSettings,
    *,
    live: LiveFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    db = Database(settings.database_url_for("gitops"))
    the_clock = clock or utcnow
    repos = RepoCache(
        settings.repos_dir,
        timeout_seconds=settings.git_timeout_seconds,
        max_file_bytes=settings.max_manifest_bytes,
        max_files=settings.max_manifest_files,
    )
    clients: ClientLiveFactory | None = None
    if live is None:
        live = clients = ClientLiveFactory(
            identity_url=settings.identity_url.rstrip("/"),
            budgets_url=settings.budgets_url.rstrip("/"),
            gateway_url=settings.gateway_url.rstrip("/"),
            service_token=settings.service_token.get_secret_value(),
        )
    the_live = live

    lease = Lease.for_this_process(settings.lease_seconds)

    def run(name: str, trigger: str) -> Outcome:
        return reconcile_by_name(
            name,
            db=db,
            repos=repos,
            live=the_live,
            trigger=trigger,
            clock=the_clock,
            lease=lease,
        )

    def schedule() -> list[Timing]:
        with db.session() as s:
            return [
                Timing(a.name, a.poll_interval_seconds, a.drift_check_interval_seconds)
                for a in store.list_schedule(s)
            ]

    def run_preview(name: str, revision: str) -> Preview:
        with db.session() as s:
            app = store.get_application(s, name=name)
        return preview(app, revision, db=db, repos=repos, live=the_live, clock=the_clock)

    identity_url = settings.identity_url.rstrip("/")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.create_all, store.metadata)
        identity = service_identity(identity_url, settings)
        app.state.authorizer = IdentityAuthorizer(identity)
        app.state.org_names = IdentityOrgNames(identity)
        if settings.reconcile_loop:
            scheduler = Scheduler(run, schedule, max_parallel=settings.max_parallel_reconciles)
            app.state.scheduler = scheduler
            scheduler.start()
        try:
            yield
        finally:
            if app.state.scheduler is not None:
                await app.state.scheduler.stop()
            if clients is not None:  # after the scheduler: no reconcile uses them any more
                clients.close()
            identity.close()

    def audit_denial(request: Request, exc: ServiceError) -> None:
        """A 403 becomes its `authz.denied` event (the request's transaction was rolled back)."""
        if exc.status_code == 403 and exc.code == "permission_denied":
            actor_type, actor_id = actor(request, getattr(request.state, "caller", None))
            record_denial(store.outbox, db, exc, actor_type=actor_type, actor_id=actor_id)

    return create_service_app(
        service="gitops",
        version=VERSION,
        description="Applications: git repositories whose manifests are kept applied.",
        routers=[applications.router, hooks.router],
        db=db,
        lifespan=lifespan,
        audit_outbox=store.outbox,
        settings=settings,
        on_service_error=audit_denial,
        state={
            "settings": settings,
            "clock": the_clock,
            "scheduler": None,
            "repos": repos,
            "reconcile": run,
            "preview": run_preview,
            "caller_check": IdentityCallerCheck(identity_url),
        },
    )
