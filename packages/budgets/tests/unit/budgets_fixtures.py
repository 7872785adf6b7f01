"""Helpers for the in-process budgets service tests: a fake identity, a clock, databases.

Identity is mocked with **respx on the identity URL** (not a dependency override), so the real
seams run: servicekit's `JWKSVerifier` fetches `/.well-known/jwks.json` (served from a locally
generated Ed25519 key that also signs the test tokens) and the identity client package calls
`POST /v1/authz/check` (answered from a role table with identity's matrix for `budgets:*`).

Databases: SQLite in a temp dir always; PostgreSQL at `GATEWRIGHT_TEST_POSTGRES_URL` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), one schema per test (`t_<hex>`, selected with
`?options=-csearch_path=...`, dropped afterwards). PostgreSQL unreachable: skip locally, fail when
CI=true.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import respx
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.budgets.service import BudgetsSettings, create_app, store

IDENTITY_URL = "http://identity.test"
SERVICE_TOKEN = "svc-test-token"
ORG = "org_acme"
KEY = "key_ci"
T0 = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
PG_URL = os.environ.get(
    "GATEWRIGHT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# identity's matrix for the permissions budgets asks about
MATRIX = {
    "budgets:set": {"owner", "admin"},
    "budgets:read": {"owner", "admin", "member", "viewer"},
}


class Clock:
    """The injected clock: tests move time instead of waiting for it."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class FakeIdentity:
    """A signing key, its JWKS, and a role table; `roles[(user_id, org_id)] = role`."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    kid: str = "test-kid"
    roles: dict[tuple[str, str], str] = field(default_factory=dict)
    authz_calls: int = 0
    down: bool = False

    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid}]}

    def token(self, user_id: str, *, ttl: int = 600, key: Ed25519PrivateKey | None = None) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iss": "gatewright-identity",
            "aud": "gatewright",
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(claims, key or self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def authz(self, request: httpx.Request) -> httpx.Response:
        self.authz_calls += 1
        if self.down:
            return httpx.Response(503, json={"error": {"code": "down", "message": "down"}})
        assert request.headers["Authorization"] == f"Bearer {SERVICE_TOKEN}"
        body = json.loads(request.content)
        role = self.roles.get((body["subject"], body["org_id"]), "none")
        allowed = role in MATRIX.get(body["permission"], set())
        reason = (
            f"Role '{role}' in org {body['org_id']} grants '{body['permission']}'."
            if allowed
            else f"Role '{role}' in org {body['org_id']} lacks permission '{body['permission']}'."
        )
        return httpx.Response(
            200,
            json={
                "allowed": allowed,
                "role": role,
                "permission": body["permission"],
                "org_id": body["org_id"],
                "reason": reason,
            },
        )


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity()
    with respx.mock(base_url=IDENTITY_URL, assert_all_called=False) as mock:
        mock.get("/.well-known/jwks.json").mock(
            side_effect=lambda _: httpx.Response(200, json=fake.jwks())
        )
        mock.post("/v1/authz/check").mock(side_effect=fake.authz)
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_settings(data_dir: Path, **overrides: Any) -> BudgetsSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "service_token": SecretStr(SERVICE_TOKEN),
        "identity_url": IDENTITY_URL,
        "sweep_interval_seconds": 3600,
    }
    return BudgetsSettings(**(values | overrides))


def pg_schema_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL (dropped afterwards), or skip/fail when down."""
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable under CI=true: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {exc}")
    schema = f"t_{secrets.token_hex(6)}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'budgets.db'}"
    else:
        yield from pg_schema_url()


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
    tokens = {}
    for who in ("owner", "admin", "member", "viewer", "outsider"):
        user_id = f"usr_{who}"
        if who != "outsider":
            identity.roles[(user_id, ORG)] = who
        tokens[who] = identity.token(user_id)
    return World(tokens=tokens)


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
    key_id: str | None = None,
    org_id: str = ORG,
    ttl: int | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "org_id": org_id,
        "key_id": key_id,
        "amount_micro_usd": amount,
        "request_id": request_id or f"req_{secrets.token_hex(6)}",
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
