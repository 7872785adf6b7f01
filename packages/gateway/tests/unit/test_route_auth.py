"""The org route API with a user's access token: JWT verification and identity's decision.

Identity is its own `FakeIdentity`, mounted with respx on its URL (as in budgets' unit tests), so
the real seams run: servicekit's `JWKSVerifier` fetches `/.well-known/jwks.json` (the fake's key
also signs the test tokens), and the real identity `AsyncClient` asks `POST /v1/authz/check`,
answered from a role table with identity's own matrix and reason sentences. Budgets is its own
`FakeBudgets` (the route API never reserves). The gateway runs through
`TestClient`, whose transport respx does not intercept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.budgets.service.testing import FakeBudgets
from gatewright.gateway.service import GatewaySettings, create_app
from gatewright.identity.service.testing import FakeIdentity

IDENTITY_URL = "http://identity.test"
SERVICE_TOKEN = "unit-service-token"
ORG = "org_acme"
ROUTE = {
    "backends": [{"url": "http://backend.test", "model": "sim-echo"}],
    "input_micro_usd_per_mtok": 1,
    "output_micro_usd_per_mtok": 2,
}
pytestmark = pytest.mark.authz


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity(service_token=SERVICE_TOKEN)
    fake.members(ORG)  # usr_<role> for each role, and usr_outsider with none
    with fake.mounted(IDENTITY_URL):
        yield fake


@pytest.fixture
def client(tmp_path: Path, identity: FakeIdentity) -> Iterator[TestClient]:
    settings = GatewaySettings(
        data_dir=tmp_path,
        service_token=SecretStr(SERVICE_TOKEN),
        identity_url=IDENTITY_URL,
        route_cache_seconds=0,
        register_revocation_hook=False,
    )
    app = create_app(settings, budgets=FakeBudgets())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_user(identity: FakeIdentity, role: str) -> dict[str, str]:
    return auth(identity.token(f"usr_{role}"))


PATH = f"/v1/orgs/{ORG}/routes/chat"


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_a_user_with_routes_manage_may_put_and_delete(
    client: TestClient, identity: FakeIdentity, role: str
) -> None:
    put = client.put(PATH, json=ROUTE, headers=as_user(identity, role))
    assert put.status_code == 200, put.text
    assert put.json()["org_id"] == ORG
    assert put.json()["backends"][0]["url"] == "http://backend.test"
    assert identity.checks[-1] == {
        "subject": f"usr_{role}",
        "org_id": ORG,
        "permission": "routes:manage",
    }
    assert client.delete(PATH, headers=as_user(identity, role)).status_code == 204


def test_a_route_for_an_org_identity_does_not_know_is_404_and_kept_nowhere(
    client: TestClient,
) -> None:
    # The service token passes every permission, for any org ID: the org must still exist.
    ghost = "/v1/orgs/org_nobody_made/routes/chat"
    put = client.put(ghost, json=ROUTE, headers=auth(SERVICE_TOKEN))
    assert put.status_code == 404, put.text
    error = put.json()["error"]
    assert (error["code"], error["details"]) == ("org_not_found", {"org_id": "org_nobody_made"})
    assert "identity does not know it" in error["message"]
    assert client.get(ghost, headers=auth(SERVICE_TOKEN)).status_code == 404
    listed = client.get("/v1/orgs/org_nobody_made/routes", headers=auth(SERVICE_TOKEN))
    assert listed.json()["data"] == []


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_every_member_may_read(client: TestClient, identity: FakeIdentity, role: str) -> None:
    assert client.put(PATH, json=ROUTE, headers=auth(SERVICE_TOKEN)).status_code == 200
    got = client.get(PATH, headers=as_user(identity, role))
    assert got.status_code == 200, got.text
    assert got.json()["alias"] == "chat"
    listed = client.get(f"/v1/orgs/{ORG}/routes", headers=as_user(identity, role))
    assert [r["alias"] for r in listed.json()["data"]] == ["chat"]
    assert identity.checks[-1]["permission"] == "org:read"


@pytest.mark.parametrize("role", ["member", "viewer", "outsider"])
def test_a_user_without_routes_manage_is_403_with_identitys_reason(
    client: TestClient, identity: FakeIdentity, role: str
) -> None:
    response = client.put(PATH, json=ROUTE, headers=as_user(identity, role))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    shown = "none" if role == "outsider" else role
    assert f"Role '{shown}' in org {ORG} lacks permission 'routes:manage'." in error["message"]
    assert error["details"] == {"role": shown, "permission": "routes:manage", "org_id": ORG}
    # nothing was written
    assert client.get(PATH, headers=auth(SERVICE_TOKEN)).status_code == 404
    assert client.delete(PATH, headers=as_user(identity, role)).status_code == 403


def test_an_outsider_may_not_read(client: TestClient, identity: FakeIdentity) -> None:
    assert client.put(PATH, json=ROUTE, headers=auth(SERVICE_TOKEN)).status_code == 200
    response = client.get(PATH, headers=as_user(identity, "outsider"))
    assert response.status_code == 403
    assert "not a member of this org" in response.json()["error"]["message"]


def test_bad_tokens_are_401_and_identity_is_not_asked(
    client: TestClient, identity: FakeIdentity
) -> None:
    forged = identity.token("usr_owner", key=Ed25519PrivateKey.generate())
    for headers in ({}, auth("garbage"), auth(forged), auth("gwk_an-api-key-is-no-token")):
        response = client.put(PATH, json=ROUTE, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"]["code"] == "unauthenticated"
    expired = client.put(PATH, json=ROUTE, headers=auth(identity.token("usr_owner", ttl=-60)))
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"
    assert identity.checks == []
    assert client.get(PATH, headers=auth(SERVICE_TOKEN)).status_code == 404


def test_global_routes_refuse_even_an_owners_token(
    client: TestClient, identity: FakeIdentity
) -> None:
    response = client.put("/v1/routes/chat", json=ROUTE, headers=as_user(identity, "owner"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert identity.checks == []


@pytest.mark.audit
def test_route_writes_and_denials_are_audited(client: TestClient, identity: FakeIdentity) -> None:
    app: Any = client.app
    put = client.put(PATH, json=ROUTE, headers=as_user(identity, "admin"))
    denied = client.delete(PATH, headers=as_user(identity, "viewer"))
    gone = client.delete(PATH, headers={**auth(SERVICE_TOKEN), "X-Gatewright-Service": "gitops"})
    assert (put.status_code, denied.status_code, gone.status_code) == (200, 403, 204)
    with app.state.db.session() as s:
        events = {e["request_id"]: e for e in app.state.audit_outbox.events(s)}
    e = events[put.headers["x-request-id"]]
    assert (e["action"], e["outcome"], e["org_id"]) == ("route.put", "success", ORG)
    assert e["actor"] == {"type": "user", "id": "usr_admin"}
    assert e["target"] == {"type": "route", "id": "chat"}
    assert e["details"]["backends"] == [{"url": "http://backend.test", "model": "sim-echo"}]
    e = events[denied.headers["x-request-id"]]
    assert (e["action"], e["outcome"]) == ("authz.denied", "denied")
    assert e["actor"] == {"type": "user", "id": "usr_viewer"}
    assert e["details"] == {"role": "viewer", "permission": "routes:manage"}
    assert e["reason"] == denied.json()["error"]["message"]
    e = events[gone.headers["x-request-id"]]
    assert e["action"] == "route.delete"
    assert e["actor"] == {"type": "service", "id": "gitops"}
    assert SERVICE_TOKEN not in json.dumps(list(events.values()))


@pytest.mark.parametrize(
    "org_id",
    [
        pytest.param("o" * 101, id="longer-than-identity-accepts"),
        pytest.param("%19L", id="control-character"),
    ],
)
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("PUT", "/routes/chat"),
        ("GET", "/routes/chat"),
        ("DELETE", "/routes/chat"),
        ("GET", "/routes"),
    ],
)
def test_an_org_id_identity_or_audit_would_refuse_is_422_before_asking(
    client: TestClient, identity: FakeIdentity, org_id: str, method: str, suffix: str
) -> None:
    """Found by the fuzz stage: such IDs were a 503 (identity's 422 passed on) or a 500 (the
    audit event refused the org ID inside the write)."""
    body = ROUTE if method == "PUT" else None
    response = client.request(
        method, f"/v1/orgs/{org_id}{suffix}", json=body, headers=as_user(identity, "owner")
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"
    assert identity.checks == []
