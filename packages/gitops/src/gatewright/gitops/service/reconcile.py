"""One reconcile of one Application: fetch → parse + validate → read live → diff → apply → status.

`reconcile(...)` is synchronous (GitPython and the sync clients); the scheduler runs it in a
worker thread, never two at once for one Application. Every outbound call of one reconcile
carries one request ID (`gitops-<hex>`), recorded on its operation.

Order and outcomes:

1. Fetch the branch head (`RepoCache.snapshot`). A failure: sync Unknown, health Degraded, the
   condition names the reason (`FetchFailed`, `PathNotFound`, ...); nothing is applied.
2. Parse and validate the whole set (`manifests.parse`). Any problem: nothing is applied; sync
   Unknown, health Degraded, one `InvalidManifest` condition per problem (file, document,
   field, reason).
3. Orgs, then budgets, then routes (dependency order). For each: read live, compute the field
   diff against the manifest, and apply when it differs and the policy is `automated`. An org's
   live ID comes from the inventory (what this Application created); an org created here is
   recorded in the inventory at once, in its own transaction, so a later failure never leads to
   a second org on the next try. A resource whose org could not be applied fails with that
   reason. A failed call fails only its resource (`ApplyFailed` condition, health Degraded).
4. Status: Synced + Healthy when everything matches (then `last_applied_revision` = revision);
   OutOfSync when something differs or failed. `last_attempted_revision` is the revision of
   every reconcile that got as far as reading one.

Drift. `automated` applies what Git changed: a source (repo, branch, path, revision) not yet
applied. Once a source is applied, a live change made outside Git is drift: it is reported
(OutOfSync, Healthy, the resource's diff, message `drift`) and reverted only when `self_heal`
is on (message `drift corrected`). Every reconcile (poll, refresh) compares, so drift shows
within one poll interval.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatewright.core import APIConnectionError, APIStatusError
from gatewright.gitops.models import (
    RECENT_OPERATIONS,
    Application,
    ApplicationStatus,
    Condition,
    FieldDiff,
    Kind,
    Operation,
    ResourceStatus,
)
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import GitError, RepoCache, mask_url
from gatewright.gitops.service.live import LiveFactory, LiveState, route_fields
from gatewright.gitops.service.manifests import Manifest, ManifestSet, parse
from gatewright.gitops.service.scope import own_org_id, within
from gatewright.servicekit import Database, ServiceError

log = logging.getLogger("gatewright.gitops.reconcile")
MAX_CONDITIONS = 50


def new_reconcile_id() -> str:
    return f"gitops-{secrets.token_hex(8)}"


def diff_fields(live: dict[str, Any] | None, desired: dict[str, Any]) -> list[FieldDiff]:
    """Per-field differences, in the desired fields' order; all of them when live is None."""
    return [
        FieldDiff(
            field=f"spec.{name}", live=None if live is None else live.get(name), desired=value
        )
        for name, value in desired.items()
        if live is None or live.get(name) != value
    ]


def _failure(exc: Exception) -> str:
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {exc.code}: {exc.message}"
    if isinstance(exc, APIConnectionError):
        return f"unreachable: {exc}"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _Run:
    app: Application
    live: LiveState
    db: Database
    automated: bool  # may apply (the policy allows it for this source)
    drift: bool = False  # the source was applied before: a difference now is drift
    resources: list[ResourceStatus] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    org_ids: dict[str, str] = field(default_factory=dict)  # Org manifest name -> live org ID

    def fail(self, m: Manifest, message: str, diff: list[FieldDiff] | None = None) -> None:
        self.resources.append(
            ResourceStatus(
                kind=m.kind,
                name=m.name,
                status="OutOfSync",
                action="failed",
                diff=diff or [],
                message=message,
            )
        )
        self.conditions.append(
            Condition(
                type="ApplyFailed",
                reason="ApplyFailed",
                message=f"{m.kind} {m.name}: {message}",
                file=m.file,
                document=m.document,
            )
        )

    def done(self, m: Manifest, live_id: str | None, diff: list[FieldDiff], created: bool) -> None:
        message = ""
        if not diff:
            action, status = "unchanged", "Synced"
        elif self.automated:
            action, status = ("created" if created else "updated"), "Synced"
            message = "drift corrected" if self.drift else ""
        else:
            action, status = ("would_create" if created else "would_update"), "OutOfSync"
            message = "drift" if self.drift else ""
        self.resources.append(
            ResourceStatus(
                kind=m.kind,
                name=m.name,
                status=status,
                action=action,
                live_id=live_id,
                diff=diff,
                message=message,
            )
        )

    def remember(self, kind: Kind, name: str, live_id: str) -> None:
        with self.db.session() as s, s.begin():
            store.record_inventory(s, app_id=self.app.id, kind=kind, name=name, live_id=live_id)

    # -- per kind ------------------------------------------------------------------------------
    def org(self, m: Manifest) -> None:
        with self.db.session() as s:
            known = own_org_id(self.app, m.name) or store.inventory_id(
                s, app_id=self.app.id, kind="Org", name=m.name
            )
        desired = {"name": m.name, "owner": m.spec.owner}
        try:
            if known is not None and self.live.org_exists(known):
                self.org_ids[m.name] = known
                self.done(m, known, [], created=False)
                return
            diff = diff_fields(None, desired)
            if not self.automated:
                self.done(m, None, diff, created=True)
                return
            org_id = self.live.create_org(m.name, owner_email=m.spec.owner)
        except (APIConnectionError, APIStatusError) as exc:
            self.fail(m, _failure(exc), diff_fields(None, desired))
            return
        self.remember("Org", m.name, org_id)
        self.org_ids[m.name] = org_id
        self.done(m, org_id, diff, created=True)

    def _org_of(self, m: Manifest) -> str | None:
        org_id = self.org_ids.get(m.spec.org)
        if org_id is None:
            if self.automated:
                self.fail(m, f"org {m.spec.org!r} was not applied")
            else:
                self.resources.append(
                    ResourceStatus(
                        kind=m.kind,
                        name=m.name,
                        status="OutOfSync",
                        action="would_create",
                        message=f"waits for org {m.spec.org!r}",
                    )
                )
        return org_id

    def budget(self, m: Manifest) -> None:
        org_id = self._org_of(m)
        if org_id is None:
            return
        desired = {"limit_micro_usd": m.spec.limit_micro_usd, "period": m.spec.period}
        try:
            live = self.live.get_budget(org_id)
            diff = diff_fields(live, desired)
            if diff and self.automated:
                self.live.set_budget(org_id, **desired)
        except (APIConnectionError, APIStatusError) as exc:
            self.fail(m, _failure(exc))
            return
        if diff and self.automated and live is None:
            self.remember("Budget", m.name, org_id)
        self.done(m, org_id, diff, created=live is None)

    def route(self, m: Manifest) -> None:
        org_id = self._org_of(m)
        if org_id is None:
            return
        alias = m.spec.alias or m.name
        desired = route_fields(
            [b.model_dump() for b in m.spec.backends],
            m.spec.input_micro_usd_per_mtok,
            m.spec.output_micro_usd_per_mtok,
        )
        try:
            live = self.live.get_route(org_id, alias)
            diff = diff_fields(live, desired)
            if diff and self.automated:
                self.live.put_route(org_id, alias, route=desired)
        except (APIConnectionError, APIStatusError) as exc:
            self.fail(m, _failure(exc))
            return
        live_id = f"{org_id}/{alias}"
        if diff and self.automated and live is None:
            self.remember("Route", m.name, live_id)
        self.done(m, live_id, diff, created=live is None)

    def apply(self, manifests: ManifestSet) -> None:
        for m in manifests.orgs:
            self.org(m)
        for m in manifests.budgets:
            self.budget(m)
        for m in manifests.routes:
            self.route(m)


def reconcile(
    app: Application,
    *,
    db: Database,
    repos: RepoCache,
    live: LiveFactory,
    trigger: str,
    refresh_token: str | None,
    clock: Callable[[], datetime],
) -> ApplicationStatus:
    """Reconcile `app` once and return its new status (the caller saves it)."""
    request_id = new_reconcile_id()
    started = clock()
    before = app.status
    status = ApplicationStatus(
        revision=before.revision,
        last_applied_revision=before.last_applied_revision,
        last_applied_source=before.last_applied_source,
        last_attempted_revision=before.last_attempted_revision,
        last_handled_refresh=refresh_token or before.last_handled_refresh,
    )
    message = ""
    try:
        snapshot = repos.snapshot(app.repo_url, app.branch, app.path)
    except GitError as exc:
        status.sync, status.health = "Unknown", "Degraded"
        status.conditions = [Condition(type="FetchFailed", reason=exc.reason, message=exc.message)]
        message = exc.message
    else:
        status.revision = status.last_attempted_revision = snapshot.revision
        manifests, problems = within(app, *parse(snapshot.files))
        if manifests is None:
            status.sync, status.health = "Unknown", "Degraded"
            status.conditions = [
                Condition(
                    type="InvalidManifest",
                    reason="InvalidManifest",
                    message=p.reason,
                    file=p.file,
                    document=p.document,
                    field=p.field,
                )
                for p in problems[:MAX_CONDITIONS]
            ]
            message = f"{len(problems)} problem(s) in the manifests; nothing was applied"
        else:
            source = f"{app.repo_url}#{app.branch}:{app.path}@{snapshot.revision}"
            applied_before = before.last_applied_source == source
            policy = app.sync_policy
            may_apply = policy.automated and (policy.self_heal or not applied_before)
            with live(request_id) as state:
                run = _Run(app, state, db, automated=may_apply, drift=applied_before)
                run.apply(manifests)
            status.resources = run.resources
            status.conditions = run.conditions[:MAX_CONDITIONS]
            in_sync = all(r.status == "Synced" for r in run.resources)
            status.sync = "Synced" if in_sync else "OutOfSync"
            status.health = "Degraded" if run.conditions else "Healthy"
            if in_sync:
                status.last_applied_revision = snapshot.revision
                status.last_applied_source = source
            elif applied_before:
                status.last_applied_source = source  # still applied; what differs is drift
            changed = sum(r.action in ("created", "updated") for r in run.resources)
            message = f"{len(run.resources)} resource(s), {changed} changed"
            if run.conditions:
                message += f", {len(run.conditions)} failed"
    finished = clock()
    status.reconciled_at = finished
    operation = Operation(
        id=f"op_{secrets.token_hex(8)}",
        trigger=trigger,
        reconcile_request_id=request_id,
        revision=status.revision,
        phase="Failed" if status.health == "Degraded" else "Succeeded",
        message=mask_url(message),
        started_at=started,
        finished_at=finished,
    )
    status.operations = [operation, *before.operations][:RECENT_OPERATIONS]
    log.info(
        "reconciled %s: %s/%s at %s (%s)",
        app.name,
        status.sync,
        status.health,
        (status.revision or "-")[:12],
        operation.message,
        extra={"application": app.name, "reconcile_request_id": request_id},
    )
    return status


def reconcile_by_name(
    name: str,
    *,
    db: Database,
    repos: RepoCache,
    live: LiveFactory,
    trigger: str,
    clock: Callable[[], datetime],
) -> bool:
    """Load, reconcile and save `name`; False when it does not exist (deleted meanwhile)."""
    with db.session() as s:
        try:
            app = store.get_application(s, name=name)
        except ServiceError:  # deleted between the trigger and now (404)
            return False
        token = store.requested_refresh(s, name=name)
    try:
        status = reconcile(
            app, db=db, repos=repos, live=live, trigger=trigger, refresh_token=token, clock=clock
        )
    except Exception as exc:
        # A bug, not a verdict on Git: say so on the status (the refresh is answered, so no
        # caller waits out a timeout), keep the trace in the log.
        log.exception("reconcile of %s failed unexpectedly", name)
        status = app.status.model_copy(deep=True)
        status.health = "Degraded"
        status.last_handled_refresh = token or status.last_handled_refresh
        status.reconciled_at = clock()
        status.conditions = [
            Condition(
                type="ReconcileError",
                reason="ReconcileError",
                message=f"The reconcile failed unexpectedly ({type(exc).__name__}); see the log.",
            )
        ]
    with db.session() as s, s.begin():
        return store.save_status(s, app_id=app.id, status=status)
