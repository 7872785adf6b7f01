"""One reconcile of one Application: fetch → parse + validate → read live → diff → apply → prune
→ status → audit.

`reconcile(...)` is synchronous (GitPython and the sync clients); the scheduler runs it in a
worker thread, never two at once for one Application. Every outbound call of one reconcile
carries one request ID (`gitops-<hex>`), recorded on its operation, and so do its log lines
and audit events.

Order and outcomes:

1. Fetch the branch head (`RepoCache.snapshot`). A failure: sync Unknown, health Degraded, the
   condition names the reason (`FetchFailed`, `PathNotFound`, ...); nothing is applied.
2. Parse and validate the whole set (`manifests.parse`). Any problem: nothing is applied; sync
   Unknown, health Degraded, one `InvalidManifest` condition per problem (file, document,
   field, reason).
3. Orgs, then memberships, then budgets, then routes (dependency order). gitops's own rows
   (inventory, claims, sent invitations) are read once, and the live reads are fetched ahead
   concurrently (`prefetch`: the orgs' first, an org with memberships read with its members,
   then every membership's, budget's and route's at
   once); the applies themselves stay sequential, in this order. For each: claim it
   (`store.claim`: of two Applications declaring one resource the first keeps it, the second
   reports a `Conflict` and never applies it), read live, compute the field diff against the
   manifest, and apply when it differs and the policy is `automated`. An org's live ID comes
   from the inventory; an org created here is recorded in the inventory at once, in its own
   transaction, so a later failure never leads to a second org on the next try. Every resource
   the Application manages is recorded in the inventory (written only when it changes). A
   resource whose org could not be applied fails with that reason. A failed call fails only
   its resource (`ApplyFailed` condition, health Degraded).
4. Memberships: a member with that email has their role compared and changed (never the last
   owner's: `LastOwner`, the org always keeps one). Anyone else is invited once: the invitation
   is remembered (`store.sent_invitation`), the resource is Progressing until it is accepted
   (then Synced) and invited again only once it expired. A waiting membership blocks nothing:
   the Application is Synced with health Progressing while only memberships wait.
5. Prune: inventory entries whose manifest left Git are deleted with `sync_policy.prune`
   (Route → Budget → Membership → Org) and dropped from the inventory; without it they are
   reported `requires_pruning` (OutOfSync) and nothing is deleted. Nothing outside the
   inventory is ever touched.
6. Status: Synced + Healthy when everything matches (then `last_applied_revision` = revision);
   OutOfSync when something differs, failed, conflicts or waits for pruning.
   `last_attempted_revision` is the revision of every reconcile that got as far as reading one.
   The operation lists what was created, updated and pruned, and `writes`: the state-changing
   calls made (`live.WRITES`); a reconcile that finds nothing to do makes none.
7. Audit (gitops's outbox, actor `service` / `gitops`, target the Application, details with
   the application, the revision and the reconcile's request ID): `gitops.sync` per org a
   reconcile changed (the resources changed), `gitops.drift_corrected` per corrected resource
   (its diff), `gitops.prune` per pruned resource, `gitops.sync_failed` when invalid manifests,
   a fetch or an apply failed (once per failure: the same failure at the same revision again is
   not re-audited). Events about an org go to its chain, the rest to the platform chain.

Drift. `automated` applies what Git changed: a source (repo, branch, path, revision) not yet
applied. Once a source is applied, a live change made outside Git is drift: it is reported
(OutOfSync, Healthy, the resource's diff, message `drift`) and reverted only when `self_heal`
is on (message `drift corrected`). Every reconcile (poll, refresh, drift check) compares, so
drift shows within one poll interval, or one `drift_check_interval_seconds` when that is set.
Inviting again after an invitation expired and pruning what left Git are not drift: they follow
`automated` (and `prune`) alone.

Triggers (decision 14, `reconcile_by_name`): a `drift-check` reads the last fetched revision
from the cache (`AtRevision`, no git traffic); everything else fetches the branch head. A fetch
that fails (`FetchFailed`: git unreachable) records `status.fetch_failure` (attempts, next retry
at `backoff_seconds`) and tells the scheduler when to retry; the first fetch that succeeds
clears it.

The diff preview (`service.preview`) runs `reconcile` report-only against any revision.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gatewright.audit import Outcome as AuditOutcome
from gatewright.core import APIConnectionError, APIStatusError, NotFound
from gatewright.gitops.models import (
    KINDS,
    RECENT_OPERATIONS,
    Application,
    ApplicationStatus,
    Condition,
    FetchFailure,
    FieldDiff,
    InventoryEntry,
    Kind,
    Operation,
    ResourceAction,
    ResourceStatus,
)
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import AtRevision, GitError, RepoCache, Snapshots, mask_url
from gatewright.gitops.service.live import LiveFactory, route_fields
from gatewright.gitops.service.manifests import Manifest, ManifestSet, ParseCache
from gatewright.gitops.service.prefetch import Prefetched, Read
from gatewright.gitops.service.scheduler import DRIFT_CHECK, Outcome, backoff_seconds
from gatewright.gitops.service.scope import own_org_id, within
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.correlation import request_id_scope

log = logging.getLogger("gatewright.gitops.reconcile")
MAX_CONDITIONS = 50
PRUNE_ORDER: tuple[Kind, ...] = tuple(reversed(KINDS))
_CHANGED = {"created": "created", "invited": "created", "updated": "updated", "pruned": "pruned"}
_LiveErrors = (APIConnectionError, APIStatusError)
PARSED = ParseCache()  # an unchanged revision is parsed once, whichever Application reads it


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


class _Refused(Exception):
    """A change gitops will not make (the org's last owner), with the reason to report."""


def _org_id(resource: ResourceStatus) -> str | None:
    """The org a resource belongs to, from its live ID (`org_…` or `org_…/<alias or email>`)."""
    return None if resource.live_id is None else resource.live_id.split("/", 1)[0]


@dataclass
class _Run:
    app: Application
    live: Prefetched
    db: Database
    now: datetime
    automated: bool  # may apply (the policy allows it for this source)
    invite: bool  # may invite (again): `automated`, whatever the source
    prune: bool  # may delete what left Git: `automated` and `prune`
    drift: bool = False  # the source was applied before: a difference now is drift
    # False for a preview: gitops's own tables (inventory, claims, invitations) stay as they are.
    record: bool = True
    resources: list[ResourceStatus] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    org_ids: dict[str, str] = field(default_factory=dict)  # Org manifest name -> live org ID
    managed: set[tuple[Kind, str]] = field(default_factory=set)  # (kind, live ID) declared
    writes: int = 0
    # gitops's own rows for this Application, read once per reconcile (`load`) and kept in step
    # with every write below, so an unchanged resource costs no database round trip.
    inventory: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> live ID
    claims: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, key) -> name
    invitations: dict[tuple[str, str], store.SentInvitation] = field(default_factory=dict)

    def load(self) -> None:
        """Read the Application's inventory, claims and sent invitations (one session)."""
        with self.db.session() as s:
            entries = store.list_inventory(s, app_id=self.app.id)
            self.claims = store.claims_of(s, app_id=self.app.id)
            self.invitations = store.sent_invitations(s, app_id=self.app.id)
        self.inventory = {(e.kind, e.name): e.live_id for e in entries}

    def write(self) -> Prefetched:
        """The live state, for one state-changing call (counted, failed or not)."""
        self.writes += 1
        return self.live

    def fail(
        self,
        m: Manifest,
        message: str,
        diff: list[FieldDiff] | None = None,
        *,
        live_id: str | None = None,
        reason: str = "ApplyFailed",
    ) -> None:
        self.resources.append(
            ResourceStatus(
                kind=m.kind,
                name=m.name,
                status="OutOfSync",
                action="failed",
                live_id=live_id,
                diff=diff or [],
                message=message,
            )
        )
        self.conditions.append(
            Condition(
                type=reason,
                reason=reason,
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
        """Record a managed resource in the inventory (read first: no write when it is known)."""
        self.managed.add((kind, live_id))
        if not self.record or self.inventory.get((kind, name)) == live_id:
            return
        with self.db.session() as s, s.begin():
            store.record_inventory(s, app_id=self.app.id, kind=kind, name=name, live_id=live_id)
        self.inventory[(kind, name)] = live_id

    def claimed(self, m: Manifest, key: str, what: str) -> bool:
        """Claim the resource for this Application; False (a reported conflict) when another
        Application holds it."""
        held = self.claims.get((m.kind, key))
        if held == m.name or (held is not None and not self.record):
            return True  # held already (a preview needs no rename of the claim)
        with self.db.session() as s, s.begin():
            if self.record:
                other = store.claim(
                    s, app_id=self.app.id, app_name=self.app.name, kind=m.kind, key=key, name=m.name
                )
            else:
                other = store.claim_holder(s, app_id=self.app.id, kind=m.kind, key=key)
        if other is None:
            if self.record:
                self.claims[(m.kind, key)] = m.name
            return True
        message = f"{what} is managed by Application {other!r}; this one does not apply it"
        self.resources.append(
            ResourceStatus(
                kind=m.kind, name=m.name, status="OutOfSync", action="conflict", message=message
            )
        )
        self.conditions.append(
            Condition(
                type="Conflict",
                reason="Conflict",
                message=f"{m.kind} {m.name}: {message}",
                file=m.file,
                document=m.document,
            )
        )
        return False

    # -- per kind ------------------------------------------------------------------------------
    def org(self, m: Manifest) -> None:
        if not self.claimed(m, m.name, f"org {m.name!r}"):
            return
        known = own_org_id(self.app, m.name) or self.inventory.get(("Org", m.name))
        desired = {"name": m.name, "owner": m.spec.owner}
        try:
            if known is not None and self.live.org_exists(known):
                self.org_ids[m.name] = known
                self.managed.add(("Org", known))
                self.done(m, known, [], created=False)
                return
            diff = diff_fields(None, desired)
            if not self.automated:
                self.done(m, None, diff, created=True)
                return
            org_id = self.write().create_org(m.name, owner_email=m.spec.owner)
        except _LiveErrors as exc:
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

    def membership(self, m: Manifest) -> None:
        org_id = self._org_of(m)
        email, role = m.spec.email, m.spec.role
        if org_id is None or not self.claimed(
            m, f"{m.spec.org}/{email}", f"the membership of {email} in org {m.spec.org!r}"
        ):
            return
        live_id = f"{org_id}/{email}"
        desired = {"email": email, "role": role}
        try:
            members = self.live.list_members(org_id)
            member = next((x for x in members if x.email == email), None)
            if member is not None:
                self._forget_invitation(org_id, email)
                diff = diff_fields({"email": member.email, "role": member.role}, desired)
                owners = sum(x.role == "owner" for x in members)
                if diff and member.role == "owner" and owners <= 1:
                    raise _Refused(
                        f"{email} is the last owner of org {m.spec.org!r}; the org always keeps "
                        f"an owner, so the role stays 'owner' (make another member owner first)"
                    )
                if diff and self.automated:
                    self.write().set_role(org_id, member.user_id, role)
                self.remember("Membership", m.name, live_id)
                self.done(m, live_id, diff, created=False)
                return
            diff = diff_fields(None, desired)
            sent = self.invitations.get((org_id, email))
            if sent is not None and sent.role == role and sent.expires_at > self.now:
                self.managed.add(("Membership", live_id))
                expires = sent.expires_at.isoformat()
                why = f"invitation {sent.invitation_id} not accepted yet (expires {expires})"
                self._progressing(m, live_id, diff, "waiting", why)
                return
            if not self.invite:
                self.done(m, None, diff, created=True)
                return
            new = self.write().invite(org_id, email=email, role=role)
        except _Refused as exc:
            self.fail(m, str(exc), diff, live_id=live_id, reason="LastOwner")
            return
        except _LiveErrors as exc:
            self.fail(m, _failure(exc), live_id=live_id)
            return
        with self.db.session() as s, s.begin():
            remembered = store.SentInvitation(new.id, role, new.expires_at)
            store.remember_invitation(
                s, app_id=self.app.id, org_id=org_id, email=email, sent=remembered
            )
        self.invitations[(org_id, email)] = remembered
        self.remember("Membership", m.name, live_id)
        if sent is None:
            why = "invited"
        elif sent.role != role:
            why = f"invited again with role {role!r}"
        else:
            why = f"invitation {sent.invitation_id} expired; invited again"
        self._progressing(m, live_id, diff, "invited", f"{why} ({new.id}); waits for acceptance")

    def _progressing(
        self, m: Manifest, live_id: str, diff: list[FieldDiff], action: ResourceAction, why: str
    ) -> None:
        """A membership applied as far as gitops can: its invitation waits for the invitee."""
        self.resources.append(
            ResourceStatus(
                kind=m.kind,
                name=m.name,
                status="Progressing",
                action=action,
                live_id=live_id,
                diff=diff,
                message=why,
            )
        )

    def _forget_invitation(self, org_id: str, email: str) -> None:
        if not self.record or self.invitations.pop((org_id, email), None) is None:
            return
        with self.db.session() as s, s.begin():
            store.remember_invitation(s, app_id=self.app.id, org_id=org_id, email=email, sent=None)

    def budget(self, m: Manifest) -> None:
        org_id = self._org_of(m)
        if org_id is None or not self.claimed(m, m.spec.org, f"the budget of org {m.spec.org!r}"):
            return
        desired = {"limit_micro_usd": m.spec.limit_micro_usd, "period": m.spec.period}
        try:
            live = self.live.get_budget(org_id)
            diff = diff_fields(live, desired)
            if diff and self.automated:
                self.write().set_budget(org_id, **desired)
        except _LiveErrors as exc:
            self.fail(m, _failure(exc), live_id=org_id)
            return
        if live is not None or self.automated:
            self.remember("Budget", m.name, org_id)
        self.done(m, org_id, diff, created=live is None)

    def route(self, m: Manifest) -> None:
        org_id = self._org_of(m)
        alias = m.spec.alias or m.name
        if org_id is None or not self.claimed(
            m, f"{m.spec.org}/{alias}", f"route {alias!r} of org {m.spec.org!r}"
        ):
            return
        desired = route_fields(
            [b.model_dump() for b in m.spec.backends],
            m.spec.input_micro_usd_per_mtok,
            m.spec.output_micro_usd_per_mtok,
        )
        live_id = f"{org_id}/{alias}"
        try:
            live = self.live.get_route(org_id, alias)
            diff = diff_fields(live, desired)
            if diff and self.automated:
                self.write().put_route(org_id, alias, route=desired)
        except _LiveErrors as exc:
            self.fail(m, _failure(exc), live_id=live_id)
            return
        if live is not None or self.automated:
            self.remember("Route", m.name, live_id)
        self.done(m, live_id, diff, created=live is None)

    def apply(self, manifests: ManifestSet) -> None:
        self.load()
        with_members = {m.spec.org for m in manifests.memberships}
        self.live.fetch(
            ("list_members" if m.name in with_members else "org_exists", (org_id,))
            for m in manifests.orgs
            if (org_id := self.inventory.get(("Org", m.name))) is not None
        )
        for m in manifests.orgs:
            self.org(m)
        self.live.fetch(self._reads_after_orgs(manifests))
        # Promotions to owner first, so a later demotion never finds the org without one.
        for m in sorted(manifests.memberships, key=lambda m: m.spec.role != "owner"):
            self.membership(m)
        for m in manifests.budgets:
            self.budget(m)
        for m in manifests.routes:
            self.route(m)
        self.prune_gone(manifests.declared())

    def _reads_after_orgs(self, manifests: ManifestSet) -> list[Read]:
        """What the memberships, budgets and routes will read, once their orgs are known:
        fetched together, concurrently (`prefetch`), before any of them is applied."""
        reads: list[Read] = []
        for m in manifests.memberships:
            if m.spec.org in self.org_ids:
                reads.append(("list_members", (self.org_ids[m.spec.org],)))
        for m in manifests.budgets:
            if m.spec.org in self.org_ids:
                reads.append(("get_budget", (self.org_ids[m.spec.org],)))
        for m in manifests.routes:
            if m.spec.org in self.org_ids:
                reads.append(("get_route", (self.org_ids[m.spec.org], m.spec.alias or m.name)))
        return reads

    # -- prune -----------------------------------------------------------------------------
    def prune_gone(self, declared: set[tuple[Kind, str]]) -> None:
        """Inventory entries whose manifest left Git, in reverse dependency order."""
        with self.db.session() as s:
            entries = store.list_inventory(s, app_id=self.app.id)
        gone = [e for e in entries if (e.kind, e.name) not in declared]
        for e in sorted(gone, key=lambda e: PRUNE_ORDER.index(e.kind)):
            if (e.kind, e.live_id) in self.managed:
                # A renamed manifest manages the same resource now: forget the old name only.
                if not self.record:
                    continue
                with self.db.session() as s, s.begin():
                    store.drop_inventory(s, app_id=self.app.id, kind=e.kind, name=e.name)
                continue
            if not self.prune:
                action = "would_prune" if self.app.sync_policy.prune else "requires_pruning"
                why = "automated sync is off" if self.app.sync_policy.prune else "prune is off"
                self.resources.append(
                    ResourceStatus(
                        kind=e.kind,
                        name=e.name,
                        status="OutOfSync",
                        action=action,
                        live_id=e.live_id,
                        message=f"not in Git any more; kept ({why})",
                    )
                )
                continue
            self.prune_one(e)

    def prune_one(self, e: InventoryEntry) -> None:
        try:
            deleted = self._delete(e)
        except (_Refused, *_LiveErrors) as exc:
            message = str(exc) if isinstance(exc, _Refused) else _failure(exc)
            self.resources.append(
                ResourceStatus(
                    kind=e.kind,
                    name=e.name,
                    status="OutOfSync",
                    action="failed",
                    live_id=e.live_id,
                    message=f"prune failed: {message}",
                )
            )
            self.conditions.append(
                Condition(
                    type="PruneFailed",
                    reason="PruneFailed",
                    message=f"{e.kind} {e.name}: {message}",
                )
            )
            return
        with self.db.session() as s, s.begin():
            store.drop_inventory(s, app_id=self.app.id, kind=e.kind, name=e.name)
            if e.kind == "Membership":
                org_id, email = e.live_id.split("/", 1)
                store.remember_invitation(
                    s, app_id=self.app.id, org_id=org_id, email=email, sent=None
                )
        self.resources.append(
            ResourceStatus(
                kind=e.kind,
                name=e.name,
                status="Synced",
                action="pruned",
                live_id=e.live_id,
                message="deleted: not in Git any more" if deleted else "was gone already",
            )
        )

    def _delete(self, e: InventoryEntry) -> bool:
        if e.kind == "Route":
            org_id, alias = e.live_id.split("/", 1)
            return self.write().delete_route(org_id, alias)
        if e.kind == "Budget":
            return self.write().delete_budget(e.live_id)
        if e.kind == "Org":
            return self.write().delete_org(e.live_id)
        org_id, email = e.live_id.split("/", 1)
        try:
            members = self.live.list_members(org_id)
        except NotFound:  # the org is gone, and the membership with it
            return False
        member = next((x for x in members if x.email == email), None)
        if member is None:  # never accepted: identity cannot revoke an invitation yet
            return False
        if member.role == "owner" and sum(x.role == "owner" for x in members) <= 1:
            raise _Refused(f"{email} is the last owner of the org; it keeps an owner")
        return self.write().remove_member(org_id, member.user_id)


# -- audit ---------------------------------------------------------------------------------
def _changes(resources: list[ResourceStatus]) -> dict[str, list[str]]:
    changes: dict[str, list[str]] = {"created": [], "updated": [], "pruned": []}
    for r in resources:
        if r.action in _CHANGED:
            changes[_CHANGED[r.action]].append(f"{r.kind}/{r.name}")
    return changes


def _audit(
    db: Database,
    app: Application,
    status: ApplicationStatus,
    operation: Operation,
    previous: Operation | None,
) -> None:
    """Record the reconcile's own events (see the module docstring), in one transaction."""
    base: dict[str, Any] = {
        "application": app.name,
        "revision": status.revision,
        "request_id": operation.reconcile_request_id,
    }
    # (org ID or None for the platform chain, action, outcome, reason, details)
    events: list[tuple[str | None, str, AuditOutcome, str, dict[str, Any]]] = []
    by_org: dict[str | None, list[ResourceStatus]] = {}
    failed: dict[str | None, list[ResourceStatus]] = {}
    for r in status.resources:
        if r.action in _CHANGED:
            by_org.setdefault(_org_id(r), []).append(r)
        if r.action == "failed":
            failed.setdefault(_org_id(r), []).append(r)
        if r.action == "pruned":
            pruned = {**base, "kind": r.kind, "name": r.name, "live_id": r.live_id}
            events.append((_org_id(r), "gitops.prune", "success", r.message, pruned))
        if r.message == "drift corrected":
            diff = [d.model_dump(mode="json") for d in r.diff]
            corrected = {**base, "kind": r.kind, "name": r.name, "diff": diff}
            events.append((_org_id(r), "gitops.drift_corrected", "success", "drift", corrected))
    for org_id, changed in by_org.items():
        listed = [{"kind": r.kind, "name": r.name, "action": r.action} for r in changed]
        events.append((org_id, "gitops.sync", "success", "", {**base, "changed": listed}))
    repeated = (
        previous is not None
        and previous.phase == "Failed"
        and (previous.revision, previous.message) == (operation.revision, operation.message)
    )
    if operation.phase == "Failed" and not repeated:
        if failed:
            for org_id, resources in failed.items():
                reason = "; ".join(f"{r.kind} {r.name}: {r.message}" for r in resources)
                events.append((org_id, "gitops.sync_failed", "error", reason, dict(base)))
        else:
            reasons = "; ".join(c.message for c in status.conditions[:5]) or operation.message
            events.append((None, "gitops.sync_failed", "error", reasons, dict(base)))
    if not events:
        return
    with db.session() as s, s.begin():
        for org_id, action, outcome, reason, details in events:
            store.outbox.record(
                s,
                org_id=org_id,
                actor_type="service",
                actor_id="gitops",
                action=action,
                outcome=outcome,
                reason=mask_url(reason),
                target_type="application",
                target_id=app.name,
                details=details,
            )


def reconcile(
    app: Application,
    *,
    db: Database,
    repos: Snapshots,
    live: LiveFactory,
    trigger: str,
    refresh_token: str | None,
    clock: Callable[[], datetime],
    record: bool = True,
) -> ApplicationStatus:
    """Reconcile `app` once and return its new status (the caller saves it). `record=False`
    (the diff preview) leaves gitops's own tables and the audit log as they are."""
    request_id = new_reconcile_id()
    with request_id_scope(request_id):
        return _reconcile(
            app,
            request_id=request_id,
            db=db,
            repos=repos,
            live=live,
            trigger=trigger,
            refresh_token=refresh_token,
            clock=clock,
            record=record,
        )


def _reconcile(
    app: Application,
    *,
    request_id: str,
    db: Database,
    repos: Snapshots,
    live: LiveFactory,
    trigger: str,
    refresh_token: str | None,
    clock: Callable[[], datetime],
    record: bool,
) -> ApplicationStatus:
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
    writes = 0
    try:
        snapshot = repos.snapshot(app.repo_url, app.branch, app.path)
    except GitError as exc:
        status.sync, status.health = "Unknown", "Degraded"
        status.conditions = [Condition(type="FetchFailed", reason=exc.reason, message=exc.message)]
        message = exc.message
    else:
        status.revision = status.last_attempted_revision = snapshot.revision
        manifests, problems = within(
            app, *PARSED.parse((app.repo_url, snapshot.revision, app.path), snapshot.files)
        )
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
            with live(request_id) as state:
                run = _Run(
                    app,
                    Prefetched(state),
                    db,
                    now=started,
                    automated=policy.automated and (policy.self_heal or not applied_before),
                    invite=policy.automated,
                    prune=policy.automated and policy.prune,
                    drift=applied_before,
                    record=record,
                )
                try:
                    run.apply(manifests)
                finally:
                    writes = run.writes
            status.resources = run.resources
            status.conditions = run.conditions[:MAX_CONDITIONS]
            seen = {r.status for r in run.resources}
            in_sync = seen <= {"Synced", "Progressing"}
            status.sync = "Synced" if in_sync else "OutOfSync"
            if run.conditions:
                status.health = "Degraded"
            else:
                status.health = "Progressing" if "Progressing" in seen else "Healthy"
            if in_sync:
                status.last_applied_revision = snapshot.revision
                status.last_applied_source = source
            elif applied_before:
                status.last_applied_source = source  # still applied; what differs is drift
            changed = sum(r.action in _CHANGED for r in run.resources)
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
        writes=writes,
        **_changes(status.resources),
    )
    status.operations = [operation, *before.operations][:RECENT_OPERATIONS]
    if record:
        _audit(db, app, status, operation, before.operations[0] if before.operations else None)
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


LEASE_BUSY_RETRY_SECONDS = 1.0
"""How soon a replica asks again for an Application whose lease another replica holds."""


@dataclass(frozen=True)
class Lease:
    """This process's name as a lease holder, and how long a lease it takes
    (`store.acquire_lease`; `GATEWRIGHT_LEASE_SECONDS`)."""

    holder: str
    seconds: float

    @classmethod
    def for_this_process(cls, seconds: float) -> Lease:
        return cls(holder=f"gitops-{secrets.token_hex(6)}", seconds=seconds)


def reconcile_by_name(
    name: str,
    *,
    db: Database,
    repos: RepoCache,
    live: LiveFactory,
    trigger: str,
    clock: Callable[[], datetime],
    lease: Lease | None = None,
) -> Outcome:
    """Load, reconcile and save `name`; `exists` False when it was deleted meanwhile.

    With a `lease`, only while this process holds the Application's lease in the database:
    while another replica holds it, nothing is read or applied and the answer is "again in
    `LEASE_BUSY_RETRY_SECONDS`" (the refresh tokens wait for whichever reconcile runs next)."""
    if lease is None:
        return _reconcile_by_name(name, db=db, repos=repos, live=live, trigger=trigger, clock=clock)
    with db.session() as s, s.begin():
        try:
            app_id = store.get_application(s, name=name).id
        except ServiceError:  # deleted between the trigger and now (404)
            return Outcome(exists=False)
        held = store.acquire_lease(
            s, app_id=app_id, holder=lease.holder, now=clock(), seconds=lease.seconds
        )
    if not held:
        log.info(
            "%s is being reconciled by another replica; asking again in %gs",
            name,
            LEASE_BUSY_RETRY_SECONDS,
            extra={"application": name},
        )
        return Outcome(retry_in=LEASE_BUSY_RETRY_SECONDS)
    try:
        return _reconcile_by_name(name, db=db, repos=repos, live=live, trigger=trigger, clock=clock)
    finally:
        with db.session() as s, s.begin():
            store.release_lease(s, app_id=app_id, holder=lease.holder)


def _reconcile_by_name(
    name: str,
    *,
    db: Database,
    repos: RepoCache,
    live: LiveFactory,
    trigger: str,
    clock: Callable[[], datetime],
) -> Outcome:
    with db.session() as s:
        try:
            app = store.get_application(s, name=name)
        except ServiceError:  # deleted between the trigger and now (404)
            return Outcome(exists=False)
        # A drift check reads no git, so it answers no refresh: whoever asked for one waits for
        # a reconcile that fetched.
        token = None if trigger == DRIFT_CHECK else store.requested_refresh(s, name=name)
    retry_in: float | None = None
    try:
        status = reconcile(
            app,
            db=db,
            repos=_source(app, repos, trigger),
            live=live,
            trigger=trigger,
            refresh_token=token,
            clock=clock,
        )
        retry_in = track_fetch_failure(app, status)
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
        exists = store.save_status(s, app_id=app.id, status=status)
        if not exists:
            # Deleted while it ran: what it claimed meanwhile must not outlive it.
            store.release(s, app_id=app.id)
    return Outcome(exists=exists, retry_in=retry_in if exists else None)


def _source(app: Application, repos: RepoCache, trigger: str) -> Snapshots:
    """Where this reconcile reads Git: a drift check reads the last fetched revision from the
    cache (no git traffic); every other trigger fetches the branch head."""
    status = app.status
    if trigger == DRIFT_CHECK and status.revision and status.fetch_failure is None:
        return AtRevision(repos, status.revision, or_fetch=True)
    return repos


def track_fetch_failure(app: Application, status: ApplicationStatus) -> float | None:
    """Record on `status` whether git could be read; the seconds until the next fetch when it
    could not (exponential backoff over the failures in a row, capped at the poll interval)."""
    failed = next((c for c in status.conditions if c.reason == "FetchFailed"), None)
    if failed is None:
        status.fetch_failure = None
        return None
    before = app.status.fetch_failure
    attempts = (before.attempts if before is not None else 0) + 1
    delay = backoff_seconds(attempts, float(app.poll_interval_seconds))
    at = (status.reconciled_at or datetime.now(UTC)) + timedelta(seconds=delay)
    status.fetch_failure = FetchFailure(
        reason=failed.reason, message=failed.message, attempts=attempts, next_retry_at=at
    )
    failed.message = f"{failed.message} (attempt {attempts}; next retry in {delay:g}s)"
    return delay
