"""The gitops service in-process: the Applications API, and reconciles of real git repositories
(made in tmp dirs) against a fake live state, waited on through the client's `wait_for`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gitops_fixtures import (
    ADMIN_ID,
    ADMIN_TOKEN,
    BUDGET,
    ORG,
    OWNER,
    ROUTE,
    SERVICE,
    USER_TOKEN,
    ConfigRepo,
    FakeLive,
)
from sqlalchemy import select

from gatewright.core import NotFound
from gatewright.gitops import Client, SyncFailed
from gatewright.gitops.service import store

MANIFESTS = {"orgs/acme.yaml": ORG + "---\n" + BUDGET, "orgs/routes.yml": ROUTE}


def envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def app_body(repo: ConfigRepo, **changes: Any) -> dict[str, Any]:
    return {"name": "platform", "repo_url": repo.url, "path": "orgs", **changes}


# -- the API ---------------------------------------------------------------------------------
def test_applications_crud(http: TestClient, repo: ConfigRepo) -> None:
    repo.commit(MANIFESTS)
    created = http.post("/v1/applications", json=app_body(repo), headers=SERVICE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"].startswith("app_")
    assert (body["branch"], body["path"], body["poll_interval_seconds"]) == ("main", "orgs", 60)
    assert body["sync_policy"] == {"automated": True, "self_heal": False, "prune": False}

    again = http.post("/v1/applications", json=app_body(repo), headers=SERVICE)
    assert envelope(again, 409)["code"] == "application_exists"

    changed = http.patch(
        "/v1/applications/platform", json={"poll_interval_seconds": 5}, headers=SERVICE
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["poll_interval_seconds"] == 5
    assert changed.json()["repo_url"] == repo.url

    listed = http.get("/v1/applications", headers=SERVICE).json()["data"]
    assert [a["name"] for a in listed] == ["platform"]
    assert http.delete("/v1/applications/platform", headers=SERVICE).status_code == 204
    assert envelope(http.get("/v1/applications/platform", headers=SERVICE), 404)["code"] == (
        "application_not_found"
    )
    assert envelope(http.delete("/v1/applications/platform", headers=SERVICE), 404)
    assert envelope(http.post("/v1/applications/platform/refresh", headers=SERVICE), 404)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Not A Slug"}, "name"),
        ({"name": "-lead"}, "name"),
        ({"branch": "--upload-pack=evil"}, "branch"),
        ({"branch": "a..b"}, "branch"),
        ({"path": "../outside"}, "path"),
        ({"path": "/etc"}, "path"),
        ({"repo_url": "-oProxyCommand=evil"}, "repo_url"),
        ({"repo_url": ""}, "repo_url"),
        ({"repo_url": "ext::sh -c touch% /tmp/pwned"}, "repo_url"),
        ({"poll_interval_seconds": 0}, "poll_interval_seconds"),
        ({"poll_interval_seconds": "60"}, "poll_interval_seconds"),
        ({"sync_policy": {"automated": "yes"}}, "sync_policy"),
        ({"sync_policy": {"self_heal": True, "typo": True}}, "sync_policy"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_input_is_a_clear_422_and_creates_nothing(
    http: TestClient, repo: ConfigRepo, changes: dict[str, Any], field: str
) -> None:
    problem = envelope(
        http.post("/v1/applications", json=app_body(repo, **changes), headers=SERVICE), 422
    )
    assert problem["code"] == "validation_failed"
    assert field in str(problem["details"])
    assert http.get("/v1/applications", headers=SERVICE).json()["data"] == []


def test_only_the_service_token_and_platform_admins_manage_applications(
    http: TestClient, repo: ConfigRepo
) -> None:
    assert envelope(http.get("/v1/applications"), 401)["code"] == "unauthenticated"
    bad = {"Authorization": "Bearer nonsense"}
    assert envelope(http.get("/v1/applications", headers=bad), 401)["code"] == "unauthenticated"
    user = {"Authorization": f"Bearer {USER_TOKEN}"}
    denied = envelope(http.post("/v1/applications", json=app_body(repo), headers=user), 403)
    assert denied["code"] == "permission_denied"
    assert http.get("/v1/applications", headers=SERVICE).json()["data"] == []
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert http.post("/v1/applications", json=app_body(repo), headers=admin).status_code == 201


# -- reconciles ------------------------------------------------------------------------------
def test_a_commit_is_applied_in_dependency_order_and_reported_synced(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    sha = repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    # The create's own reconcile (no refresh: a refresh would report everything unchanged).
    app = gitops.applications.wait_for("platform", revision=sha, refresh=False)

    status = app.status
    assert (status.sync, status.health) == ("Synced", "Healthy")
    assert status.revision == status.last_applied_revision == status.last_attempted_revision == sha
    assert [(r.kind, r.name, r.action) for r in status.resources] == [
        ("Org", "acme", "created"),
        ("Budget", "acme", "created"),
        ("Route", "acme-chat", "created"),
    ]
    [org_id] = live.orgs
    assert live.orgs[org_id] == {"name": "acme", "owner": OWNER}
    assert live.budgets[org_id] == {"limit_micro_usd": 5_000_000, "period": "monthly"}
    route = live.routes[(org_id, "chat")]
    assert route["backends"] == [
        {"url": "http://modelsim.test", "model": "sim-echo", "timeout_seconds": 30.0}
    ]
    assert {(e.kind, e.name, e.live_id) for e in status.inventory} == {
        ("Org", "acme", org_id),
        ("Budget", "acme", org_id),
        ("Route", "acme-chat", f"{org_id}/chat"),
    }
    # One request ID per reconcile, on every call it made, recorded on its operation.
    handled = status.operations[0]
    assert handled.phase == "Succeeded"
    ids = {rid for rid, _ in live.calls}
    assert handled.reconcile_request_id in ids
    assert all(rid.startswith("gitops-") for rid in ids)
    assert len(ids) == len({op.reconcile_request_id for op in status.operations})


def test_a_second_reconcile_changes_only_what_git_changed(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    gitops.applications.wait_for("platform")
    unchanged = gitops.applications.wait_for("platform")
    assert {r.action for r in unchanged.status.resources} == {"unchanged"}

    bigger = BUDGET.replace("5000000", "7000000")
    sha = repo.commit({"orgs/acme.yaml": ORG + "---\n" + bigger})
    app = gitops.applications.wait_for("platform", revision=sha)
    actions = {(r.kind, r.action) for r in app.status.resources}
    assert actions == {("Org", "unchanged"), ("Budget", "updated"), ("Route", "unchanged")}
    budget = next(r for r in app.status.resources if r.kind == "Budget")
    assert [(d.field, d.live, d.desired) for d in budget.diff] == [
        ("spec.limit_micro_usd", 5_000_000, 7_000_000)
    ]
    assert len(live.orgs) == 1  # the org came from the inventory, never created twice


def test_an_invalid_set_applies_nothing_and_says_where(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    broken = ROUTE.replace("org: acme", "org: nowhere")
    sha = repo.commit({"orgs/acme.yaml": ORG + "---\n" + BUDGET, "orgs/routes.yml": broken})
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("platform", revision=sha)
    status = failed.value.status
    assert status is not None
    assert (status.sync, status.health, status.revision) == ("Unknown", "Degraded", sha)
    [condition] = status.conditions
    assert condition.reason == "InvalidManifest"
    assert (condition.file, condition.document, condition.field) == (
        "orgs/routes.yml",
        0,
        "spec.org",
    )
    assert "nowhere" in condition.message
    assert "nowhere" in str(failed.value)
    assert (live.orgs, live.budgets, live.routes) == ({}, {}, {})
    assert status.last_applied_revision is None


def test_an_unreachable_repository_is_degraded_with_the_reason(
    gitops: Client, tmp_path: Any, live: FakeLive
) -> None:
    gitops.applications.create("platform", repo_url=str(tmp_path / "no-such-repo"))
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("platform")
    status = failed.value.status
    assert status is not None
    assert (status.sync, status.health) == ("Unknown", "Degraded")
    assert status.conditions[0].reason == "FetchFailed"
    assert status.operations[0].phase == "Failed"
    assert live.calls == []


def test_a_failed_apply_fails_its_resource_and_those_that_need_it(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    live.users.clear()  # the owner named in Git has no account
    repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("platform")
    status = failed.value.status
    assert status is not None
    assert (status.sync, status.health) == ("OutOfSync", "Degraded")
    assert [(r.kind, r.action) for r in status.resources] == [
        ("Org", "failed"),
        ("Budget", "failed"),
        ("Route", "failed"),
    ]
    assert "owner_not_found" in status.resources[0].message
    assert "was not applied" in status.resources[1].message


def test_without_automated_sync_the_diff_is_reported_not_applied(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    repo.commit(MANIFESTS)
    gitops.applications.create(
        "platform", repo_url=repo.url, path="orgs", sync_policy={"automated": False}
    )
    app = gitops.applications.wait_for("platform", sync="OutOfSync", refresh=False)
    assert [(r.kind, r.action) for r in app.status.resources] == [
        ("Org", "would_create"),
        ("Budget", "would_create"),
        ("Route", "would_create"),
    ]
    assert live.orgs == {}


def test_wait_for_a_missing_application_is_not_found(gitops: Client) -> None:
    with pytest.raises(NotFound):
        gitops.applications.wait_for("nothing-here")


def test_drift_is_reported_and_reverted_only_with_self_heal(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    gitops.applications.wait_for("platform")
    [org_id] = live.orgs
    live.budgets[org_id] = {"limit_micro_usd": 1, "period": "monthly"}  # a change outside Git

    app = gitops.applications.wait_for("platform", sync="OutOfSync", health="Healthy")
    budget = next(r for r in app.status.resources if r.kind == "Budget")
    assert (budget.status, budget.action, budget.message) == ("OutOfSync", "would_update", "drift")
    assert [(d.field, d.live, d.desired) for d in budget.diff] == [
        ("spec.limit_micro_usd", 1, 5_000_000)
    ]
    assert live.budgets[org_id]["limit_micro_usd"] == 1  # reported, not reverted

    gitops.applications.update("platform", sync_policy={"automated": True, "self_heal": True})
    # The change's own reconcile (a refresh after it would find nothing left to correct).
    app = gitops.applications.wait_for("platform", refresh=False)
    budget = next(r for r in app.status.resources if r.kind == "Budget")
    assert (budget.action, budget.message) == ("updated", "drift corrected")
    assert live.budgets[org_id]["limit_micro_usd"] == 5_000_000


def test_application_changes_are_audited_on_the_platform_chain(
    app: FastAPI, http: TestClient, repo: ConfigRepo
) -> None:
    url = "https://bot:s3cr3t@git.example.test/config.git"
    body = {"name": "platform", "repo_url": url}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Request-ID": "req-audit-1"}
    assert http.post("/v1/applications", json=body, headers=admin).status_code == 201
    change = {"poll_interval_seconds": 9}
    assert http.patch("/v1/applications/platform", json=change, headers=SERVICE).status_code == 200
    assert http.delete("/v1/applications/platform", headers=SERVICE).status_code == 204
    with app.state.db.session() as s:
        payloads = [row.payload for row in s.execute(select(store.outbox.table)).all()]
    # The reconcile loop may have audited its failed fetch meanwhile (`gitops.sync_failed`):
    # this test is about the Application changes, and the secret is in no event at all.
    assert "s3cr3t" not in str(payloads)
    events = sorted(
        (e for e in payloads if e["action"].startswith("application.")), key=lambda e: e["time"]
    )
    assert [(e["action"], e["actor"]["type"], e["actor"]["id"]) for e in events] == [
        ("application.create", "user", ADMIN_ID),
        ("application.update", "service", "service"),
        ("application.delete", "service", "service"),
    ]
    assert {e["org_id"] for e in events} == {None}
    assert events[0]["request_id"] == "req-audit-1"
    assert events[1]["details"] == {"poll_interval_seconds": 9}
    assert "s3cr3t" not in str(events)


def test_an_unexpected_failure_is_reported_not_waited_out(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    repo.commit(MANIFESTS)
    live.users = None  # type: ignore[assignment]  # create_org now fails with a TypeError: a bug
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("platform", timeout=30)
    status = failed.value.status
    assert status is not None
    assert status.health == "Degraded"
    assert status.conditions[0].reason == "ReconcileError"
    assert "TypeError" in status.conditions[0].message
