"""GitOps prune and preview: a manifest that leaves Git is deleted live only with prune on (and
only what the Application's inventory names); a branch is previewed without applying anything.

Each flow owns its repository (`config_repo`) and its Applications (`owned_apps.create`, which
cleans up what they applied). The repository declares an org with a budget and a route in one
file, and a second route in another, so one commit can take a single route out of Git.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.audit import Event
from gatewright.core import NotFound
from gatewright.gitops import Application, ApplicationStatus, Operation
from gatewright.gitops import Client as GitopsClient
from gatewright.testkit import Harness, Outcome, consistently, eventually, timeout_scale
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor
from .gitops_fixtures import WAIT_SECONDS, LiveClients, OwnedApps, inventory, route_manifest

pytestmark = pytest.mark.gitops

MAIN, EXTRA = "platform/acme.yaml", "platform/extra.yaml"
PRICES = {"input_micro_usd_per_mtok": 1_000_000, "output_micro_usd_per_mtok": 2_000_000}


class Declared:
    """An org, its budget and two routes (the second in a file of its own), named from the
    test id."""

    def __init__(self, gw: Harness, admin: Actor) -> None:
        self.org, self.owner, self.backend = gw.names.name("org"), admin.email, gw.url("modelsim")
        self.kept, self.dropped = gw.names.name("kept"), gw.names.name("dropped")

    def main(self, limit: int, *extra_routes: str) -> str:
        head = f"""kind: Org
metadata: {{name: {self.org}}}
spec: {{owner: {self.owner}}}
---
kind: Budget
metadata: {{name: {self.org}}}
spec: {{org: {self.org}, limit_micro_usd: {limit}, period: monthly}}
---
"""
        routes = (self.kept, *extra_routes)
        return head + "---\n".join(route_manifest(a, self.org, self.backend) for a in routes)

    def files(self, limit: int) -> dict[str, str]:
        return {MAIN: self.main(limit), EXTRA: route_manifest(self.dropped, self.org, self.backend)}


def synced_with_two_routes(
    gw: Harness,
    gitops: GitopsClient,
    repo: GitRepo,
    owned_apps: OwnedApps,
    declared: Declared,
    **options: object,
) -> tuple[str, str]:
    """Given: the repository declares `declared` and its Application is Synced at that commit.
    `(app name, org ID)`."""
    with gw.given("an Application Synced at a commit declaring an org, a budget and two routes"):
        sha = repo.commit(declared.files(5_000_000), "declare acme")
        name = owned_apps.create(repo, path="platform", **options)
        app = gitops.applications.wait_for(name, revision=sha, timeout=WAIT_SECONDS)
        found = inventory(app)
        assert {("Route", declared.kept), ("Route", declared.dropped)} <= set(found)
    return name, found[("Org", declared.org)]


def hand_made_route(gw: Harness, live: LiveClients, org_id: str) -> str:
    """Given: a route put in the org through the gateway's routes API, outside Git."""
    alias = gw.names.name("by-hand")
    with gw.given(f"a route {alias} made by hand in the same org, outside Git"):
        backends = [{"url": gw.url("modelsim"), "model": "sim-echo"}]
        live.gateway.routes.put(alias, org_id=org_id, backends=backends, **PRICES)

        def remove() -> None:
            with contextlib.suppress(NotFound):  # the org's deletion may have taken it
                live.gateway.routes.delete(alias, org_id=org_id)

        gw.cleanup.add(f"delete route {alias}", remove)
    return alias


@dataclass
class RouteLeftGit:
    """What a prune flow set up, and the commit that took route `declared.dropped` out."""

    declared: Declared
    application: str
    org_id: str
    by_hand: str
    sha: str


def a_route_leaves_git(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    repo: GitRepo,
    owned_apps: OwnedApps,
    live: LiveClients,
    *,
    prune: bool,
) -> RouteLeftGit:
    """Given an Application (prune on or off) Synced at two routes, and a route made by hand
    beside them; when a commit deletes one route's manifest."""
    declared = Declared(gw, admin)
    policy = {"automated": True, "prune": prune}
    name, org_id = synced_with_two_routes(
        gw, gitops, repo, owned_apps, declared, sync_policy=policy
    )
    by_hand = hand_made_route(gw, live, org_id)
    with gw.when(f"a commit deletes the manifest of route {declared.dropped}"):
        sha = repo.delete([EXTRA], f"drop route {declared.dropped}")
    return RouteLeftGit(declared, name, org_id, by_hand, sha)


def seen_of(status: ApplicationStatus) -> tuple[object, ...]:
    """What a preview must leave as it was: sync, health, the revisions, each resource's sync
    status (not its action: a later no-change reconcile says `unchanged` where the first said
    `created`), the inventory."""
    resources = sorted((r.kind, r.name, r.status) for r in status.resources)
    entries = sorted((e.kind, e.name, e.live_id) for e in status.inventory)
    revisions = (status.revision, status.last_applied_revision)
    return (status.sync, status.health, revisions, resources, entries)


def resources_of(app: Application, kind: str) -> dict[str, tuple[str, str]]:
    """`{name: (status, action)}` of the app's resources of one kind."""
    return {r.name: (r.status, r.action) for r in app.status.resources if r.kind == kind}


def test_with_prune_on_a_route_deleted_from_git_is_deleted_live_and_audited(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
    service_audit: AuditClient,
) -> None:
    routes = live_clients.gateway.routes
    scene = a_route_leaves_git(gw, admin, gitops, config_repo, owned_apps, live_clients, prune=True)
    declared, name, org_id, by_hand, sha = (
        scene.declared,
        scene.application,
        scene.org_id,
        scene.by_hand,
        scene.sha,
    )

    with gw.then(f"a refresh converges on {sha[:12]}, reporting the route pruned"):
        app = gitops.applications.wait_for(name, revision=sha, timeout=WAIT_SECONDS)
        assert resources_of(app, "Route") == {
            declared.kept: ("Synced", "unchanged"),
            declared.dropped: ("Synced", "pruned"),
        }
        assert ("Route", declared.dropped) not in inventory(app)
        assert inventory(app)[("Route", declared.kept)] == f"{org_id}/{declared.kept}"
        [operation] = [op for op in app.status.operations if op.pruned]
        assert (operation.revision, operation.pruned) == (sha, [f"Route/{declared.dropped}"])

    with gw.then("the route is gone live (404); the other route and the hand-made one stay"):
        with pytest.raises(NotFound):
            routes.get(declared.dropped, org_id=org_id)
        assert routes.get(declared.kept, org_id=org_id).alias == declared.kept
        assert routes.get(by_hand, org_id=org_id).alias == by_hand

    def prune_events() -> Outcome[list[Event]]:
        events = list(service_audit.events.iterate(org_id, action="gitops.prune"))
        return Outcome.done(events) if events else Outcome.pending("no gitops.prune event yet")

    with gw.then("one gitops.prune event in the org's chain names the route and the commit"):
        events = eventually(prune_events, description="the prune's audit event", profile="settle")
        [event] = events
        assert (event.service, event.outcome, event.org_id) == ("gitops", "success", org_id)
        assert (event.actor.type, event.actor.id) == ("service", "gitops")
        assert {k: event.details[k] for k in ("application", "kind", "name", "live_id")} == {
            "application": name,
            "kind": "Route",
            "name": declared.dropped,
            "live_id": f"{org_id}/{declared.dropped}",
        }
        assert event.details["revision"] == sha
        assert event.request_id == operation.reconcile_request_id


def test_with_prune_off_a_route_deleted_from_git_stays_and_requires_pruning(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
) -> None:
    routes = live_clients.gateway.routes
    scene = a_route_leaves_git(
        gw, admin, gitops, config_repo, owned_apps, live_clients, prune=False
    )
    declared, name, org_id, by_hand, sha = (
        scene.declared,
        scene.application,
        scene.org_id,
        scene.by_hand,
        scene.sha,
    )

    with gw.then(f"a refresh reports OutOfSync at {sha[:12]}: the route requires pruning"):
        app = gitops.applications.wait_for(
            name, revision=sha, sync="OutOfSync", health=None, timeout=WAIT_SECONDS
        )
        assert resources_of(app, "Route") == {
            declared.kept: ("Synced", "unchanged"),
            declared.dropped: ("OutOfSync", "requires_pruning"),
        }
        at_sha = [op for op in app.status.operations if op.revision == sha]
        assert at_sha, f"no operation at {sha[:12]}"
        assert {(tuple(op.pruned), op.writes) for op in at_sha} == {((), 0)}

    with gw.then("nothing was deleted: both routes and the hand-made one are live"):
        for alias in (declared.kept, declared.dropped, by_hand):
            assert routes.get(alias, org_id=org_id).alias == alias
        # Still in the inventory: turning prune on later can delete it.
        assert inventory(app)[("Route", declared.dropped)] == f"{org_id}/{declared.dropped}"


def test_a_preview_of_an_unmerged_branch_shows_its_diff_and_changes_nothing(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
    service_audit: AuditClient,
) -> None:
    budgets, routes = live_clients.budgets.budgets, live_clients.gateway.routes
    declared = Declared(gw, admin)
    name, org_id = synced_with_two_routes(gw, gitops, config_repo, owned_apps, declared)
    before = gitops.applications.get(name).status
    added, branch = gw.names.name("added"), gw.names.name("pr")

    with gw.given(f"a branch {branch}, not merged, that raises the budget and adds a route"):
        config_repo.branch(branch)
        files = {MAIN: declared.main(7_000_000, added)}
        proposed = config_repo.commit(files, "raise the budget, add a route")
        config_repo.checkout("main")

    with gw.when(f"an operator previews {branch}"):
        preview = gitops.applications.diff(name, branch)

    with gw.then("it diffs the branch's commit: the budget would update, the route be created"):
        assert (preview.requested, preview.revision, preview.sync) == (
            branch,
            proposed,
            "OutOfSync",
        )
        assert preview.problems == []
        seen = {(r.kind, r.name): r for r in preview.resources}
        budget = seen[("Budget", declared.org)]
        assert (budget.status, budget.action) == ("OutOfSync", "would_update")
        assert [(d.field, d.live, d.desired) for d in budget.diff] == [
            ("spec.limit_micro_usd", 5_000_000, 7_000_000)
        ]
        assert (seen[("Route", added)].status, seen[("Route", added)].action) == (
            "OutOfSync",
            "would_create",
        )
        assert seen[("Route", declared.kept)].action == "unchanged"

    def op_of_preview(op: Operation) -> bool:
        return op.revision == proposed or op.reconcile_request_id == preview.request_id

    def event_of_preview(e: Event) -> bool:
        return e.details.get("revision") == proposed or e.request_id == preview.request_id

    def nothing_changed() -> Outcome[None]:
        limit = budgets.get_org(org_id).limit_micro_usd
        if limit != 5_000_000:
            return Outcome.failed(f"live budget limit is {limit}")
        with contextlib.suppress(NotFound):
            routes.get(added, org_id=org_id)
            return Outcome.failed(f"route {added} exists live")
        now = gitops.applications.get(name).status
        if seen_of(now) != seen_of(before):
            return Outcome.failed(f"the Application's status moved: {seen_of(now)}")
        # A no-change reconcile may still follow the Given's (a refresh during a reconcile runs
        # one more): what matters is that none is the preview's or at the branch's commit.
        if ops := [op.id for op in now.operations if op_of_preview(op)]:
            return Outcome.failed(f"operations of the preview: {ops}")
        if found := service_audit.events.by_request_id(preview.request_id).data:
            return Outcome.failed(f"the preview was audited: {[e.action for e in found]}")
        if found := [e for e in service_audit.events.iterate(org_id) if event_of_preview(e)]:
            return Outcome.failed(f"the org's chain has {[e.action for e in found]} of it")
        return Outcome.done()

    with gw.then("live state, the Application's status and the audit log stay as they were"):
        # A window, not one look: audit delivery is asynchronous.
        consistently(nothing_changed, for_=1.0 * timeout_scale(), description="nothing to change")
