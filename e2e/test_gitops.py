"""GitOps: a commit in a config repository becomes the live org, budget and route, and stays so.

Each flow owns its repository (`config_repo`, a `GitRepo`) and its Applications
(`owned_apps.create`, which cleans up what they applied). A `then` step that starts right after
a commit and ends when the Application is Synced at it is named "... (commit-to-Synced)": its
duration in `steps.json` and the report is that flow's convergence time.
"""

from __future__ import annotations

import itertools

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.gitops import Application, Operation, SyncFailed
from gatewright.gitops import Client as GitopsClient
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Harness, Outcome, consistently, eventually, timeout_scale
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor
from .audit_fixtures import events_of
from .gitops_fixtures import (
    WAIT_SECONDS,
    LiveClients,
    OwnedApps,
    budget_manifest,
    inventory,
    org_manifest,
    route_manifest,
)

pytestmark = pytest.mark.gitops

FILE = "platform/acme.yaml"


def manifests(org: str, owner: str, alias: str, backend_url: str, limit: int) -> str:
    parts = (
        org_manifest(org, owner),
        budget_manifest(org, limit),
        route_manifest(alias, org, backend_url),
    )
    return "---\n".join(parts)


class Declared:
    """One org, its budget and a route, as this test's repository declares them."""

    def __init__(self, gw: Harness, admin: Actor) -> None:
        self.org, self.alias = gw.names.name("org"), gw.names.name("route")
        self.owner, self.backend = admin.email, gw.url("modelsim")

    def files(self, limit: int) -> dict[str, str]:
        return {FILE: manifests(self.org, self.owner, self.alias, self.backend, limit)}


Seen = tuple[str, str, str, list[tuple[str, object, object]]]


def resource(app: Application, kind: str) -> Seen:
    """`(status, action, message, [(field, live, desired)])` of the app's one `kind` resource."""
    [r] = [r for r in app.status.resources if r.kind == kind]
    return r.status, r.action, r.message, [(d.field, d.live, d.desired) for d in r.diff]


def test_a_commit_converges_to_live_org_budget_and_route(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
    service_identity: IdentityClient,
) -> None:
    budgets, gateway = live_clients.budgets, live_clients.gateway
    declared = Declared(gw, admin)

    with gw.given("a config repository declaring an org, its budget and a route"):
        sha = config_repo.commit(declared.files(5_000_000), "declare acme")

    with gw.when("an operator creates the Application for it"):
        app_name = owned_apps.create(config_repo, path="platform")

    with gw.then(f"it is Synced and Healthy at {sha[:12]} (commit-to-Synced)"):
        app = gitops.applications.wait_for(app_name, revision=sha, timeout=WAIT_SECONDS)
        org_id = inventory(app)[("Org", declared.org)]
        assert {r.status for r in app.status.resources} == {"Synced"}

    with gw.then("the live org, budget and route are what Git declares"):
        org = service_identity.orgs.get(org_id)
        assert org.name == declared.org
        assert [(m.email, m.role) for m in org.members] == [(admin.email, "owner")]
        budget = budgets.budgets.get_org(org_id)
        assert (budget.limit_micro_usd, budget.period) == (5_000_000, "monthly")
        route = gateway.routes.get(declared.alias, org_id=org_id)
        assert [(b.url, b.model) for b in route.backends] == [
            (declared.backend.rstrip("/"), "sim-echo")
        ]
        assert (route.input_micro_usd_per_mtok, route.output_micro_usd_per_mtok) == (
            1_000_000,
            2_000_000,
        )

    with gw.when("a second commit raises the budget"):
        sha2 = config_repo.commit(declared.files(7_000_000), "raise acme's budget")

    with gw.then(f"a refresh converges on {sha2[:12]}, only the budget changes (commit-to-Synced)"):
        app = gitops.applications.wait_for(app_name, revision=sha2, timeout=WAIT_SECONDS)
        actions = {(r.kind, r.action) for r in app.status.resources}
        assert actions == {("Org", "unchanged"), ("Budget", "updated"), ("Route", "unchanged")}
        assert budgets.budgets.get_org(org_id).limit_micro_usd == 7_000_000


def synced_app(
    gw: Harness,
    gitops: GitopsClient,
    repo: GitRepo,
    owned_apps: OwnedApps,
    declared: Declared,
    limit: int,
    **options: object,
) -> tuple[str, str, str]:
    """Given: the repository declares `declared` with `limit`, and its Application is Synced at
    that commit. `(app name, SHA, org ID)`."""
    with gw.given(f"an Application Synced at a commit declaring a budget of {limit}"):
        sha = repo.commit(declared.files(limit), "declare acme")
        name = owned_apps.create(repo, path="platform", **options)
        app = gitops.applications.wait_for(name, revision=sha, timeout=WAIT_SECONDS)
    return name, sha, inventory(app)[("Org", declared.org)]


@pytest.mark.audit
def test_drift_is_corrected_when_self_heal_is_on(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    budgets_admin: BudgetsClient,
    live_clients: LiveClients,
    service_audit: AuditClient,
) -> None:
    declared = Declared(gw, admin)
    policy = {"automated": True, "self_heal": True}
    name, sha, org_id = synced_app(
        gw, gitops, config_repo, owned_apps, declared, 5_000_000, sync_policy=policy
    )

    with gw.when("the admin changes the budget through the budgets API, outside Git"):
        before = {op.id for op in gitops.applications.get(name).status.operations}
        budgets_admin.budgets.set_org(org_id, limit_micro_usd=9_000_000, period="monthly")

    with gw.then("by the refresh awaited next (its token), one reconcile has put it back"):
        app = gitops.applications.wait_for(name, revision=sha, timeout=WAIT_SECONDS)
        assert live_clients.budgets.budgets.get_org(org_id).limit_micro_usd == 5_000_000
        assert {r.status for r in app.status.resources} == {"Synced"}
        # The refresh's own reconcile, or one more a trigger of the Given asked for that ran
        # after the change (triggers are never lost, so one may still be due): exactly one
        # of them corrected the budget, with its one write.
        fixes = [
            op
            for op in app.status.operations
            if op.id not in before and f"Budget/{declared.org}" in op.updated
        ]
        assert [(op.updated, op.writes) for op in fixes] == [([f"Budget/{declared.org}"], 1)]

    with gw.then("one gitops.drift_corrected event of that reconcile records the field's diff"):
        events = events_of(
            service_audit,
            fixes[0].reconcile_request_id,
            until=lambda found: any(e.action == "gitops.drift_corrected" for e in found),
            what="the correction's audit event",
        )
        [corrected] = [e for e in events if e.action == "gitops.drift_corrected"]
        assert (corrected.org_id, corrected.outcome, corrected.details["kind"]) == (
            org_id,
            "success",
            "Budget",
        )
        assert [(d["field"], d["live"], d["desired"]) for d in corrected.details["diff"]] == [
            ("spec.limit_micro_usd", 9_000_000, 5_000_000)
        ]


def test_drift_is_reported_and_left_alone_when_self_heal_is_off(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    budgets_admin: BudgetsClient,
    live_clients: LiveClients,
) -> None:
    declared = Declared(gw, admin)
    name, sha, org_id = synced_app(gw, gitops, config_repo, owned_apps, declared, 5_000_000)
    diff: list[tuple[str, object, object]] = [("spec.limit_micro_usd", 9_000_000, 5_000_000)]
    drifted: Seen = ("OutOfSync", "would_update", "drift", diff)

    with gw.when("the admin changes the budget through the budgets API, outside Git"):
        budgets_admin.budgets.set_org(org_id, limit_micro_usd=9_000_000, period="monthly")

    with gw.then("the next reconcile reports it: OutOfSync, still Healthy, the field's diff"):
        app = gitops.applications.wait_for(
            name, revision=sha, sync="OutOfSync", health="Healthy", timeout=WAIT_SECONDS
        )
        assert resource(app, "Budget") == drifted

    def still_drifted() -> Outcome[None]:
        # One refresh per poll, answered by its own reconcile: the window spans several.
        try:
            app = gitops.applications.wait_for(
                name, revision=sha, sync="OutOfSync", health="Healthy", timeout=WAIT_SECONDS
            )
        except SyncFailed as exc:
            return Outcome.failed(str(exc))
        if resource(app, "Budget") != drifted:
            return Outcome.failed(f"budget resource is {resource(app, 'Budget')}")
        live = live_clients.budgets.budgets.get_org(org_id).limit_micro_usd
        return Outcome.done() if live == 9_000_000 else Outcome.failed(f"live limit is {live}")

    with gw.then("it stays so, and the live budget stays changed, over several refreshes"):
        # Scaled like the harness's timeouts: on a slow machine one refresh takes longer.
        window = 2.0 * timeout_scale()
        polls = consistently(
            still_drifted, for_=window, interval=0.05, description="the drift to stay reported"
        )
        assert polls >= 2, f"only {polls} refresh(es) answered in {window:.1f} s"


def test_an_invalid_commit_applies_nothing_until_a_fixing_commit_converges(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
) -> None:
    declared = Declared(gw, admin)
    with gw.given("a config repository whose budget names an org it does not declare"):
        text = f"""kind: Budget
metadata: {{name: {declared.org}}}
spec: {{org: {declared.org}, limit_micro_usd: 5000000, period: monthly}}
"""
        sha = config_repo.commit({"budgets.yaml": text}, "a budget for nobody")

    with gw.when("an operator creates the Application for it"):
        name = owned_apps.create(config_repo)

    with gw.then("it is Degraded at that commit, naming the file, document and field"):
        with pytest.raises(SyncFailed) as failed:
            gitops.applications.wait_for(name, revision=sha, timeout=WAIT_SECONDS)
        status = failed.value.status
        assert status is not None
        assert (status.sync, status.health, status.revision) == ("Unknown", "Degraded", sha)
        [condition] = status.conditions
        assert (condition.file, condition.document, condition.field) == (
            "budgets.yaml",
            0,
            "spec.org",
        )
        assert status.resources == []
        assert status.inventory == []

    with gw.when("a fixing commit declares the org (and its route)"):
        config_repo.delete(["budgets.yaml"], "the budget moves to acme.yaml")
        fixed = config_repo.commit(declared.files(5_000_000), "declare acme")

    with gw.then(f"it is Synced and Healthy at the fix, {fixed[:12]} (commit-to-Synced)"):
        app = gitops.applications.wait_for(name, revision=fixed, timeout=WAIT_SECONDS)
        assert (app.status.conditions, app.status.last_applied_revision) == ([], fixed)
        org_id = inventory(app)[("Org", declared.org)]
        assert live_clients.budgets.budgets.get_org(org_id).limit_micro_usd == 5_000_000

    with gw.when("a later commit raises the budget but breaks the route"):
        broken = declared.files(7_000_000)[FILE].replace("model: sim-echo", "modle: sim-echo")
        bad = config_repo.commit({FILE: broken}, "raise the budget, typo in the route")

    with gw.then("it is Degraded at it, and the live budget is untouched"):
        with pytest.raises(SyncFailed) as failed:
            gitops.applications.wait_for(name, revision=bad, timeout=WAIT_SECONDS)
        status = failed.value.status
        assert status is not None
        assert (status.sync, status.health, status.revision) == ("Unknown", "Degraded", bad)
        assert status.last_applied_revision == fixed
        assert {(c.type, c.file) for c in status.conditions} == {("InvalidManifest", FILE)}
        assert live_clients.budgets.budgets.get_org(org_id).limit_micro_usd == 5_000_000

    with gw.when("a fixing commit repairs the route"):
        repaired = config_repo.commit(declared.files(7_000_000), "fix the route")

    with gw.then(f"it is Synced at {repaired[:12]} with the raised budget (commit-to-Synced)"):
        app = gitops.applications.wait_for(name, revision=repaired, timeout=WAIT_SECONDS)
        assert resource(app, "Budget")[:2] == ("Synced", "updated")
        assert live_clients.budgets.budgets.get_org(org_id).limit_micro_usd == 7_000_000


def test_polling_alone_picks_up_a_new_commit(
    gw: Harness, admin: Actor, gitops: GitopsClient, config_repo: GitRepo, owned_apps: OwnedApps
) -> None:
    declared = Declared(gw, admin)
    with gw.given("an Application polling every second, Synced at a first commit"):
        sha = config_repo.commit(declared.files(5_000_000), "declare acme")
        name = owned_apps.create(config_repo, path="platform", poll_interval_seconds=1)
        gitops.applications.wait_for(name, revision=sha, refresh=False, timeout=WAIT_SECONDS)

    with gw.when("a commit raises the budget, and nobody asks for a refresh"):
        sha2 = config_repo.commit(declared.files(6_000_000), "raise acme's budget")

    with gw.then(f"a poll reconciles it: Synced at {sha2[:12]} (commit-to-Synced)"):
        # refresh=False: wait_for only reads the status; it sends no refresh.
        app = gitops.applications.wait_for(name, revision=sha2, refresh=False, timeout=WAIT_SECONDS)
        assert {op.trigger for op in app.status.operations if op.revision == sha2} == {"poll"}
        assert resource(app, "Budget")[:2] == ("Synced", "updated")


def overlaps(operations: list[Operation]) -> list[tuple[str, str]]:
    """Pairs of operations whose [started_at, finished_at] intervals overlap."""
    ordered = sorted(operations, key=lambda op: op.started_at)
    return [(a.id, b.id) for a, b in itertools.pairwise(ordered) if b.started_at < a.finished_at]


def test_twenty_quick_commits_each_refreshed_end_synced_at_the_last(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
) -> None:
    declared = Declared(gw, admin)
    name, _, org_id = synced_app(gw, gitops, config_repo, owned_apps, declared, 5_000_000)
    tokens: list[str] = []
    seen: dict[str, Operation] = {}
    limits = [5_000_001 + i for i in range(20)]

    with gw.when("twenty commits land as fast as possible, each followed at once by a refresh"):
        for limit in limits:
            last = config_repo.commit(declared.files(limit), f"budget {limit}")
            tokens.append(gitops.applications.refresh(name).token)
            # Operations are kept 10 deep: reading as we go sees every one of them.
            seen.update({op.id: op for op in gitops.applications.get(name).status.operations})

    def converged() -> Outcome[Application]:
        app = gitops.applications.get(name)
        seen.update({op.id: op for op in app.status.operations})
        status = app.status
        if status.last_handled_refresh is None or status.last_handled_refresh < tokens[-1]:
            return Outcome.pending(f"last handled refresh {status.last_handled_refresh}")
        # The reconcile that handled the last refresh started after the last commit.
        if (status.sync, status.health, status.revision) != ("Synced", "Healthy", last):
            return Outcome.failed(f"{status.sync}/{status.health} at {status.revision}")
        return Outcome.done(app)

    with gw.then(f"it ends Synced at the last commit, {last[:12]} (commit-to-Synced)"):
        app = eventually(
            converged, timeout=WAIT_SECONDS, description="the last refresh to be handled"
        )
        assert live_clients.budgets.budgets.get_org(org_id).limit_micro_usd == limits[-1]

    with gw.then("every refresh token was answered, and no two reconciles overlapped"):
        handled = app.status.last_handled_refresh
        assert handled is not None
        assert [t for t in tokens if handled < t] == []
        assert len(seen) >= 2  # the first sync and at least one reconcile of the burst
        assert overlaps(list(seen.values())) == []


def test_an_unreachable_repository_is_unknown_until_it_is_back(
    gw: Harness, admin: Actor, gitops: GitopsClient, config_repo: GitRepo, owned_apps: OwnedApps
) -> None:
    declared = Declared(gw, admin)
    name, sha, _ = synced_app(gw, gitops, config_repo, owned_apps, declared, 5_000_000)

    with gw.when("the repository becomes unreachable (moved away: git itself fails)"):
        config_repo.make_unreachable()

    with gw.then("the next reconcile says sync Unknown, with git's error in a FetchFailed"):
        # (A failure here leaves it unreachable: the config_repo fixture restores it.)
        app = gitops.applications.wait_for(
            name, sync="Unknown", health="Degraded", timeout=WAIT_SECONDS
        )
        [condition] = app.status.conditions
        assert (condition.type, condition.reason) == ("FetchFailed", "FetchFailed")
        assert "Cannot fetch branch 'main'" in condition.message
        assert "Could not read from remote repository" in condition.message  # git's own words
        assert app.status.revision == sha  # what it last read; nothing new was seen

    with gw.when("the repository is back, with a new commit"):
        config_repo.restore()
        sha2 = config_repo.commit(declared.files(6_000_000), "raise acme's budget")

    with gw.then(f"it is Synced again, at {sha2[:12]} (commit-to-Synced)"):
        app = gitops.applications.wait_for(name, revision=sha2, timeout=WAIT_SECONDS)
        assert app.status.conditions == []
