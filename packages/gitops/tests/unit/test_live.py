"""A reconcile through the real client packages (`ClientLive`): identity is identity's own
`FakeIdentity` (its `POST /v1/orgs` and `GET /v1/orgs/{id}` handlers), budgets and the gateway
are answered by respx from dicts. Every call carries the service token, `X-Gatewright-Service:
gitops` and the ONE request ID of its reconcile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import respx
from gitops_fixtures import (
    BUDGET,
    MEMBER,
    MEMBERSHIP,
    ORG,
    OWNER,
    ROUTE,
    SERVICE_TOKEN,
    ConfigRepo,
)
from sqlalchemy import select

from gatewright.gitops.models import Application, ApplicationCreate, SyncPolicy
from gatewright.gitops.service import store
from gatewright.gitops.service.gitrepo import RepoCache
from gatewright.gitops.service.live import ClientLive, ClientLiveFactory
from gatewright.gitops.service.reconcile import reconcile
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit import Database
from gatewright.servicekit.db import utcnow

IDENTITY, BUDGETS, GATEWAY = "http://identity.test", "http://budgets.test", "http://gateway.test"


def test_a_reconcile_through_the_client_packages(tmp_path: Path, repo: ConfigRepo) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gitops.db'}")
    db.create_all(store.metadata)
    sha = repo.commit({"acme.yaml": "---\n".join([ORG, BUDGET, ROUTE])})
    identity = FakeIdentity(service_token=SERVICE_TOKEN, users={OWNER: "usr_owner"})
    budgets: dict[str, dict[str, Any]] = {}
    routes: dict[tuple[str, str], dict[str, Any]] = {}

    def budget(request: httpx.Request) -> httpx.Response:
        org_id = request.url.path.split("/")[3]
        if request.method == "PUT":
            budgets[org_id] = json.loads(request.content)
        if org_id not in budgets:
            return httpx.Response(404, json={"error": {"code": "budget_not_found", "message": "-"}})
        return httpx.Response(
            200,
            json={
                "org_id": org_id,
                **budgets[org_id],
                "period_start": "2026-01-01T00:00:00Z",
                "spent_micro_usd": 0,
                "reserved_micro_usd": 0,
                "updated_at": "2026-01-01T00:00:00Z",
            },
        )

    def route(request: httpx.Request) -> httpx.Response:
        _, _, _, org_id, _, alias = request.url.path.split("/")
        if request.method == "PUT":
            routes[(org_id, alias)] = json.loads(request.content)
        if (org_id, alias) not in routes:
            return httpx.Response(404, json={"error": {"code": "route_not_found", "message": "-"}})
        body = {"alias": alias, "org_id": org_id, "updated_at": "2026-01-01T00:00:00Z"}
        return httpx.Response(200, json={**body, **routes[(org_id, alias)]})

    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{IDENTITY}/v1/orgs").mock(side_effect=identity.create_org)
        mock.get(url__regex=rf"^{IDENTITY}/v1/orgs/[^/]+$").mock(side_effect=identity.get_org)
        mock.route(url__regex=rf"^{BUDGETS}/v1/orgs/[^/]+/budget$").mock(side_effect=budget)
        mock.route(url__regex=rf"^{GATEWAY}/v1/orgs/[^/]+/routes/[^/]+$").mock(side_effect=route)
        live = ClientLiveFactory(
            identity_url=IDENTITY,
            budgets_url=BUDGETS,
            gateway_url=GATEWAY,
            service_token=SERVICE_TOKEN,
        )
        now = utcnow()
        with db.session() as s, s.begin():
            app: Application = store.create_application(
                s,
                body=ApplicationCreate(
                    name="platform", repo_url=repo.url, sync_policy=SyncPolicy()
                ),
                now=now,
            )
        repos = RepoCache(
            tmp_path / "cache", timeout_seconds=30, max_file_bytes=1 << 20, max_files=10
        )
        status = reconcile(
            app, db=db, repos=repos, live=live, trigger="test", refresh_token=None, clock=utcnow
        )
        calls = list(mock.calls)

    assert (status.sync, status.health, status.revision) == ("Synced", "Healthy", sha)
    [org_id] = identity.org_names
    assert identity.roles[("usr_owner", org_id)] == "owner"
    assert budgets[org_id] == {"limit_micro_usd": 5_000_000, "period": "monthly"}
    assert routes[(org_id, "chat")]["backends"][0]["url"] == "http://modelsim.test"
    request_id = status.operations[0].reconcile_request_id
    assert re.fullmatch(r"gitops-[0-9a-f]{16}", request_id)
    assert {c.request.headers["X-Request-ID"] for c in calls} == {request_id}
    assert {c.request.headers["X-Gatewright-Service"] for c in calls} == {"gitops"}
    assert {c.request.headers["Authorization"] for c in calls} == {f"Bearer {SERVICE_TOKEN}"}
    db.dispose()


def test_a_membership_is_an_invitation_through_the_identity_client(
    tmp_path: Path, repo: ConfigRepo
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gitops.db'}")
    db.create_all(store.metadata)
    repo.commit({"acme.yaml": ORG + "---\n" + MEMBERSHIP})
    identity = FakeIdentity(service_token=SERVICE_TOKEN, users={OWNER: "usr_owner"})
    sent: list[dict[str, Any]] = []
    token = "gwi_the-secret-invitation-token"

    def invite(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append({"org_id": request.url.path.split("/")[3], **body})
        created = {
            "id": "inv_1",
            "org_id": request.url.path.split("/")[3],
            "email": body["email"],
            "role": body["role"],
            "status": "pending",
            "expires_at": "2099-01-01T00:00:00Z",
            "token": token,
        }
        return httpx.Response(201, json=created)

    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{IDENTITY}/v1/orgs").mock(side_effect=identity.create_org)
        mock.get(url__regex=rf"^{IDENTITY}/v1/orgs/[^/]+$").mock(side_effect=identity.get_org)
        mock.post(url__regex=rf"^{IDENTITY}/v1/orgs/[^/]+/invitations$").mock(side_effect=invite)
        live = ClientLiveFactory(
            identity_url=IDENTITY,
            budgets_url=BUDGETS,
            gateway_url=GATEWAY,
            service_token=SERVICE_TOKEN,
        )
        with db.session() as s, s.begin():
            app = store.create_application(
                s, body=ApplicationCreate(name="platform", repo_url=repo.url), now=utcnow()
            )
        repos = RepoCache(
            tmp_path / "cache", timeout_seconds=30, max_file_bytes=1 << 20, max_files=10
        )
        status = reconcile(
            app, db=db, repos=repos, live=live, trigger="test", refresh_token=None, clock=utcnow
        )
        calls = list(mock.calls)

    [org_id] = identity.org_names
    assert sent == [{"org_id": org_id, "email": MEMBER, "role": "member"}]
    member = next(r for r in status.resources if r.kind == "Membership")
    assert (member.status, member.action) == ("Progressing", "invited")
    assert (status.sync, status.health) == ("Synced", "Progressing")
    assert {c.request.headers["Authorization"] for c in calls} == {f"Bearer {SERVICE_TOKEN}"}
    # The invitation's token is a secret: it is in no gitops table and not in the status.
    with db.session() as s:
        stored = [
            str(row) for table in store.metadata.sorted_tables for row in s.execute(select(table))
        ]
    assert stored
    assert not [row for row in stored if token in row]
    assert token not in status.model_dump_json()
    db.dispose()


def test_one_factory_serves_every_reconcile_each_with_its_own_request_id() -> None:
    """The clients are built once (one connection pool per service, closed at shutdown); each
    reconcile's view stamps its own request ID on every call."""
    with respx.mock() as mock:
        mock.get(url__regex=rf"^{BUDGETS}/v1/orgs/[^/]+/budget$").mock(
            return_value=httpx.Response(
                404, json={"error": {"code": "budget_not_found", "message": "-"}}
            )
        )
        factory = ClientLiveFactory(
            identity_url=IDENTITY,
            budgets_url=BUDGETS,
            gateway_url=GATEWAY,
            service_token=SERVICE_TOKEN,
        )
        with factory("gitops-first") as first, factory("gitops-second") as second:
            assert first.get_budget("org_a") is None
            assert second.get_budget("org_b") is None
            assert first.get_budget("org_c") is None
        assert [c.request.headers["X-Request-ID"] for c in mock.calls] == [
            "gitops-first",
            "gitops-second",
            "gitops-first",
        ]
        assert isinstance(first, ClientLive)
        assert isinstance(second, ClientLive)
        pool = factory.budgets._http
        assert first.budgets._http is second.budgets._http is pool  # one pool, not one each
        factory.close()
        assert pool.is_closed
