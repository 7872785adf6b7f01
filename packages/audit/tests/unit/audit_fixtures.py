"""Helpers for the in-process audit service tests: a fake identity, a clock, databases.

Identity is identity's own `FakeIdentity` (`gatewright.identity.service.testing`), mounted with
**respx on the identity URL** (not a dependency override), so the real seams run: servicekit's
`JWKSVerifier` fetches `/.well-known/jwks.json` and the identity client package calls
`POST /v1/authz/check`, answered with identity's real token signing and permission matrix.

Databases: SQLite in a temp dir always; PostgreSQL at `GATEWRIGHT_TEST_POSTGRES_URL` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), one schema per test (`t_<hex>`, selected with
`?options=-csearch_path=...`, dropped afterwards). PostgreSQL unreachable: skip locally, fail when
CI=true.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.audit.service import AuditSettings, create_app, store
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit import testing
from gatewright.servicekit.testing import Clock

IDENTITY_URL = "http://identity.test"
SERVICE_TOKEN = "svc-test-token"
ORG = "org_acme"
T0 = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    """Identity's real token signing and permission matrix, answered through respx."""
    with FakeIdentity(service_token=SERVICE_TOKEN).mounted(IDENTITY_URL) as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def make_settings(data_dir: Path, **overrides: Any) -> AuditSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "service_token": SecretStr(SERVICE_TOKEN),
        "identity_url": IDENTITY_URL,
    }
    return AuditSettings(**(values | overrides))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with testing.database_url(request.param, tmp_path / "audit.db") as url:
        yield url


@pytest.fixture
def app(tmp_path: Path, clock: Clock, identity: FakeIdentity) -> FastAPI:
    return create_app(make_settings(tmp_path), clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SERVICE = auth(SERVICE_TOKEN)


@dataclass
class World:
    """ORG with one user per role (and an outsider), each with a valid access token."""

    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return auth(self.tokens[who])


@pytest.fixture
def world(identity: FakeIdentity) -> World:
    return World(tokens=identity.members(ORG))


def snapshot(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every audit table: "nothing stored" means this is equal."""
    out = {}
    with app.state.db.session() as s:
        for table in store.metadata.sorted_tables:
            out[table.name] = sorted(tuple(map(str, r)) for r in s.execute(sa.select(table)))
    return out


_counter = iter(range(1, 1_000_000))


def event(**overrides: Any) -> dict[str, Any]:
    """A valid EventIn body (JSON) in ORG; fields overridable; a fresh id each call."""
    n = next(_counter)
    body: dict[str, Any] = {
        "id": f"evt_t{n}_{secrets.token_hex(4)}",
        "time": (T0 + timedelta(seconds=n)).isoformat(),
        "service": "identity",
        "org_id": ORG,
        "actor": {"type": "user", "id": "usr_owner"},
        "action": "key.create",
        "target": {"type": "api_key", "id": f"key_{n}"},
        "outcome": "success",
        "reason": "Created API key for CI.",
        "request_id": f"req_{n}",
        "details": {"models": ["sim-echo"], "n": n},
    }
    return body | overrides


def ingest(client: TestClient, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json=body, headers=SERVICE)


def ingested(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = ingest(client, event(**overrides))
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored
