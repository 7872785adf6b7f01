"""Helpers for the in-process budgets service tests: a fake identity, a clock, databases.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.budgets.service import BudgetsSettings, create_app, store
from gatewright.identity.service.testing import FakeIdentity
from gatewright.servicekit import testing
from gatewright.servicekit.testing import Clock

IDENTITY_URL = "http://identity.test"
SERVICE_TOKEN = "svc-test-token"
ORG = "org_acme"
OTHER_ORG = "org_other"
KEY = "key_ci"
T0 = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    """Identity's real token signing and permission matrix, answered through respx."""
    with FakeIdentity(service_token=SERVICE_TOKEN).mounted(IDENTITY_URL) as fake:
        fake.orgs.update({ORG, OTHER_ORG})
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def make_settings(data_dir: Path, **overrides: Any) -> BudgetsSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "service_token": SecretStr(SERVICE_TOKEN),
        "identity_url": IDENTITY_URL,
        "sweep_interval_seconds": 3600,
    }
    return BudgetsSettings(**(values | overrides))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with testing.database_url(request.param, tmp_path / "budgets.db") as url:
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
    """Every row of every budgets table but the audit outbox: "nothing changed" means this is
    equal (a denial changes nothing, yet is audited)."""
    out = {}
    with app.state.db.session() as s:
        for table in store.metadata.sorted_tables:
            if table is store.outbox.table:
                continue
            out[table.name] = sorted(tuple(map(str, r)) for r in s.execute(sa.select(table)))
    return out


def reserve(
    client: TestClient,
    amount: int,
    *,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    key_id: str | None = None,
    org_id: str = ORG,
    ttl: int | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "org_id": org_id,
        "key_id": key_id,
        "amount_micro_usd": amount,
        "request_id": request_id or f"req_{secrets.token_hex(6)}",
        "idempotency_key": idempotency_key or f"idk_{secrets.token_hex(8)}",
    }
    if ttl is not None:
        body["ttl_seconds"] = ttl
    return client.post("/v1/reservations", json=body, headers=SERVICE)


def set_budget(
    client: TestClient, limit: int, period: str = "daily", *, key_id: str | None = None
) -> httpx.Response:
    path = f"/v1/orgs/{ORG}/budget" if key_id is None else f"/v1/orgs/{ORG}/keys/{key_id}/budget"
    response = client.put(path, json={"limit_micro_usd": limit, "period": period}, headers=SERVICE)
    assert response.status_code == 200, response.text
    return response


def spend(client: TestClient) -> dict[str, Any]:
    response = client.get(f"/v1/orgs/{ORG}/spend", headers=SERVICE)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit_events(app: FastAPI, action: str | None = None) -> list[dict[str, Any]]:
    """The audit events budgets recorded (its outbox), oldest first, optionally one action."""
    with app.state.db.session() as s:
        events = store.outbox.events(s)
    return [e for e in events if action is None or e["action"] == action]
