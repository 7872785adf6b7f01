"""GitOps webhooks: a push as GitHub delivers it converges; a forged one is refused, audited.

The whole story in one flow: a pushed commit declaring a new org with its budget, a route and a
member goes live through the delivery alone (polls a day apart); the step named
"... (commit-to-Synced)" times it, in `steps.json` and the report.
"""

from __future__ import annotations

import json

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.core import AuthenticationError
from gatewright.gitops import Client as GitopsClient
from gatewright.gitops import github_push_payload
from gatewright.identity import Client as IdentityClient
from gatewright.identity import Org
from gatewright.testkit import Harness
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor, Join
from .audit_fixtures import events_of
from .gitops_fixtures import (
    LiveClients,
    OwnedApps,
    budget_manifest,
    inventory,
    org_manifest,
    route_manifest,
)

pytestmark = [pytest.mark.gitops, pytest.mark.audit]


def test_a_signed_push_converges_and_a_forged_one_changes_nothing(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: GitRepo,
    service_audit: AuditClient,
) -> None:
    secret = gw.target.webhook_secret
    assert secret, "the target has no webhook secret (GATEWRIGHT_WEBHOOK_SECRET)"
    # The host's side: no Gatewright credentials, only the webhook secret it signs with.
    github = GitopsClient(**gw.client_kwargs("gitops"))
    budgets = BudgetsClient(**gw.client_kwargs("budgets", token=gw.target.service_token))
    gw.cleanup.release("close the clients", lambda: (github.close(), budgets.close()))
    org_name, app_name = gw.names.name("org"), gw.names.name("app")

    with gw.given("an Application following a config repository, Synced at its first commit"):
        first = config_repo.commit({"org.yaml": org_manifest(org_name, admin.email)}, "an org")
        # Polls are a day apart: only a delivery can make it reconcile again during the test.
        gitops.applications.create(app_name, repo_url=config_repo.url, poll_interval_seconds=86_400)
        gw.cleanup.add(
            f"delete application {app_name}", lambda: gitops.applications.delete(app_name)
        )
        app = gitops.applications.wait_for(app_name, revision=first, refresh=False, timeout=60)
        org_id = {(e.kind, e.name): e.live_id for e in app.status.inventory}[("Org", org_name)]
        gw.cleanup.add(f"delete org {org_id}", lambda: admin.client.orgs.delete(org_id))
        operations = len(app.status.operations)

    with gw.when(
        "a second commit adds a budget, and a delivery signed with the wrong secret arrives"
    ):
        files = {"budget.yaml": budget_manifest(org_name, 3_000_000)}
        second = config_repo.commit(files, "a budget")
        push = github_push_payload(f"file://{config_repo.url}.git", branch="main", sha=second)
        with pytest.raises(AuthenticationError) as refused:
            github.hooks.github(push, secret="not-" + secret, delivery=gw.names.name("delivery"))

    with gw.then("it is refused with 401, nothing is reconciled, and one audit event says why"):
        assert refused.value.code == "invalid_signature"
        assert "X-Hub-Signature-256" in refused.value.message
        unchanged = gitops.applications.get(app_name).status
        assert (unchanged.revision, len(unchanged.operations)) == (first, operations)
        events = events_of(
            service_audit,
            refused.value.request_id,
            until=lambda found: any(e.action == "gitops.webhook_rejected" for e in found),
            what="the rejected delivery's audit event",
        )
        [event] = events
        assert (event.service, event.action, event.outcome, event.org_id) == (
            "gitops",
            "gitops.webhook_rejected",
            "denied",
            None,
        )
        assert (event.details["host"], event.details["reason"]) == ("github", "signature_mismatch")
        assert secret not in json.dumps(event.model_dump(mode="json"))

    with gw.when("the same push arrives signed with the webhook secret"):
        accepted = github.hooks.github(push, secret=secret, delivery=gw.names.name("delivery"))

    with gw.then(f"it refreshes the Application, which is Synced at {second[:12]}"):
        assert accepted.action == "refreshed"
        [refresh] = accepted.refreshed
        assert refresh.application == app_name
        app = gitops.applications.wait_for(app_name, revision=second, token=refresh.token)
        gw.cleanup.add(f"delete budget of {org_id}", lambda: budgets.budgets.delete_org(org_id))
        assert app.status.last_handled_refresh is not None
        assert app.status.last_handled_refresh >= refresh.token
        # One reconcile more than before, the delivery's: the forged one caused none.
        assert len(app.status.operations) == operations + 1
        assert app.status.operations[0].trigger == "webhook"
        assert budgets.budgets.get_org(org_id).limit_micro_usd == 3_000_000


def declared_org(org: str, owner: str, alias: str, backend: str, member: str, email: str) -> str:
    """An org, its budget, a route and a second member (the Membership `member`), as one
    commit declares them."""
    return f"""{org_manifest(org, owner)}---
{budget_manifest(org, 4_000_000)}---
{route_manifest(alias, org, backend)}---
kind: Membership
metadata: {{name: {member}}}
spec: {{org: {org}, email: {email}, role: admin}}
"""


def test_a_pushed_org_with_budget_route_and_member_goes_live_by_webhook(
    gw: Harness,
    admin: Actor,
    org: Org,
    join: Join,
    gitops: GitopsClient,
    config_repo: GitRepo,
    owned_apps: OwnedApps,
    live_clients: LiveClients,
    service_identity: IdentityClient,
) -> None:
    secret = gw.target.webhook_secret
    assert secret, "the target has no webhook secret (GATEWRIGHT_WEBHOOK_SECRET)"
    github = GitopsClient(**gw.client_kwargs("gitops"))  # the host: only the webhook secret
    gw.cleanup.release("close the host's client", github.close)
    # Every manifest name from the harness's names: bounded whatever the run ID's length.
    org_name, alias, member = gw.names.name("org"), gw.names.name("route"), gw.names.name("pat")
    backend = gw.url("modelsim").rstrip("/")
    pat = join(org, "viewer", "pat")  # an account of its own, as every person gets one

    with gw.given("an Application following a config repository that declares nothing yet"):
        first = config_repo.commit({"README.md": "the platform's orgs\n"}, "start")
        # Polls a day apart: only the delivery can make it see the next commit in time.
        app_name = owned_apps.create(config_repo, poll_interval_seconds=86_400)
        app = gitops.applications.wait_for(app_name, revision=first, refresh=False)
        assert app.status.resources == []

    with gw.when("a commit declares a new org with a budget, a route and Pat as its admin"):
        declared = declared_org(org_name, admin.email, alias, backend, member, pat.email)
        files = {"orgs/acme.yaml": declared}
        sha = config_repo.commit(files, "a new org")

    with gw.then(f"GitHub's push delivery makes it Synced at {sha[:12]} (commit-to-Synced)"):
        push = github_push_payload(f"file://{config_repo.url}.git", branch="main", sha=sha)
        accepted = github.hooks.github(push, secret=secret, delivery=gw.names.name("delivery"))
        [refresh] = accepted.refreshed
        assert refresh.application == app_name
        app = gitops.applications.wait_for(
            app_name, revision=sha, token=refresh.token, health="Progressing"
        )
        assert app.status.operations[0].trigger == "webhook"
        org_id = inventory(app)[("Org", org_name)]

    with gw.then("the live org, budget and route are the manifests'; Pat is invited as admin"):
        statuses = {(r.kind, r.status) for r in app.status.resources}
        assert statuses == {
            ("Org", "Synced"),
            ("Budget", "Synced"),
            ("Route", "Synced"),
            ("Membership", "Progressing"),
        }
        live = service_identity.orgs.get(org_id)
        assert (live.name, [(m.email, m.role) for m in live.members]) == (
            org_name,
            [(admin.email, "owner")],
        )
        budget = live_clients.budgets.budgets.get_org(org_id)
        assert (budget.limit_micro_usd, budget.period) == (4_000_000, "monthly")
        route = live_clients.gateway.routes.get(alias, org_id=org_id)
        assert [(b.url, b.model) for b in route.backends] == [(backend, "sim-echo")]
        invited = [i for i in pat.client.users.invitations().data if i.org_id == org_id]
        assert [(i.email, i.role) for i in invited] == [(pat.email, "admin")]

    with gw.when("Pat accepts the invitation Git sent"):
        pat.client.users.accept_invitation(invited[0].id)

    with gw.then("the Application is Synced and Healthy, and Pat's live role is Git's"):
        app = gitops.applications.wait_for(app_name, revision=sha)
        assert {r.status for r in app.status.resources} == {"Synced"}
        members = service_identity.orgs.get(org_id).members
        assert sorted((m.email, m.role) for m in members) == sorted(
            [(admin.email, "owner"), (pat.email, "admin")]
        )
