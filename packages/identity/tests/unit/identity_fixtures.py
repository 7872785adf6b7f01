"""Helpers for the in-process identity service tests: settings, seeding, snapshots, a World.

A module with a package-unique name (not `conftest`), so test modules can import it directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from gatewright.identity.models import Role
from gatewright.identity.service import IdentitySettings, create_app, store

SERVICE_TOKEN = "svc-test-token"
ADMIN_EMAIL = "admin@gatewright.test"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "correct-horse-1"


def make_settings(data_dir: Path, **overrides: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "service_token": SecretStr(SERVICE_TOKEN),
        "bootstrap_admin_password": SecretStr(ADMIN_PASSWORD),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
    }
    return IdentitySettings(**(values | overrides))


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(make_settings(tmp_path))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SERVICE = auth(SERVICE_TOKEN)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def seed_user(app: FastAPI, email: str, *, password: str = PASSWORD) -> str:
    with app.state.db.session() as s, s.begin():
        user = store.create_user(s, email=email, password_hash=app.state.passwords.hash(password))
    return user.id


def add_member(app: FastAPI, org_id: str, user_id: str, role: Role) -> None:
    with app.state.db.session() as s, s.begin():
        store.add_member(s, org_id=org_id, user_id=user_id, role=role)


def snapshot(app: FastAPI) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every identity table but the audit outbox: "nothing changed" means this is
    equal (a denial changes nothing, yet is audited)."""
    out = {}
    with app.state.db.session() as s:
        for table in store.metadata.sorted_tables:
            if table is store.outbox.table:
                continue
            out[table.name] = sorted(tuple(r) for r in s.execute(select(table)).all())
    return out


def audit_events(app: FastAPI, action: str | None = None) -> list[dict[str, Any]]:
    """The audit events identity recorded (its outbox), oldest first, optionally one action."""
    with app.state.db.session() as s:
        events = store.outbox.events(s)
    return [e for e in events if action is None or e["action"] == action]


@dataclass
class World:
    """An org with one user per role, an outsider, an API key, and a pending invitation."""

    org_id: str
    users: dict[str, str]  # role (or "outsider") -> user id
    tokens: dict[str, str]  # role (or "outsider", "platform_admin") -> access token
    key_id: str
    key_secret: str
    invitation_id: str
    invitation_token: str

    def h(self, who: str) -> dict[str, str]:
        return auth(self.tokens[who])


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    users = {
        who: seed_user(app, f"{who}@example.test")
        for who in ("owner", "admin", "member", "viewer", "outsider")
    }
    tokens = {who: login(client, f"{who}@example.test") for who in users}
    tokens["platform_admin"] = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    created = client.post("/v1/orgs", json={"name": "acme"}, headers=auth(tokens["owner"]))
    assert created.status_code == 201, created.text
    org_id = created.json()["id"]
    for role in ("admin", "member", "viewer"):
        add_member(app, org_id, users[role], role)
    key = client.post(
        f"/v1/orgs/{org_id}/keys", json={"name": "ci"}, headers=auth(tokens["member"])
    )
    assert key.status_code == 201, key.text
    inv = client.post(
        f"/v1/orgs/{org_id}/invitations",
        json={"email": "new@example.test", "role": "member"},
        headers=auth(tokens["owner"]),
    )
    assert inv.status_code == 201, inv.text
    return World(
        org_id=org_id,
        users=users,
        tokens=tokens,
        key_id=key.json()["id"],
        key_secret=key.json()["secret"],
        invitation_id=inv.json()["id"],
        invitation_token=inv.json()["token"],
    )
