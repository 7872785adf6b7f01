"""The gitops client: every resource call on both clients (respx), `wait_for`'s three outcomes,
the public API, and that importing it loads no service code."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

import gatewright.gitops as gitops
from gatewright.core import RetryPolicy
from gatewright.core.testing import Runner, modules_loaded_by, public_methods, runner
from gatewright.gitops import AsyncClient, Client, SyncFailed, SyncTimeout

BASE = "http://gitops.test"
T0 = "2026-01-02T00:00:00Z"
SHA = "a" * 40


def app_body(**status: Any) -> dict[str, Any]:
    return {
        "id": "app_1",
        "name": "platform",
        "repo_url": "/srv/config.git",
        "branch": "main",
        "path": ".",
        "sync_policy": {"automated": True, "self_heal": False, "prune": False},
        "poll_interval_seconds": 60,
        "created_at": T0,
        "updated_at": T0,
        "status": status,
        "added_by_a_newer_provider": True,
    }


SYNCED = app_body(
    sync="Synced", health="Healthy", revision=SHA, last_handled_refresh="rfr_0000000002_aa"
)
PENDING = app_body(sync="Unknown", health="Progressing", last_handled_refresh="rfr_0000000001_aa")
DEGRADED = app_body(
    sync="Unknown",
    health="Degraded",
    revision=SHA,
    last_handled_refresh="rfr_0000000002_aa",
    conditions=[{"type": "InvalidManifest", "reason": "InvalidManifest", "message": "bad org"}],
)


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    return runner(request.param, Client, AsyncClient, base_url=BASE, token="svc")


def refresh_route(mock: respx.MockRouter) -> None:
    mock.post("/v1/applications/platform/refresh").respond(
        202, json={"application": "platform", "token": "rfr_0000000002_aa"}
    )


async def test_resource_calls_send_what_the_service_expects(run: Runner) -> None:
    with respx.mock(base_url=BASE) as mock:
        created = mock.post("/v1/applications").respond(201, json=app_body())
        mock.get("/v1/applications").respond(200, json={"data": [app_body()]})
        patched = mock.patch("/v1/applications/platform").respond(200, json=app_body())
        mock.delete("/v1/applications/platform").respond(204)
        app = await run(lambda c: c.applications.create("platform", repo_url="/srv/config.git"))
        assert app.status.health == "Progressing"  # an empty status has the defaults
        listed = await run(lambda c: c.applications.list())
        assert [a.name for a in listed.data] == ["platform"]
        await run(lambda c: c.applications.update("platform", poll_interval_seconds=5))
        assert await run(lambda c: c.applications.delete("platform")) is None
    assert json.loads(created.calls[0].request.content) == {
        "name": "platform",
        "repo_url": "/srv/config.git",
    }
    assert json.loads(patched.calls[0].request.content) == {"poll_interval_seconds": 5}
    assert created.calls[0].request.headers["Authorization"] == "Bearer svc"


HOOK_RESULT = {
    "host": "github",
    "event": "push",
    "action": "refreshed",
    "reason": "a push to branch 'main': refreshing platform",
    "ref": "refs/heads/main",
    "revision": SHA,
    "refreshed": [{"application": "platform", "token": "rfr_0000000003_aa"}],
}


async def test_hooks_send_what_the_hosts_send_signed_over_the_exact_bytes(run: Runner) -> None:
    payload = gitops.github_push_payload(
        "https://github.com/acme/config.git", branch="main", sha=SHA
    )
    with respx.mock(base_url=BASE) as mock:
        hook = mock.post("/v1/hooks/git").respond(202, json=HOOK_RESULT)
        result = await run(lambda c: c.hooks.github(payload, secret="s3cret", delivery="d-1"))
        await run(lambda c: c.hooks.gitlab(payload, token="t0ken"))
    assert [r.application for r in result.refreshed] == ["platform"]
    github, gitlab = (call.request for call in hook.calls)
    assert github.headers["X-GitHub-Event"] == "push"
    assert github.headers["X-GitHub-Delivery"] == "d-1"
    assert json.loads(github.content) == payload
    signature = github.headers["X-Hub-Signature-256"]
    assert gitops.verify_github_signature("s3cret", github.content, signature)
    assert (gitlab.headers["X-Gitlab-Event"], gitlab.headers["X-Gitlab-Token"]) == (
        "Push Hook",
        "t0ken",
    )
    assert "X-Hub-Signature-256" not in gitlab.headers


async def test_wait_for_polls_until_the_refresh_is_handled(run: Runner) -> None:
    with respx.mock(base_url=BASE) as mock:
        refresh_route(mock)
        mock.get("/v1/applications/platform").mock(
            side_effect=[httpx.Response(200, json=PENDING), httpx.Response(200, json=SYNCED)]
        )
        app = await run(lambda c: c.applications.wait_for("platform", revision=SHA, timeout=10))
    assert app.status.revision == SHA


async def test_wait_for_fails_at_once_when_the_handled_reconcile_is_degraded(run: Runner) -> None:
    with respx.mock(base_url=BASE) as mock:
        refresh_route(mock)
        get = mock.get("/v1/applications/platform").respond(200, json=DEGRADED)
        with pytest.raises(SyncFailed) as failed:
            await run(lambda c: c.applications.wait_for("platform", timeout=30))
    assert get.call_count == 1
    assert "bad org" in str(failed.value)
    assert failed.value.status is not None
    assert failed.value.status.health == "Degraded"


async def test_wait_for_times_out_with_what_it_last_saw(run: Runner) -> None:
    with respx.mock(base_url=BASE) as mock:
        refresh_route(mock)
        mock.get("/v1/applications/platform").respond(200, json=PENDING)
        with pytest.raises(SyncTimeout) as timed_out:
            await run(lambda c: c.applications.wait_for("platform", timeout=0.05))
    assert "not handled yet" in str(timed_out.value)
    assert isinstance(timed_out.value, TimeoutError)


async def test_preview_sends_the_revision_and_reads_the_diff(run: Runner) -> None:
    answer = {
        "application": "platform",
        "requested": "pr-7",
        "revision": SHA,
        "sync": "OutOfSync",
        "resources": [
            {
                "kind": "Budget",
                "name": "acme",
                "status": "OutOfSync",
                "action": "would_update",
                "diff": [{"field": "spec.limit_micro_usd", "live": 1, "desired": 2}],
            }
        ],
        "problems": [],
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v1/applications/platform/diff").respond(200, json=answer)
        preview = await run(lambda c: c.applications.diff("platform", "pr-7"))
    assert json.loads(route.calls[0].request.content) == {"revision": "pr-7"}
    assert (preview.revision, preview.sync) == (SHA, "OutOfSync")
    [budget] = preview.resources
    assert (budget.action, budget.diff[0].desired) == ("would_update", 2)


def test_the_public_api_is_pinned() -> None:
    assert sorted(gitops.__all__) == sorted(
        [
            "CONSUMER",
            "DEFAULT_WAIT_TIMEOUT",
            "HEALTH_STATUSES",
            "KINDS",
            "PROVIDER",
            "STATE_APPLICATION_EXISTS",
            "STATE_PREVIEW_BRANCH",
            "STATE_SERVICE_TOKEN",
            "STATE_WEBHOOK_SECRET",
            "SYNC_STATUSES",
            "Application",
            "ApplicationList",
            "ApplicationStatus",
            "Applications",
            "AsyncApplications",
            "AsyncClient",
            "AsyncHooks",
            "Client",
            "Condition",
            "FetchFailure",
            "FieldDiff",
            "HealthStatus",
            "HookResult",
            "Hooks",
            "InventoryEntry",
            "Kind",
            "Operation",
            "Preview",
            "RefreshAccepted",
            "ResourceStatus",
            "SyncFailed",
            "SyncPolicy",
            "SyncStatus",
            "SyncTimeout",
            "WaitError",
            "github_push_payload",
            "gitlab_push_payload",
            "sign_github",
            "verify_github_signature",
        ]
    )
    for name in gitops.__all__:
        assert hasattr(gitops, name), name


def test_sync_and_async_resources_have_the_same_methods() -> None:
    sync, async_ = Client(BASE), AsyncClient(BASE, retry=RetryPolicy(max_retries=0))
    assert public_methods(sync.applications) == public_methods(async_.applications)
    assert public_methods(sync.hooks) == public_methods(async_.hooks)
    sync.close()


def test_the_client_loads_no_service_code() -> None:
    loaded = modules_loaded_by(
        "gatewright.gitops",
        (
            "fastapi",
            "gatewright.servicekit",
            "gatewright.gitops.service",
            "git",
            "yaml",
            "sqlalchemy",
        ),
    )
    assert loaded == []
