"""Org-scoped Applications: who may manage them (`gitops:manage`, identity's matrix through
FakeIdentity's decisions) and what their manifests may concern (their own org only)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gitops_fixtures import (
    ADMIN_TOKEN,
    BUDGET,
    ORG,
    ORG_ID,
    OTHER_ORG_ID,
    OWNER,
    SERVICE,
    USER_TOKEN,
    ConfigRepo,
    FakeLive,
    user,
)
from sqlalchemy import select

from gatewright.gitops import Client, SyncFailed
from gatewright.gitops.service import store
from gatewright.identity.service.testing import FakeIdentity

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def body(repo: ConfigRepo, name: str = "acme-config", **changes: Any) -> dict[str, Any]:
    return {"name": name, "repo_url": repo.url, "org_id": ORG_ID, **changes}


def denials(app: FastAPI) -> list[dict[str, Any]]:
    with app.state.db.session() as s:
        rows = s.execute(select(store.outbox.table.c.payload)).all()
    return [r.payload for r in rows if r.payload["action"] == "authz.denied"]


@pytest.fixture
def cast(identity: FakeIdentity) -> FakeIdentity:
    """usr_<role> holds <role> in ORG_ID; usr_stranger is admin of OTHER_ORG_ID only."""
    identity.members(ORG_ID)
    identity.roles[("usr_stranger", OTHER_ORG_ID)] = "admin"
    return identity


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_an_org_owner_or_admin_manages_the_orgs_application(
    http: TestClient, repo: ConfigRepo, cast: FakeIdentity, role: str
) -> None:
    who = user(f"usr_{role}")
    created = http.post("/v1/applications", json=body(repo), headers=who)
    assert created.status_code == 201, created.text
    assert (created.json()["org_id"], created.json()["org_name"]) == (ORG_ID, "acme")
    assert http.get("/v1/applications/acme-config", headers=who).status_code == 200
    changed = http.patch(
        "/v1/applications/acme-config", json={"poll_interval_seconds": 7}, headers=who
    )
    assert changed.json()["poll_interval_seconds"] == 7
    assert http.post("/v1/applications/acme-config/refresh", headers=who).status_code == 202
    assert http.delete("/v1/applications/acme-config", headers=who).status_code == 204


@pytest.mark.parametrize("who", ["usr_member", "usr_viewer", "usr_outsider", "usr_stranger"])
def test_anyone_else_is_refused_changes_nothing_and_the_denial_is_audited(
    app: FastAPI, http: TestClient, repo: ConfigRepo, cast: FakeIdentity, who: str
) -> None:
    refused = envelope(http.post("/v1/applications", json=body(repo), headers=user(who)), 403)
    assert refused["code"] == "permission_denied"
    assert refused["details"]["permission"] == "gitops:manage"
    assert refused["details"]["org_id"] == ORG_ID
    assert http.get("/v1/applications", headers=SERVICE).json()["data"] == []

    assert http.post("/v1/applications", json=body(repo), headers=SERVICE).status_code == 201
    for call in (
        lambda h: http.get("/v1/applications/acme-config", headers=h),
        lambda h: http.patch("/v1/applications/acme-config", json={"path": "x"}, headers=h),
        lambda h: http.post("/v1/applications/acme-config/refresh", headers=h),
        lambda h: http.delete("/v1/applications/acme-config", headers=h),
    ):
        assert envelope(call(user(who)), 403)["code"] == "permission_denied"
    kept = http.get("/v1/applications/acme-config", headers=SERVICE).json()
    assert kept["path"] == "."
    events = denials(app)
    assert len(events) == 5
    assert {(e["actor"]["id"], e["org_id"], e["details"]["permission"]) for e in events} == {
        (who, ORG_ID, "gitops:manage")
    }


def test_a_platform_wide_application_is_for_admins_and_the_service_only(
    http: TestClient, repo: ConfigRepo, cast: FakeIdentity
) -> None:
    platform = body(repo, name="platform", org_id=None)
    refused = envelope(http.post("/v1/applications", json=platform, headers=user("usr_owner")), 403)
    assert "platform admins" in refused["message"]
    assert http.post("/v1/applications", json=platform, headers=ADMIN).status_code == 201
    assert envelope(http.get("/v1/applications/platform", headers=user("usr_owner")), 403)
    plain = {"Authorization": f"Bearer {USER_TOKEN}"}
    assert envelope(http.get("/v1/applications/platform", headers=plain), 403)


def test_a_list_shows_a_user_only_the_applications_of_their_orgs(
    http: TestClient, repo: ConfigRepo, cast: FakeIdentity
) -> None:
    for name, org_id in (("acme-a", ORG_ID), ("other-a", OTHER_ORG_ID), ("platform", None)):
        answer = http.post(
            "/v1/applications", json=body(repo, name=name, org_id=org_id), headers=SERVICE
        )
        assert answer.status_code == 201, answer.text

    def names(headers: dict[str, str]) -> list[str]:
        listed = http.get("/v1/applications", headers=headers)
        assert listed.status_code == 200, listed.text
        return [a["name"] for a in listed.json()["data"]]

    assert names(user("usr_admin")) == ["acme-a"]
    assert names(user("usr_stranger")) == ["other-a"]
    assert names(user("usr_member")) == []
    assert names(ADMIN) == names(SERVICE) == ["acme-a", "other-a", "platform"]


def test_an_org_identity_does_not_know_is_a_422(http: TestClient, repo: ConfigRepo) -> None:
    unknown = envelope(
        http.post("/v1/applications", json=body(repo, org_id="org_nowhere"), headers=SERVICE), 422
    )
    assert (unknown["code"], unknown["details"]["field"]) == ("org_not_found", "org_id")
    bad = envelope(
        http.post("/v1/applications", json=body(repo, org_id="not-an-org"), headers=SERVICE), 422
    )
    assert bad["code"] == "validation_failed"
    patched = http.post("/v1/applications", json=body(repo), headers=SERVICE)
    assert patched.status_code == 201
    moved = http.patch(
        "/v1/applications/acme-config", json={"org_id": OTHER_ORG_ID}, headers=SERVICE
    )
    assert envelope(moved, 422)["code"] == "validation_failed"  # an org_id never changes


# -- what the manifests may concern ----------------------------------------------------------
OTHER_ORG = ORG.replace("name: acme", "name: other")
OTHER_BUDGET = BUDGET.replace("name: acme", "name: other").replace("org: acme", "org: other")


def test_an_org_scoped_application_applies_its_own_org_without_creating_it(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    live.orgs[ORG_ID] = {"name": "acme", "owner": OWNER}  # the org exists in identity
    sha = repo.commit({"acme.yaml": ORG + "---\n" + BUDGET})
    gitops.applications.create("acme-config", repo_url=repo.url, org_id=ORG_ID)
    app = gitops.applications.wait_for("acme-config", revision=sha, refresh=False)
    assert [(r.kind, r.name, r.action, r.live_id) for r in app.status.resources] == [
        ("Org", "acme", "unchanged", ORG_ID),
        ("Budget", "acme", "created", ORG_ID),
    ]
    assert list(live.orgs) == [ORG_ID]  # never a second org
    assert live.budgets[ORG_ID] == {"limit_micro_usd": 5_000_000, "period": "monthly"}
    assert ("Org", "acme") not in {(e.kind, e.name) for e in app.status.inventory}


def test_manifests_that_reach_another_org_apply_nothing_and_say_where(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    live.orgs[ORG_ID] = {"name": "acme", "owner": OWNER}
    sha = repo.commit(
        {"acme.yaml": ORG + "---\n" + BUDGET, "other.yaml": OTHER_ORG + "---\n" + OTHER_BUDGET}
    )
    gitops.applications.create("acme-config", repo_url=repo.url, org_id=ORG_ID)
    with pytest.raises(SyncFailed) as failed:
        gitops.applications.wait_for("acme-config", revision=sha)
    status = failed.value.status
    assert status is not None
    assert (status.sync, status.health) == ("Unknown", "Degraded")
    assert [(c.reason, c.file, c.document, c.field) for c in status.conditions] == [
        ("InvalidManifest", "other.yaml", 0, "metadata.name"),
        ("InvalidManifest", "other.yaml", 1, "spec.org"),
    ]
    assert "belongs to org 'acme'" in status.conditions[0].message
    assert live.budgets == {}
    assert list(live.orgs) == [ORG_ID]


def test_a_platform_wide_application_is_not_limited(
    gitops: Client, repo: ConfigRepo, live: FakeLive
) -> None:
    sha = repo.commit({"two.yaml": ORG + "---\n" + OTHER_ORG})
    gitops.applications.create("platform", repo_url=repo.url)
    app = gitops.applications.wait_for("platform", revision=sha, refresh=False)
    assert sorted(o["name"] for o in live.orgs.values()) == ["acme", "other"]
    assert app.status.health == "Healthy"
