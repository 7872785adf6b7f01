"""`POST /v1/hooks/git`: GitHub and GitLab deliveries, genuine or not, and what they refresh.

The signature rule is checked against octokit/webhooks-methods' own test vectors (a body with
escapes and non-ASCII text, GitHub's trailing newline); the route end to end through the app
with its scheduler, so a matched push is waited on through its refresh token.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gitops_fixtures import (
    BUDGET,
    ORG,
    ROUTE,
    SERVICE,
    WEBHOOK_SECRET,
    ConfigRepo,
)
from gitops_fixtures import TestClientTransport as InAppTransport
from pydantic import SecretStr
from sqlalchemy import select

from gatewright.core import RetryPolicy
from gatewright.gitops import (
    Client,
    github_push_payload,
    gitlab_push_payload,
    sign_github,
    verify_github_signature,
)
from gatewright.gitops.service import GitopsSettings, create_app, store
from gatewright.gitops.service.webhooks import normalize_repo_url

JSON = {"Content-Type": "application/json"}
MANIFESTS = {"orgs/acme.yaml": ORG + "---\n" + BUDGET, "orgs/routes.yml": ROUTE}


def envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def github(
    http: TestClient,
    payload: Any,
    *,
    event: str = "push",
    secret: str = WEBHOOK_SECRET,
    body: bytes | None = None,
    **headers: str,
) -> Any:
    raw = body if body is not None else json.dumps(payload, indent=2).encode() + b"\n"
    sent = {**JSON, "X-GitHub-Event": event, "X-Hub-Signature-256": sign_github(secret, raw)}
    sent.update(headers)
    return http.post("/v1/hooks/git", content=raw, headers=sent)


def gitlab(http: TestClient, payload: Any, *, event: str = "Push Hook", **headers: str) -> Any:
    sent = {**JSON, "X-Gitlab-Event": event, "X-Gitlab-Token": WEBHOOK_SECRET, **headers}
    return http.post("/v1/hooks/git", content=json.dumps(payload).encode(), headers=sent)


def audit_events(app: FastAPI) -> list[dict[str, Any]]:
    with app.state.db.session() as s:
        rows = s.execute(select(store.outbox.table.c.payload)).all()
    return [r.payload for r in rows]


def refresh_seq(app: FastAPI, name: str) -> int:
    with app.state.db.session() as s:
        row = s.execute(
            select(store.applications.c.refresh_seq).where(store.applications.c.name == name)
        ).one()
    return int(row.refresh_seq)


@pytest.fixture
def followed(gitops: Client, repo: ConfigRepo) -> str:
    """An Application following `repo` at main, its first reconcile done; the head SHA."""
    sha = repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    gitops.applications.wait_for("platform", revision=sha, refresh=False)
    return sha


# -- the signature rule ----------------------------------------------------------------------
def _github_body(payload: dict[str, Any]) -> bytes:
    # GitHub's own encoding: 2-space indent, a newline at the end, \\u escapes in upper case.
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    upper = re.sub(r"[^\\]\\u[\da-f]{4}", lambda m: m[0][:3] + m[0][3:].upper(), text)
    return upper.encode()


@pytest.mark.parametrize(
    ("secret", "payload", "signature"),
    [
        (
            "mysecret",
            {"foo": "bar"},
            "sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
        ),
        (
            "development",
            {"foo": "Foo\n\u001b[34mbar: ♥♥♥♥♥♥♥♥\nthis-is-lost\u001b[0m\u001b[2K"},
            "sha256=9dacf9003316b09be07df56d86a2d0d6872e42a1e6c72c3bad9ff915a7c5603e",
        ),
        (
            "development",
            {"foo": "\\u001b"},
            "sha256=87316067e2011fae39998b18c46a14d83b3e7c3ffdd88fb2ee5afb7d11288e60",
        ),
    ],
)
def test_octokit_vectors_verify(secret: str, payload: dict[str, Any], signature: str) -> None:
    body = _github_body(payload)
    assert sign_github(secret, body) == signature
    assert verify_github_signature(secret, body, signature)
    assert verify_github_signature(secret, body, "sha256=" + signature[7:].upper())  # hex case
    assert not verify_github_signature("foo", body, signature)  # another secret
    assert not verify_github_signature(secret, body.rstrip(b"\n"), signature)  # not re-normalized
    assert not verify_github_signature(secret, body + b" ", signature)


@pytest.mark.parametrize(
    "signature",
    [
        "foo",
        "sha256=xxxccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
        "sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023",  # 63 digits
        "sha256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f0",
        "sha1=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
        "SHA256=e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
        "sha256= e3eccac34c43c7dc1cbb905488b1b81347fcc700a7b025697a9d07862256023f",
        "",
    ],
)
def test_a_signature_not_of_octokits_shape_is_refused(signature: str) -> None:
    assert not verify_github_signature("mysecret", _github_body({"foo": "bar"}), signature)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://github.com/acme/config.git", "github.com/acme/config"),
        ("https://GitHub.com/acme/config/", "github.com/acme/config"),
        ("git@github.com:acme/config.git", "github.com/acme/config"),
        ("ssh://git@github.com/acme/config.git", "github.com/acme/config"),
        ("git://github.com/acme/config.git", "github.com/acme/config"),
        (
            "https://user:secret@gitlab.example:8443/group/sub/config.git",
            "gitlab.example/group/sub/config",
        ),
        ("/srv/config.git", "/srv/config"),
        ("file:///srv/config/", "/srv/config"),
        ("https://github.com/Acme/Config", "github.com/Acme/Config"),  # path case is kept
    ],
)
def test_repository_urls_are_compared_normalized(url: str, key: str) -> None:
    assert normalize_repo_url(url) == key


# -- GitHub ----------------------------------------------------------------------------------
def test_a_signed_github_push_refreshes_the_application_that_follows_it(
    app: FastAPI, http: TestClient, gitops: Client, repo: ConfigRepo, followed: str
) -> None:
    bigger = MANIFESTS["orgs/acme.yaml"].replace("5000000", "7000000")
    sha = repo.commit({"orgs/acme.yaml": bigger})
    payload = github_push_payload("file://" + repo.url + ".git", branch="main", sha=sha)
    answer = github(http, payload, **{"X-GitHub-Delivery": "d-1"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["host"], body["event"], body["action"]) == ("github", "push", "refreshed")
    assert (body["ref"], body["revision"]) == ("refs/heads/main", sha)
    [accepted] = body["refreshed"]
    assert accepted["application"] == "platform"
    # The echoed token is the one a reconcile marks handled: callers wait on it, not on time.
    app_now = gitops.applications.wait_for("platform", revision=sha, token=accepted["token"])
    assert app_now.status.last_handled_refresh is not None
    assert app_now.status.last_handled_refresh >= accepted["token"]
    assert app_now.status.resources[1].action == "updated"  # the pushed budget was applied
    assert app_now.status.operations[0].trigger == "webhook"
    assert [e for e in audit_events(app) if e["action"] == "gitops.webhook_rejected"] == []


def test_the_clients_hooks_sign_what_they_send(http: TestClient, followed: str) -> None:
    with Client(
        "http://testserver", transport=InAppTransport(http), retry=RetryPolicy(max_retries=0)
    ) as client:
        result = client.hooks.github(
            github_push_payload("/nowhere", branch="main", sha="a" * 40), secret=WEBHOOK_SECRET
        )
    assert (result.action, result.refreshed) == ("ignored", [])


def test_ping_is_answered_and_refreshes_nothing(
    app: FastAPI, http: TestClient, followed: str
) -> None:
    before = refresh_seq(app, "platform")
    answer = github(http, {"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["action"], answer.json()["refreshed"]) == ("pong", [])
    assert refresh_seq(app, "platform") == before


def _signed_elsewhere(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_github("another-secret", raw)}


def _tampered(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_github(WEBHOOK_SECRET, raw + b" ")}


def _malformed(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_github(WEBHOOK_SECRET, raw)[:-2]}


def _unsigned(raw: bytes) -> dict[str, str]:
    return {}


def _sha1_only(raw: bytes) -> dict[str, str]:
    return {"X-Hub-Signature": "sha1=" + hashlib.sha1(raw).hexdigest()}  # noqa: S324 - a test


@pytest.mark.parametrize(
    ("signed", "code"),
    [
        (_signed_elsewhere, "signature_mismatch"),
        (_tampered, "signature_mismatch"),
        (_malformed, "signature_malformed"),
        (_unsigned, "signature_missing"),
        (_sha1_only, "signature_sha1_only"),
    ],
)
def test_a_bad_github_signature_is_401_audited_once_and_changes_nothing(
    app: FastAPI,
    http: TestClient,
    repo: ConfigRepo,
    followed: str,
    signed: Callable[[bytes], dict[str, str]],
    code: str,
) -> None:
    before = refresh_seq(app, "platform")
    raw = json.dumps(github_push_payload(repo.url, branch="main", sha=followed)).encode()
    sent = {**JSON, "X-GitHub-Event": "push", "X-GitHub-Delivery": "delivery-7", **signed(raw)}
    error = envelope(http.post("/v1/hooks/git", content=raw, headers=sent), 401)
    assert error["code"] == "invalid_signature"
    assert "X-Hub-Signature" in error["message"]
    assert refresh_seq(app, "platform") == before
    [event] = [e for e in audit_events(app) if e["action"] == "gitops.webhook_rejected"]
    assert (event["outcome"], event["org_id"], event["actor"]["type"]) == (
        "denied",
        None,
        "anonymous",
    )
    assert event["details"] == {
        "host": "github",
        "event": "push",
        "reason": code,
        "delivery": "delivery-7",
    }
    text = json.dumps(event)
    assert WEBHOOK_SECRET not in text
    assert all(value not in text for value in signed(raw).values())


def test_other_events_and_tag_pushes_are_ignored_with_a_reason(
    app: FastAPI, http: TestClient, repo: ConfigRepo, followed: str
) -> None:
    before = refresh_seq(app, "platform")
    tag = {**github_push_payload(repo.url, branch="main", sha=followed), "ref": "refs/tags/v1"}
    answer = github(http, tag)
    assert answer.status_code == 202, answer.text
    assert answer.json()["action"] == "ignored"
    assert "tag" in answer.json()["reason"]
    other = github(http, {"action": "opened"}, event="pull_request")
    assert other.status_code == 202
    assert "pull_request" in other.json()["reason"]
    assert refresh_seq(app, "platform") == before


def test_a_push_no_application_follows_is_a_no_op(
    app: FastAPI, http: TestClient, repo: ConfigRepo, followed: str
) -> None:
    before = refresh_seq(app, "platform")
    elsewhere = github(
        http, github_push_payload("https://example.test/x.git", branch="main", sha="b" * 40)
    )
    other_branch = github(http, github_push_payload(repo.url, branch="dev", sha="c" * 40))
    for answer in (elsewhere, other_branch):
        assert answer.status_code == 202, answer.text
        assert (answer.json()["action"], answer.json()["refreshed"]) == ("ignored", [])
        assert "no Application follows" in answer.json()["reason"]
    assert refresh_seq(app, "platform") == before


# -- GitLab ----------------------------------------------------------------------------------
def test_a_gitlab_push_with_the_token_refreshes_and_a_wrong_token_is_401(
    app: FastAPI, http: TestClient, gitops: Client, repo: ConfigRepo, followed: str
) -> None:
    payload = gitlab_push_payload(repo.url, branch="main", sha=followed)
    wrong = gitlab(http, payload, **{"X-Gitlab-Token": "not-it"})
    assert envelope(wrong, 401)["code"] == "invalid_signature"
    missing = http.post(
        "/v1/hooks/git",
        content=json.dumps(payload).encode(),
        headers={**JSON, "X-Gitlab-Event": "Push Hook"},
    )
    assert envelope(missing, 401)["code"] == "invalid_signature"
    rejected = [e for e in audit_events(app) if e["action"] == "gitops.webhook_rejected"]
    assert [e["details"]["reason"] for e in rejected] == ["token_mismatch", "token_missing"]
    assert "not-it" not in json.dumps(rejected)

    answer = gitlab(http, payload)
    assert answer.status_code == 202, answer.text
    [accepted] = answer.json()["refreshed"]
    assert accepted["application"] == "platform"
    handled = gitops.applications.wait_for("platform", revision=followed, token=accepted["token"])
    assert handled.status.last_handled_refresh is not None
    assert handled.status.last_handled_refresh >= accepted["token"]

    tag = gitlab(http, {**payload, "ref": "refs/tags/v1"}, event="Tag Push Hook")
    assert (tag.status_code, tag.json()["action"]) == (202, "ignored")


# -- hostile or broken deliveries ------------------------------------------------------------
def test_malformed_deliveries_get_clear_4xx_and_change_nothing(
    app: FastAPI, http: TestClient, followed: str
) -> None:
    before = refresh_seq(app, "platform")
    no_json = github(http, None, body=b"{not json")
    assert envelope(no_json, 400)["code"] == "invalid_json"
    no_ref = github(http, {"repository": {"clone_url": "https://example.test/x"}})
    problem = envelope(no_ref, 422)
    assert problem["code"] == "validation_failed"
    assert "ref" in problem["message"]
    no_repo = github(http, {"ref": "refs/heads/main", "repository": {}})
    assert "repository URL" in envelope(no_repo, 422)["message"]
    not_an_object = github(http, ["refs/heads/main"])
    assert envelope(not_an_object, 422)["code"] == "validation_failed"
    form = http.post(
        "/v1/hooks/git",
        content=b"payload=%7B%7D",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push"},
    )
    assert envelope(form, 415)["code"] == "unsupported_media_type"
    anonymous = http.post("/v1/hooks/git", json={"ref": "refs/heads/main"})
    assert envelope(anonymous, 400)["code"] == "unknown_webhook"
    assert refresh_seq(app, "platform") == before
    assert [e for e in audit_events(app) if e["action"] == "gitops.webhook_rejected"] == []


@pytest.mark.parametrize("url", ["http://[::1/x", "ssh://git@[/x.git", "https://]/x"])
def test_a_push_naming_a_url_no_parser_takes_is_ignored_not_a_500(
    app: FastAPI, http: TestClient, followed: str, url: str
) -> None:
    # urlsplit raises on an IPv6 host whose bracket never closes; the push names no repository
    # any Application follows, so nothing is refreshed.
    before = refresh_seq(app, "platform")
    answer = github(http, github_push_payload(url, branch="main", sha="d" * 40))
    assert answer.status_code == 202, answer.text
    assert (answer.json()["action"], answer.json()["refreshed"]) == ("ignored", [])
    assert refresh_seq(app, "platform") == before


def test_an_application_whose_url_no_parser_takes_does_not_break_pushes(
    app: FastAPI, http: TestClient, gitops: Client, repo: ConfigRepo, followed: str
) -> None:
    # A repository URL gitops accepts (git reports what it cannot fetch as a condition) is
    # compared with every push: one no parser takes must not turn every delivery into a 500.
    gitops.applications.create("broken", repo_url="https://[::1/config.git")
    answer = github(http, github_push_payload(repo.url, branch="main", sha=followed))
    assert answer.status_code == 202, answer.text
    assert [a["application"] for a in answer.json()["refreshed"]] == ["platform"]


def test_without_a_secret_webhooks_are_refused_naming_the_setting(
    settings: GitopsSettings, repo: ConfigRepo
) -> None:
    off = create_app(settings.model_copy(update={"webhook_secret": None}))
    with TestClient(off) as client:
        answer = github(client, github_push_payload(repo.url, branch="main", sha="d" * 40))
    error = envelope(answer, 503)
    assert error["code"] == "webhooks_not_configured"
    assert "GATEWRIGHT_WEBHOOK_SECRET" in error["message"]


def test_an_empty_secret_setting_means_unset(settings: GitopsSettings) -> None:
    empty = GitopsSettings(data_dir=settings.data_dir, webhook_secret=SecretStr(""))
    assert empty.webhook_secret is None
    assert WEBHOOK_SECRET not in repr(settings)
    with pytest.raises(ValueError, match="printable ASCII"):
        GitopsSettings(data_dir=settings.data_dir, webhook_secret=SecretStr("caf\u00e9 secret"))


def test_the_service_token_is_not_needed_nor_enough(
    http: TestClient, repo: ConfigRepo, followed: str
) -> None:
    raw = json.dumps(github_push_payload(repo.url, branch="main", sha=followed)).encode()
    answer = http.post(
        "/v1/hooks/git", content=raw, headers={**JSON, **SERVICE, "X-GitHub-Event": "push"}
    )
    assert envelope(answer, 401)["code"] == "invalid_signature"
