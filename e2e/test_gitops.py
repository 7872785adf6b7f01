"""GitOps: a commit in a config repository becomes the live org, budget and route."""

from __future__ import annotations

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.gateway import Client as GatewayClient
from gatewright.gitops import Client as GitopsClient
from gatewright.gitops import SyncFailed
from gatewright.identity import Client as IdentityClient
from gatewright.testkit import Harness

from .actors import Actor
from .gitops_fixtures import ConfigRepo

pytestmark = pytest.mark.gitops


def manifests(org: str, owner: str, alias: str, backend_url: str, limit: int) -> str:
    return f"""kind: Org
metadata: {{name: {org}}}
spec: {{owner: {owner}}}
---
kind: Budget
metadata: {{name: {org}}}
spec: {{org: {org}, limit_micro_usd: {limit}, period: monthly}}
---
kind: Route
metadata: {{name: {alias}}}
spec:
  org: {org}
  backends: [{{url: "{backend_url}", model: sim-echo}}]
  input_micro_usd_per_mtok: 1000000
  output_micro_usd_per_mtok: 2000000
"""


def test_a_commit_converges_to_live_org_budget_and_route(
    gw: Harness,
    admin: Actor,
    gitops: GitopsClient,
    config_repo: ConfigRepo,
    service_identity: IdentityClient,
) -> None:
    token = gw.target.service_token
    budgets = BudgetsClient(**gw.client_kwargs("budgets", token=token))
    gateway = GatewayClient(**gw.client_kwargs("gateway", token=token))
    gw.cleanup.release(
        "close the budgets and gateway clients", lambda: (budgets.close(), gateway.close())
    )
    org_name, alias, app_name = gw.names.name("org"), gw.names.name("route"), gw.names.name("app")
    backend = gw.url("modelsim")

    with gw.given("a config repository declaring an org, its budget and a route"):
        text = manifests(org_name, admin.email, alias, backend, limit=5_000_000)
        sha = config_repo.commit({"platform/acme.yaml": text}, "declare acme")

    with gw.when("an operator creates the Application for it"):
        gitops.applications.create(app_name, repo_url=config_repo.url, path="platform")
        gw.cleanup.add(
            f"delete application {app_name}", lambda: gitops.applications.delete(app_name)
        )

    with gw.then(f"it is Synced and Healthy at {sha[:12]}"):
        app = gitops.applications.wait_for(app_name, revision=sha, timeout=60)
        inventory = {(e.kind, e.name): e.live_id for e in app.status.inventory}
        org_id = inventory[("Org", org_name)]
        # What it created is cleaned up after the test (the org last: it owns the others).
        gw.cleanup.add(f"delete org {org_id}", lambda: admin.client.orgs.delete(org_id))
        gw.cleanup.add(f"delete budget of {org_id}", lambda: budgets.budgets.delete_org(org_id))
        gw.cleanup.add(f"delete route {alias}", lambda: gateway.routes.delete(alias, org_id=org_id))
        assert {r.status for r in app.status.resources} == {"Synced"}

    with gw.then("the live org, budget and route are what Git declares"):
        org = service_identity.orgs.get(org_id)
        assert org.name == org_name
        assert [(m.email, m.role) for m in org.members] == [(admin.email, "owner")]
        budget = budgets.budgets.get_org(org_id)
        assert (budget.limit_micro_usd, budget.period) == (5_000_000, "monthly")
        route = gateway.routes.get(alias, org_id=org_id)
        assert [(b.url, b.model) for b in route.backends] == [(backend.rstrip("/"), "sim-echo")]
        assert (route.input_micro_usd_per_mtok, route.output_micro_usd_per_mtok) == (
            1_000_000,
            2_000_000,
        )

    with gw.when("a second commit raises the budget"):
        sha2 = config_repo.commit(
            {"platform/acme.yaml": manifests(org_name, admin.email, alias, backend, 7_000_000)},
            "raise acme's budget",
        )

    with gw.then("a refresh converges on it, changing only the budget"):
        app = gitops.applications.wait_for(app_name, revision=sha2, timeout=60)
        actions = {(r.kind, r.action) for r in app.status.resources}
        assert actions == {("Org", "unchanged"), ("Budget", "updated"), ("Route", "unchanged")}
        assert budgets.budgets.get_org(org_id).limit_micro_usd == 7_000_000


def test_an_invalid_commit_applies_nothing_and_names_the_file_and_field(
    gw: Harness, gitops: GitopsClient, config_repo: ConfigRepo
) -> None:
    org_name, app_name = gw.names.name("org"), gw.names.name("app")
    with gw.given("a config repository whose budget names an org it does not declare"):
        text = f"""kind: Budget
metadata: {{name: {org_name}}}
spec: {{org: {org_name}, limit_micro_usd: 5000000, period: monthly}}
"""
        sha = config_repo.commit({"budgets.yaml": text}, "a budget for nobody")

    with gw.when("an operator creates the Application for it"):
        gitops.applications.create(app_name, repo_url=config_repo.url)
        gw.cleanup.add(
            f"delete application {app_name}", lambda: gitops.applications.delete(app_name)
        )

    with gw.then("it is Degraded at that commit, naming the file, document and field"):
        with pytest.raises(SyncFailed) as failed:
            gitops.applications.wait_for(app_name, revision=sha, timeout=60)
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
