"""Consumer contract: what `gatewright.gitops.Client` needs from the gitops service.

Every interaction is registered by a small builder right above the test that exercises it with the
real sync `Client`; the module fixture (`testkit.pactconsumer`) serves them once, fails at
teardown if any was never requested, then writes `<pact dir>/gitops-client-gitops.json` exactly
once. Examples are fixed values (`pact_examples`), so the file is deterministic. Requests carry
the service token under a regex matcher; the provider test is configured with that token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from gatewright.core import AuthenticationError, NotFound, RetryPolicy
from gatewright.gitops import (
    CONSUMER,
    PROVIDER,
    STATE_APPLICATION_EXISTS,
    STATE_PREVIEW_BRANCH,
    STATE_SERVICE_TOKEN,
    STATE_WEBHOOK_SECRET,
    Client,
    github_push_payload,
    sign_github,
)
from gatewright.testkit.pactconsumer import Interactions, bearer, error_body, timestamp

from pact_examples import (  # isort: skip
    APP_NAME,
    BRANCH,
    MISSING_APP,
    MISSING_BRANCH,
    ORG_ID,
    ORG_NAME,
    OWNER,
    PATH,
    PR_BRANCH,
    REFRESH_TOKEN,
    REPO_URL,
    REVISION,
    SERVICE_TOKEN,
    WEBHOOK_SECRET,
)

JSON = "application/json"
interaction = Interactions(CONSUMER, PROVIDER)
SERVICE = {"service_token": SERVICE_TOKEN}
EXISTING = {
    **SERVICE,
    "name": APP_NAME,
    "repo_url": REPO_URL,
    "branch": BRANCH,
    "path": PATH,
    "revision": REVISION,
    "refresh_token": REFRESH_TOKEN,
    "org_name": ORG_NAME,
    "org_id": ORG_ID,
}

PREVIEWABLE = {
    **SERVICE,
    "name": APP_NAME,
    "path": PATH,
    "branch": PR_BRANCH,
    "org_name": ORG_NAME,
    "owner": OWNER,
}


def application(status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": match.regex("app_0123456789abcdef", regex=r"^app_[0-9a-f]{16}$"),
        "name": APP_NAME,
        "repo_url": REPO_URL,
        "branch": BRANCH,
        "path": PATH,
        "sync_policy": {"automated": True, "self_heal": False, "prune": False},
        "poll_interval_seconds": 60,
        "created_at": timestamp(),
        "updated_at": timestamp(),
        "status": status,
    }


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


@pytest.fixture
def service(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, token=SERVICE_TOKEN, retry=RetryPolicy(max_retries=0)) as client:
        yield client


@interaction
def _create(pact: Pact) -> None:
    (
        pact.upon_receiving("an operator creating an Application")
        .given(STATE_SERVICE_TOKEN, **SERVICE)
        .with_request("POST", "/v1/applications")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"name": APP_NAME, "repo_url": REPO_URL, "branch": BRANCH, "path": PATH}, JSON)
        .will_respond_with(201)
        .with_body(application({"sync": "Unknown", "health": "Progressing"}), JSON)
    )


def test_create(service: Client) -> None:
    app = service.applications.create(APP_NAME, repo_url=REPO_URL, branch=BRANCH, path=PATH)
    assert (app.name, app.status.sync, app.status.health) == (APP_NAME, "Unknown", "Progressing")
    assert app.sync_policy.automated


@interaction
def _get(pact: Pact) -> None:
    status = {
        "sync": "Synced",
        "health": "Healthy",
        "revision": REVISION,
        "last_applied_revision": REVISION,
        "last_handled_refresh": REFRESH_TOKEN,
        "reconciled_at": timestamp(),
        "resources": [
            {
                "kind": "Org",
                "name": ORG_NAME,
                "status": "Synced",
                "action": "created",
                "live_id": ORG_ID,
            }
        ],
        "inventory": [{"kind": "Org", "name": ORG_NAME, "live_id": ORG_ID}],
    }
    (
        pact.upon_receiving("a request for a reconciled Application")
        .given(STATE_APPLICATION_EXISTS, **EXISTING)
        .with_request("GET", f"/v1/applications/{APP_NAME}")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body(application(status), JSON)
    )


def test_get(service: Client) -> None:
    app = service.applications.get(APP_NAME)
    status = app.status
    assert (status.sync, status.health, status.revision) == ("Synced", "Healthy", REVISION)
    assert status.last_handled_refresh == REFRESH_TOKEN
    assert [(e.kind, e.name, e.live_id) for e in status.inventory] == [("Org", ORG_NAME, ORG_ID)]


@interaction
def _refresh(pact: Pact) -> None:
    (
        pact.upon_receiving("a refresh of an Application")
        .given(STATE_APPLICATION_EXISTS, **EXISTING)
        .with_request("POST", f"/v1/applications/{APP_NAME}/refresh")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(202)
        .with_body(
            {
                "application": APP_NAME,
                "token": match.regex(
                    "rfr_0000000002_0a0b0c0d", regex=r"^rfr_[0-9]{10}_[0-9a-f]{8}$"
                ),
            },
            JSON,
        )
    )


def test_refresh(service: Client) -> None:
    accepted = service.applications.refresh(APP_NAME)
    assert accepted.application == APP_NAME
    assert accepted.token > REFRESH_TOKEN  # tokens sort in the order they were issued


@interaction
def _get_missing(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for an Application that does not exist")
        .given(STATE_SERVICE_TOKEN, **SERVICE)
        .with_request("GET", f"/v1/applications/{MISSING_APP}")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(404)
        .with_body(error_body(match.str("not_found_error"), "application_not_found"), JSON)
    )


def test_get_missing(service: Client) -> None:
    with pytest.raises(NotFound) as missing:
        service.applications.get(MISSING_APP)
    assert missing.value.code == "application_not_found"


@interaction
def _preview(pact: Pact) -> None:
    (
        pact.upon_receiving("a preview of a pull-request branch")
        .given(STATE_PREVIEW_BRANCH, **PREVIEWABLE)
        .with_request("POST", f"/v1/applications/{APP_NAME}/diff")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"revision": PR_BRANCH}, JSON)
        .will_respond_with(200)
        .with_body(
            {
                "application": APP_NAME,
                "requested": PR_BRANCH,
                "revision": match.regex(REVISION, regex=r"^[0-9a-f]{40}$"),
                "sync": "OutOfSync",
                "resources": [
                    {
                        "kind": "Org",
                        "name": ORG_NAME,
                        "status": "OutOfSync",
                        "action": "would_create",
                        "diff": [
                            {"field": "spec.name", "live": None, "desired": ORG_NAME},
                            {"field": "spec.owner", "live": None, "desired": OWNER},
                        ],
                    }
                ],
                "problems": [],
            },
            JSON,
        )
    )


# -- webhooks --------------------------------------------------------------------------------
PUSH = github_push_payload(REPO_URL, branch=BRANCH, sha=REVISION)
# The client's own encoding of PUSH (compact, sorted keys), which the provider is replayed.
PUSH_BYTES = json.dumps(PUSH, sort_keys=True, separators=(",", ":")).encode()
HOOK = {"webhook_secret": WEBHOOK_SECRET}


@pytest.fixture
def host(mock_url: str) -> Iterator[Client]:
    """A git host: no Gatewright token, only the webhook secret it signs with."""
    with Client(mock_url, retry=RetryPolicy(max_retries=0)) as client:
        yield client


@interaction
def _github_push(pact: Pact) -> None:
    (
        pact.upon_receiving("a signed GitHub push to a branch an Application follows")
        .given(STATE_APPLICATION_EXISTS, **EXISTING)
        .given(STATE_WEBHOOK_SECRET, **HOOK)
        .with_request("POST", "/v1/hooks/git")
        .with_header("X-GitHub-Event", "push")
        .with_header("X-Hub-Signature-256", sign_github(WEBHOOK_SECRET, PUSH_BYTES))
        .with_body(PUSH, JSON)
        .will_respond_with(202)
        .with_body(
            {
                "host": "github",
                "event": "push",
                "action": "refreshed",
                "reason": match.str(f"a push to branch 'main': refreshing {APP_NAME}"),
                "ref": f"refs/heads/{BRANCH}",
                "revision": REVISION,
                "refreshed": [
                    {
                        "application": APP_NAME,
                        "token": match.regex(
                            "rfr_0000000002_0a0b0c0d", regex=r"^rfr_[0-9]{10}_[0-9a-f]{8}$"
                        ),
                    }
                ],
            },
            JSON,
        )
    )


def test_preview(service: Client) -> None:
    preview = service.applications.diff(APP_NAME, PR_BRANCH)
    assert (preview.requested, preview.sync, preview.problems) == (PR_BRANCH, "OutOfSync", [])
    [org] = preview.resources
    assert (org.kind, org.name, org.action) == ("Org", ORG_NAME, "would_create")
    assert [(d.field, d.desired) for d in org.diff] == [
        ("spec.name", ORG_NAME),
        ("spec.owner", OWNER),
    ]


@interaction
def _preview_missing_branch(pact: Pact) -> None:
    (
        pact.upon_receiving("a preview of a branch the repository does not have")
        .given(STATE_PREVIEW_BRANCH, **PREVIEWABLE)
        .with_request("POST", f"/v1/applications/{APP_NAME}/diff")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"revision": MISSING_BRANCH}, JSON)
        .will_respond_with(404)
        .with_body(error_body(match.str("not_found_error"), "revision_not_found"), JSON)
    )


def test_preview_missing_branch(service: Client) -> None:
    with pytest.raises(NotFound) as missing:
        service.applications.diff(APP_NAME, MISSING_BRANCH)
    assert missing.value.code == "revision_not_found"


def test_github_push(host: Client) -> None:
    result = host.hooks.github(PUSH, secret=WEBHOOK_SECRET)
    assert (result.action, [r.application for r in result.refreshed]) == ("refreshed", [APP_NAME])
    assert result.refreshed[0].token > REFRESH_TOKEN


@interaction
def _github_bad_signature(pact: Pact) -> None:
    (
        pact.upon_receiving("a GitHub push signed with another secret")
        .given(STATE_APPLICATION_EXISTS, **EXISTING)
        .given(STATE_WEBHOOK_SECRET, **HOOK)
        .with_request("POST", "/v1/hooks/git")
        .with_header("X-GitHub-Event", "push")
        .with_header("X-Hub-Signature-256", sign_github("not-the-secret", PUSH_BYTES))
        .with_body(PUSH, JSON)
        .will_respond_with(401)
        .with_body(
            error_body(match.str("authentication_error"), "invalid_signature", {"host": "github"}),
            JSON,
        )
    )


def test_github_bad_signature(host: Client) -> None:
    with pytest.raises(AuthenticationError) as refused:
        host.hooks.github(PUSH, secret="not-the-secret")
    assert refused.value.code == "invalid_signature"
