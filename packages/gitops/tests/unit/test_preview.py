"""Diff preview: any revision (a branch such as a pull request's, or a commit SHA) diffed
against live state, applying nothing and leaving the Application's status, inventory and the
branch head its reconciles follow exactly as they were; clear 4xx answers for what cannot be
previewed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gitops_fixtures import BUDGET, ORG, ROUTE, SERVICE, USER_TOKEN, ConfigRepo, FakeLive
from sqlalchemy import func, select

from gatewright.core import NotFound
from gatewright.gitops import Client
from gatewright.gitops.service import store
from gatewright.gitops.service.preview import PreviewWriteRefused, read_only

MANIFESTS = {"orgs/acme.yaml": ORG + "---\n" + BUDGET, "orgs/routes.yml": ROUTE}
BIGGER = {"orgs/acme.yaml": ORG + "---\n" + BUDGET.replace("5000000", "7000000")}
WRITES = {"create_org", "set_budget", "put_route"}
PREVIEW = "/v1/applications/platform/diff"


def synced(gitops: Client, repo: ConfigRepo) -> str:
    sha = repo.commit(MANIFESTS)
    gitops.applications.create("platform", repo_url=repo.url, path="orgs")
    gitops.applications.wait_for("platform", revision=sha)
    return sha


def everything(app: FastAPI, http: TestClient, live: FakeLive) -> dict[str, Any]:
    """All a preview could change: the Application (status, inventory), live state, the audit
    outbox."""
    with app.state.db.session() as s:
        outbox = s.execute(select(func.count()).select_from(store.outbox.table)).scalar_one()
    return {
        "application": http.get("/v1/applications/platform", headers=SERVICE).json(),
        "live": copy.deepcopy((live.orgs, live.budgets, live.routes)),
        "outbox": outbox,
    }


def test_a_branch_is_diffed_against_live_state_and_nothing_changes(
    app: FastAPI, http: TestClient, gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    main = synced(gitops, repo)
    pr = repo.commit_on("pr-7", BIGGER)
    before = everything(app, http, live)
    calls = len(live.calls)

    preview = gitops.applications.diff("platform", "pr-7")

    assert (preview.requested, preview.revision, preview.sync) == ("pr-7", pr, "OutOfSync")
    assert preview.problems == []
    assert [(r.kind, r.status, r.action) for r in preview.resources] == [
        ("Org", "Synced", "unchanged"),
        ("Budget", "OutOfSync", "would_update"),
        ("Route", "Synced", "unchanged"),
    ]
    budget = preview.resources[1]
    assert [(d.field, d.live, d.desired) for d in budget.diff] == [
        ("spec.limit_micro_usd", 5_000_000, 7_000_000)
    ]
    # Changes nothing: no write call, status, inventory, live state and audit outbox as before.
    assert not {name for _, name in live.calls[calls:]} & WRITES
    assert everything(app, http, live) == before
    # The branch the reconciles follow is untouched: the next one is still at main's head.
    assert gitops.applications.wait_for("platform", revision=main).status.revision == main


def test_a_commit_sha_full_or_abbreviated_is_previewed(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    main = synced(gitops, repo)
    later = repo.commit_on("pr-8", BIGGER)
    for revision in (main, main[:8]):
        preview = gitops.applications.diff("platform", revision)
        assert (preview.revision, preview.sync) == (main, "Synced")
        assert {r.action for r in preview.resources} == {"unchanged"}
    preview = gitops.applications.diff("platform", later)  # not fetched before: fetched now
    assert (preview.revision, preview.sync) == (later, "OutOfSync")


def test_invalid_manifests_are_a_200_that_lists_the_problems(
    http: TestClient, gitops: Client, repo: ConfigRepo
) -> None:
    synced(gitops, repo)
    repo.commit_on("broken", {"orgs/routes.yml": ROUTE.replace("org: acme", "org: nowhere")})
    answer = http.post(PREVIEW, json={"revision": "broken"}, headers=SERVICE)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["sync"], body["resources"]) == ("Unknown", [])
    [problem] = body["problems"]
    assert (problem["reason"], problem["file"], problem["document"], problem["field"]) == (
        "InvalidManifest",
        "orgs/routes.yml",
        0,
        "spec.org",
    )
    repo.commit_on("moved", {"orgs/acme.yaml": None, "orgs/routes.yml": None, "x.yaml": ORG})
    gone = gitops.applications.diff("platform", "moved")
    assert gone.sync == "Unknown"
    assert [p.reason for p in gone.problems] == ["PathNotFound"]


def test_an_unknown_revision_is_a_404_that_says_which(
    http: TestClient, gitops: Client, repo: ConfigRepo
) -> None:
    synced(gitops, repo)
    for revision in ("no-such-branch", "f" * 40):
        answer = http.post(PREVIEW, json={"revision": revision}, headers=SERVICE)
        assert answer.status_code == 404, answer.text
        error = answer.json()["error"]
        assert error["code"] == "revision_not_found"
        assert revision in error["message"]
    with pytest.raises(NotFound):
        gitops.applications.diff("no-such-app", "main")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"revision": ""},
        {"revision": 7},
        {"revision": "--upload-pack=evil"},
        {"revision": "a..b"},
        {"revision": "main", "apply": True},
        {"revision": "x" * 201},
    ],
)
def test_bad_input_is_a_clear_422_and_changes_nothing(
    app: FastAPI, http: TestClient, gitops: Client, repo: ConfigRepo, live: FakeLive, body: Any
) -> None:
    synced(gitops, repo)
    before = everything(app, http, live)
    answer = http.post(PREVIEW, json=body, headers=SERVICE)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_failed"
    assert everything(app, http, live) == before


def test_previews_take_the_same_permission_as_the_other_routes(
    http: TestClient, gitops: Client, repo: ConfigRepo
) -> None:
    synced(gitops, repo)
    assert http.post(PREVIEW, json={"revision": "main"}).status_code == 401
    user = {"Authorization": f"Bearer {USER_TOKEN}"}
    denied = http.post(PREVIEW, json={"revision": "main"}, headers=user)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "permission_denied"


def test_an_unreachable_repository_is_a_503_and_a_cached_commit_still_previews(
    http: TestClient, gitops: Client, repo: ConfigRepo, tmp_path: Path
) -> None:
    main = synced(gitops, repo)
    repo.root.rename(tmp_path / "moved")
    answer = http.post(PREVIEW, json={"revision": "main"}, headers=SERVICE)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "repository_unavailable"
    assert gitops.applications.diff("platform", main).sync == "Synced"  # no fetch needed


def test_the_read_only_guard_refuses_any_write(live: FakeLive) -> None:
    with read_only(live.factory)("gitops-preview") as state:
        assert state.get_budget("org_1") is None  # reads pass
        with pytest.raises(PreviewWriteRefused):
            state.set_budget("org_1", limit_micro_usd=1, period="monthly")
    assert [name for _, name in live.calls] == ["get_budget"]
    assert live.budgets == {}
