"""Fixtures for the GitOps flows: the gitops client, a git repository the test owns, and the
Applications it creates (with what they applied), cleaned up in a safe order.

The repository is testkit's `GitRepo` (a real one in the test's tmp dir, named from the test
id); the local stack's gitops service fetches it by path. Against a deployment, the repository
must be reachable from gitops, so these flows need a local stack (or a deployment that shares the
machine's file system).

Cleanup of an Application (`owned_apps.create`) is one action, because its order matters: a
reconcile that runs while the org is being deleted would create it again. So it first switches
the Application to `automated: false` and waits for a refresh to be handled (reconciles of one
Application never overlap, so none that may apply is still running), deletes the Application,
then deletes what its inventory says it created: routes, budgets, then orgs (the org owns them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.core import NotFound
from gatewright.gateway import Client as GatewayClient
from gatewright.gitops import Application
from gatewright.gitops import Client as GitopsClient
from gatewright.testkit import Harness
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor

# Long enough for a slow shared machine, short enough that a hung reconcile fails the test.
WAIT_SECONDS = 30.0


@pytest.fixture
def gitops(gw: Harness) -> GitopsClient:
    """Gitops as an operator sees it (the service token)."""
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    client = GitopsClient(**gw.client_kwargs("gitops", token=token))
    gw.cleanup.release("close the gitops client", client.close)
    return client


@pytest.fixture
def config_repo(gw: Harness, tmp_path: Path) -> Iterator[GitRepo]:
    """A fresh git repository the test owns (branch `main`), named from the test id."""
    repo = GitRepo.for_test(tmp_path, gw.names)
    yield repo
    if not repo.reachable:  # a test that failed mid-outage leaves it as it found it
        repo.restore()
    repo.close()


@dataclass
class LiveClients:
    """Budgets and the gateway as the platform sees them (the service token), to read what an
    Application applied and to clean it up."""

    budgets: BudgetsClient
    gateway: GatewayClient


@pytest.fixture
def live_clients(gw: Harness) -> LiveClients:
    token = gw.target.service_token
    budgets = BudgetsClient(**gw.client_kwargs("budgets", token=token))
    gateway = GatewayClient(**gw.client_kwargs("gateway", token=token))
    gw.cleanup.release("close the budgets client", budgets.close)
    gw.cleanup.release("close the gateway client", gateway.close)
    return LiveClients(budgets, gateway)


class OwnedApps:
    """`create(...)` makes an Application and registers its cleanup (see the module doc)."""

    def __init__(self, gw: Harness, gitops: GitopsClient, admin: Actor, live: LiveClients):
        self.gw, self.gitops, self.admin, self.live = gw, gitops, admin, live

    def create(self, repo: GitRepo, **options: Any) -> str:
        """Create an Application on `repo` (its name from the test id); the name."""
        name = self.gw.names.name(options.pop("label", "app"))
        self.gitops.applications.create(name, repo_url=repo.url, **options)
        self.gw.cleanup.add(
            f"stop application {name}, delete it and the orgs, budgets and routes it created",
            lambda: self.remove(name),
        )
        return name

    def remove(self, name: str) -> None:
        apps = self.gitops.applications
        apps.update(name, sync_policy={"automated": False})
        app = apps.wait_for(name, sync=None, health=None, timeout=WAIT_SECONDS)
        apps.delete(name)
        self.delete_inventory(app)

    def delete_inventory(self, app: Application) -> None:
        entries = app.status.inventory
        for entry in entries:
            if entry.kind == "Route":
                org_id, _, alias = entry.live_id.partition("/")
                _gone(self.live.gateway.routes.delete, alias, org_id=org_id)
        for entry in entries:
            if entry.kind == "Budget":
                _gone(self.live.budgets.budgets.delete_org, entry.live_id)
        for entry in entries:
            if entry.kind == "Org":
                _gone(self.admin.client.orgs.delete, entry.live_id)


def _gone(delete: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Delete; already gone (a test that deleted it itself) is fine."""
    with contextlib.suppress(NotFound):
        delete(*args, **kwargs)


@pytest.fixture
def owned_apps(
    gw: Harness, gitops: GitopsClient, admin: Actor, live_clients: LiveClients
) -> OwnedApps:
    """Applications the test creates, each cleaned up with what it applied."""
    return OwnedApps(gw, gitops, admin, live_clients)


def inventory(app: Application) -> dict[tuple[str, str], str]:
    """`{(kind, name): live ID}` of what the Application created."""
    return {(e.kind, e.name): e.live_id for e in app.status.inventory}


# -- manifests, as a config repository holds them ---------------------------------------------
def org_manifest(org: str, owner: str) -> str:
    return f"kind: Org\nmetadata: {{name: {org}}}\nspec: {{owner: {owner}}}\n"


def budget_manifest(org: str, limit: int) -> str:
    return (
        f"kind: Budget\nmetadata: {{name: {org}}}\n"
        f"spec: {{org: {org}, limit_micro_usd: {limit}, period: monthly}}\n"
    )


def route_manifest(alias: str, org: str, backend: str) -> str:
    """A route over one `sim-echo` backend at 1 and 2 micro-USD per token."""
    return f"""kind: Route
metadata: {{name: {alias}}}
spec:
  org: {org}
  backends: [{{url: "{backend}", model: sim-echo}}]
  input_micro_usd_per_mtok: 1000000
  output_micro_usd_per_mtok: 2000000
"""
