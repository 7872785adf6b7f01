"""GitOps webhooks: a push as GitHub delivers it converges; a forged one is refused, audited."""

from __future__ import annotations

import json

import pytest

from gatewright.audit import Client as AuditClient
from gatewright.budgets import Client as BudgetsClient
from gatewright.core import AuthenticationError
from gatewright.gitops import Client as GitopsClient
from gatewright.gitops import github_push_payload
from gatewright.testkit import Harness
from gatewright.testkit.gitrepo import GitRepo

from .actors import Actor
from .audit_fixtures import events_of

pytestmark = [pytest.mark.gitops, pytest.mark.audit]


def org_manifest(org: str, owner: str) -> str:
    return f"kind: Org\nmetadata: {{name: {org}}}\nspec: {{owner: {owner}}}\n"


def budget_manifest(org: str, limit: int) -> str:
    return (
        f"kind: Budget\nmetadata: {{name: {org}}}\n"
        f"spec: {{org: {org}, limit_micro_usd: {limit}, period: monthly}}\n"
    )


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
