"""GitOps: a commit that changes any field of a budget or a route converges on that field.

The convergence flow changes one number; a diff that ignored another field (a budget's period, a
backend's timeout) would say Synced while the live state differs (found by `nox -s mutants`,
decision 19). This flow changes every field but the limit at once and reads each back live.
"""

from __future__ import annotations

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.gateway import Client as GatewayClient
from gatewright.gitops import Client as GitopsClient
from gatewright.testkit import Harness
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor

pytestmark = pytest.mark.gitops


def manifests(
    org: str,
    owner: str,
    alias: str,
    backend: str,
    *,
    period: str,
    timeout: float,
    output_price: int,
) -> str:
    return f"""kind: Org
metadata: {{name: {org}}}
spec: {{owner: {owner}}}
---
kind: Budget
metadata: {{name: {org}}}
spec: {{org: {org}, limit_micro_usd: 5000000, period: {period}}}
---
kind: Route
metadata: {{name: {alias}}}
spec:
  org: {org}
  backends: [{{url: "{backend}", model: sim-echo, timeout_seconds: {timeout}}}]
  input_micro_usd_per_mtok: 1000000
  output_micro_usd_per_mtok: {output_price}
"""


def test_a_commit_changing_the_period_timeout_and_price_converges_on_each(
    gw: Harness, admin: Actor, gitops: GitopsClient, config_repo: GitRepo
) -> None:
    token = gw.target.service_token
    budgets = BudgetsClient(**gw.client_kwargs("budgets", token=token))
    gateway = GatewayClient(**gw.client_kwargs("gateway", token=token))
    gw.cleanup.release(
        "close the budgets and gateway clients", lambda: (budgets.close(), gateway.close())
    )
    org_name, alias, app_name = gw.names.name("org"), gw.names.name("route"), gw.names.name("app")
    backend = gw.url("modelsim")
    path = "platform/acme.yaml"

    with gw.given("an Application synced to a monthly budget and a 5 s backend at 2 micro-USD"):
        first = manifests(
            org_name,
            admin.email,
            alias,
            backend,
            period="monthly",
            timeout=5.0,
            output_price=2 * 10**6,
        )
        sha = config_repo.commit({path: first}, "declare acme")
        gitops.applications.create(app_name, repo_url=config_repo.url, path="platform")
        gw.cleanup.add(
            f"delete application {app_name}", lambda: gitops.applications.delete(app_name)
        )
        app = gitops.applications.wait_for(app_name, revision=sha, timeout=60)
        org_id = {(e.kind, e.name): e.live_id for e in app.status.inventory}[("Org", org_name)]
        gw.cleanup.add(f"delete org {org_id}", lambda: admin.client.orgs.delete(org_id))
        gw.cleanup.add(f"delete budget of {org_id}", lambda: budgets.budgets.delete_org(org_id))
        gw.cleanup.add(f"delete route {alias}", lambda: gateway.routes.delete(alias, org_id=org_id))

    with gw.when("a commit makes the budget daily, the timeout 7.5 s and the output price 3"):
        second = manifests(
            org_name,
            admin.email,
            alias,
            backend,
            period="daily",
            timeout=7.5,
            output_price=3 * 10**6,
        )
        sha2 = config_repo.commit({path: second}, "daily budget, slower backend, dearer output")

    with gw.then("it converges, updating the budget and the route"):
        app = gitops.applications.wait_for(app_name, revision=sha2, timeout=60)
        actions = {(r.kind, r.action) for r in app.status.resources}
        assert actions == {("Org", "unchanged"), ("Budget", "updated"), ("Route", "updated")}
    with gw.then("the live budget and route hold every changed field"):
        budget = budgets.budgets.get_org(org_id)
        assert (budget.limit_micro_usd, budget.period) == (5_000_000, "daily")
        route = gateway.routes.get(alias, org_id=org_id)
        assert [b.timeout_seconds for b in route.backends] == [7.5]
        assert route.output_micro_usd_per_mtok == 3_000_000
