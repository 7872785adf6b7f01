"""Helpers for the in-process gitops tests: git repositories in tmp dirs, a fake live state.

`ConfigRepo` is a real git repository made with GitPython in a temp dir; `commit({...})` writes
files and commits them, returning the SHA the service should report. `FakeLive` is the
`LiveState` seam (orgs with their members, invitations, budgets, routes) held in dicts: identity,
budgets and the gateway are not running, and nothing here imports their services. It records
every call with the request ID of the reconcile that made it (`writes()` picks the
state-changing ones), can be told to fail a call (`fail_on`), and plays the invitee
(`accept(email)`).

The app runs with its scheduler (the TestClient runs the lifespan), so tests wait on refresh
tokens through the real client's `wait_for`, never on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.core import APIStatusError, NotFound, RetryPolicy
from gatewright.gitops import Client
from gatewright.gitops.service import GitopsSettings, create_app
from gatewright.gitops.service.api.deps import Who, get_caller_check, get_org_names
from gatewright.gitops.service.live import WRITES, LiveMember, LiveState, SentInvitation
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit import ServiceError
from gatewright.servicekit.access import get_authorizer

SERVICE_TOKEN = "svc-test-token"
ADMIN_TOKEN = "admin-token"
ADMIN_ID = "usr_admin"
USER_TOKEN = "user-token"
USER_ID = "usr_user"
WEBHOOK_SECRET = "hook-secret-7f3a"
ORG_ID = "org_acme"  # the org an org-scoped Application belongs to (named "acme")
OTHER_ORG_ID = "org_other"
SERVICE = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
OWNER = "owner@example.test"

ORG = f"""kind: Org
metadata: {{name: acme}}
spec: {{owner: {OWNER}}}
"""
MEMBER = "bob@example.test"
MEMBERSHIP = """kind: Membership
metadata: {name: acme-bob}
spec: {org: acme, email: Bob@example.test, role: member}
"""
BUDGET = """kind: Budget
metadata: {name: acme}
spec: {org: acme, limit_micro_usd: 5000000, period: monthly}
"""
ROUTE = """kind: Route
metadata: {name: acme-chat}
spec:
  org: acme
  alias: chat
  backends: [{url: "http://modelsim.test/", model: sim-echo}]
  input_micro_usd_per_mtok: 1000000
  output_micro_usd_per_mtok: 2000000
"""


class ConfigRepo:
    """A git repository in a temp dir, with a `main` branch."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "Gitops Tests")
            config.set_value("user", "email", "gitops-tests@example.test")

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) the files, commit, return the new SHA."""
        for name, content in files.items():
            path = self.root / name
            if content is None:
                self.repo.index.remove([name], working_tree=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            self.repo.index.add([name])
        return self.repo.index.commit(message).hexsha

    def commit_on(self, branch: str, files: dict[str, str | None]) -> str:
        """Commit on `branch` (made from the current `main` when new), then go back to `main`."""
        if branch not in [h.name for h in self.repo.heads]:
            self.repo.create_head(branch)
        self.repo.heads[branch].checkout()
        try:
            return self.commit(files, f"change on {branch}")
        finally:
            self.repo.heads["main"].checkout()

    @property
    def url(self) -> str:
        return str(self.root)


@dataclass
class FakeLive:
    """`LiveState` in memory, shared by every reconcile of a test."""

    users: set[str] = field(default_factory=lambda: {OWNER})
    orgs: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {name, owner}
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # org id -> email -> role
    invitations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> fields
    invitation_ttl: timedelta = timedelta(days=7)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)  # org id -> fields
    routes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (request ID, call)
    fail_on: set[str] = field(default_factory=set)  # call names that answer 503

    def view(self, request_id: str) -> _View:
        return _View(self, request_id)

    def writes(self, request_id: str | None = None) -> list[str]:
        """The state-changing calls made (by the reconcile with `request_id`, or any)."""
        return [
            call
            for rid, call in self.calls
            if call in WRITES and (request_id is None or rid == request_id)
        ]

    def org_id(self, name: str) -> str:
        [org_id] = [i for i, org in self.orgs.items() if org["name"] == name]
        return org_id

    def accept(self, email: str) -> None:
        """The invitee accepts every pending invitation to `email` (an account if new)."""
        now = datetime.now(UTC)
        for invitation in self.invitations.values():
            pending = invitation["status"] == "pending" and invitation["expires_at"] > now
            if invitation["email"] == email and pending:
                invitation["status"] = "accepted"
                self.users.add(email)
                self.members[invitation["org_id"]][email] = invitation["role"]

    @contextmanager
    def factory(self, request_id: str) -> Iterator[LiveState]:
        yield self.view(request_id)


def _unavailable(call: str) -> APIStatusError:
    return APIStatusError(
        f"503 service_unavailable: {call} is down (FakeLive.fail_on)",
        status_code=503,
        code="service_unavailable",
        request_id="",
        body=None,
    )


@dataclass
class _View:
    fake: FakeLive
    request_id: str

    def _call(self, name: str) -> None:
        self.fake.calls.append((self.request_id, name))
        if name in self.fake.fail_on:
            raise _unavailable(name)

    def org_exists(self, org_id: str) -> bool:
        self._call("org_exists")
        return org_id in self.fake.orgs

    def create_org(self, name: str, *, owner_email: str) -> str:
        self._call("create_org")
        if owner_email not in self.fake.users:
            raise APIStatusError(
                f"422 owner_not_found: No user with email {owner_email}",
                status_code=422,
                code="owner_not_found",
                request_id="",
                body=None,
            )
        org_id = f"org_{len(self.fake.orgs) + 1}"
        self.fake.orgs[org_id] = {"name": name, "owner": owner_email}
        self.fake.members[org_id] = {owner_email: "owner"}
        return org_id

    def _members_of(self, org_id: str) -> dict[str, str]:
        if org_id not in self.fake.orgs:
            raise NotFound(
                f"404 org_not_found: No org {org_id}.",
                status_code=404,
                code="org_not_found",
                request_id="",
                body=None,
            )
        return self.fake.members[org_id]

    def list_members(self, org_id: str) -> list[LiveMember]:
        self._call("list_members")
        return [LiveMember(f"usr_{e}", e, r) for e, r in self._members_of(org_id).items()]

    def set_role(self, org_id: str, user_id: str, role: str) -> None:
        self._call("set_role")
        self._members_of(org_id)[user_id.removeprefix("usr_")] = role

    def invite(self, org_id: str, *, email: str, role: str) -> SentInvitation:
        self._call("invite")
        self._members_of(org_id)
        invitation_id = f"inv_{len(self.fake.invitations) + 1}"
        expires_at = datetime.now(UTC) + self.fake.invitation_ttl
        self.fake.invitations[invitation_id] = {
            "org_id": org_id,
            "email": email,
            "role": role,
            "status": "pending",
            "expires_at": expires_at,
        }
        return SentInvitation(invitation_id, expires_at)

    def remove_member(self, org_id: str, user_id: str) -> bool:
        self._call("remove_member")
        return self._members_of(org_id).pop(user_id.removeprefix("usr_"), None) is not None

    def delete_org(self, org_id: str) -> bool:
        self._call("delete_org")
        self.fake.members.pop(org_id, None)
        return self.fake.orgs.pop(org_id, None) is not None

    def delete_budget(self, org_id: str) -> bool:
        self._call("delete_budget")
        return self.fake.budgets.pop(org_id, None) is not None

    def delete_route(self, org_id: str, alias: str) -> bool:
        self._call("delete_route")
        return self.fake.routes.pop((org_id, alias), None) is not None

    def get_budget(self, org_id: str) -> dict[str, Any] | None:
        self._call("get_budget")
        return self.fake.budgets.get(org_id)

    def set_budget(self, org_id: str, *, limit_micro_usd: int, period: str) -> None:
        self._call("set_budget")
        self.fake.budgets[org_id] = {"limit_micro_usd": limit_micro_usd, "period": period}

    def get_route(self, org_id: str, alias: str) -> dict[str, Any] | None:
        self._call("get_route")
        return self.fake.routes.get((org_id, alias))

    def put_route(self, org_id: str, alias: str, *, route: dict[str, Any]) -> None:
        self._call("put_route")
        self.fake.routes[(org_id, alias)] = route


class FakeCallers:
    """The `CallerCheck` seam: ADMIN_TOKEN is a platform admin, USER_TOKEN a plain user, and
    `<user id>-token` that user (for the roles a test gives in `identity.roles`)."""

    def whoami(self, token: str) -> Who:
        if token == ADMIN_TOKEN:
            return Who(ADMIN_ID, is_platform_admin=True)
        if token == USER_TOKEN:
            return Who(USER_ID, is_platform_admin=False)
        if token.startswith("usr_") and token.endswith("-token"):
            return Who(token.removesuffix("-token"), is_platform_admin=False)
        raise ServiceError(401, "unauthenticated", "invalid token")


class FakeOrgNames:
    """The `OrgNames` seam: the orgs identity would know."""

    names = {ORG_ID: "acme", OTHER_ORG_ID: "other"}

    def name_of(self, org_id: str) -> str | None:
        return self.names.get(org_id)


def user(user_id: str) -> dict[str, str]:
    """Headers of `user_id` (see `FakeCallers`)."""
    return {"Authorization": f"Bearer {user_id}-token"}


@pytest.fixture
def live() -> FakeLive:
    return FakeLive()


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    return ConfigRepo(tmp_path / "config")


@pytest.fixture
def identity() -> FakeIdentity:
    """Identity's own permission decisions over the roles a test sets."""
    return FakeIdentity(service_token=SERVICE_TOKEN)


@pytest.fixture
def settings(tmp_path: Path) -> GitopsSettings:
    return GitopsSettings(
        data_dir=tmp_path / "data",
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url="http://identity.invalid",
        webhook_secret=SecretStr(WEBHOOK_SECRET),
    )


@pytest.fixture
def app(settings: GitopsSettings, live: FakeLive, identity: FakeIdentity) -> FastAPI:
    app = create_app(settings, live=live.factory)
    app.dependency_overrides[get_caller_check] = FakeCallers
    app.dependency_overrides[get_org_names] = FakeOrgNames
    app.dependency_overrides[get_authorizer] = lambda: identity
    return app


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


class TestClientTransport(httpx.BaseTransport):
    """An httpx transport that hands each request to Starlette's TestClient (which runs the
    app's lifespan, and so its scheduler); the TestClient speaks its own httpx fork."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method,
            str(request.url),
            headers=dict(request.headers),
            content=request.read(),
        )
        return httpx.Response(
            answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content
        )


@pytest.fixture
def gitops(http: TestClient) -> Iterator[Client]:
    """The real sync client, over the in-process app, with the service token."""
    with Client(
        "http://testserver",
        token=SERVICE_TOKEN,
        transport=TestClientTransport(http),
        retry=RetryPolicy(max_retries=0),
    ) as client:
        yield client
