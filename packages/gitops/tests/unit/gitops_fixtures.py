"""Helpers for the in-process gitops tests: git repositories in tmp dirs, a fake live state.

`ConfigRepo` is a real git repository made with GitPython in a temp dir; `commit({...})` writes
files and commits them, returning the SHA the service should report. `FakeLive` is the
`LiveState` seam (orgs, budgets, routes) held in dicts: identity, budgets and the gateway are
not running, and nothing here imports their services. It records every call with the request ID
of the reconcile that made it, and can be told to fail a call (`fail_on`).

The app runs with its scheduler (the TestClient runs the lifespan), so tests wait on refresh
tokens through the real client's `wait_for`, never on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.core import APIStatusError, RetryPolicy
from gatewright.gitops import Client
from gatewright.gitops.service import GitopsSettings, create_app
from gatewright.gitops.service.api.deps import Who, get_caller_check, get_org_names
from gatewright.gitops.service.live import LiveState
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

    @property
    def url(self) -> str:
        return str(self.root)


@dataclass
class FakeLive:
    """`LiveState` in memory, shared by every reconcile of a test."""

    users: set[str] = field(default_factory=lambda: {OWNER})
    orgs: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {name, owner}
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)  # org id -> fields
    routes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (request ID, call)
    fail_on: set[str] = field(default_factory=set)  # call names that answer 503

    def view(self, request_id: str) -> _View:
        return _View(self, request_id)

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
        return org_id

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
