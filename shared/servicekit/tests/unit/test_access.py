"""`gatewright.servicekit.access`: who is calling (service token, user access token) and may they.

Identity is mocked with respx on its URL, so the real seams run: `JWKSVerifier` fetches
`/.well-known/jwks.json` (a locally generated Ed25519 key that also signs the test tokens) and
the real identity `Client` / `AsyncClient` asks `POST /v1/authz/check`, answered from a role
table. The apps run through `TestClient`, whose transport respx does not intercept.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gatewright.core import RetryPolicy
from gatewright.identity import AsyncClient, Client
from gatewright.servicekit import ServiceError, ServiceSettings, create_service_app
from gatewright.servicekit import outbound_request_id as request_ids
from gatewright.servicekit.access import (
    AsyncAuthorizerDep,
    AsyncIdentityAuthorizer,
    AuthorizerDep,
    Caller,
    CallerDep,
    Decision,
    IdentityAuthorizer,
    Service,
    ServiceCaller,
    UserCaller,
    actor,
    authorize,
    authorize_async,
    get_authorizer,
    get_token_verifier,
)
from gatewright.servicekit.auth import JWKSVerifier

IDENTITY_URL = "http://identity.test"
SERVICE_TOKEN = "unit-service-token"
ORG = "org_acme"
NO_RETRY = RetryPolicy(max_retries=0)
GRANTS = {"owner": {"things:write", "things:read"}, "viewer": {"things:read"}}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class FakeIdentity:
    """A signing key, its JWKS, and a role table; `roles[(user_id, org_id)] = role`."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    kid: str = "unit-kid"
    roles: dict[tuple[str, str], str] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False  # answers 500
    unreachable: bool = False  # refuses the connection

    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid}]}

    def token(
        self, user_id: str | None, *, ttl: int = 600, key: Ed25519PrivateKey | None = None
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "gatewright-identity",
            "aud": "gatewright",
            "iat": now,
            "exp": now + ttl,
        }
        if user_id is not None:
            claims["sub"] = user_id
        return jwt.encode(claims, key or self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def authz(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if self.down:
            return httpx.Response(500, json={"error": {"code": "internal", "message": "down"}})
        assert request.headers["Authorization"] == f"Bearer {SERVICE_TOKEN}"
        body = json.loads(request.content)
        self.checks.append(body)
        org_id, permission = body["org_id"], body["permission"]
        role = self.roles.get((body["subject"], org_id), "none")
        allowed = permission in GRANTS.get(role, set())
        verb = "grants" if allowed else "lacks permission"
        return httpx.Response(
            200,
            json={
                "allowed": allowed,
                "role": role,
                "permission": permission,
                "org_id": org_id,
                "reason": f"Role '{role}' in org {org_id} {verb} '{permission}'.",
            },
        )


def _who(who: Caller) -> dict[str, str | None]:
    return {"type": type(who).__name__, "user_id": getattr(who, "user_id", None)}


def sync_router(denials: list[tuple[str, ServiceError]]) -> APIRouter:
    router = APIRouter()

    def record(user: UserCaller, denial: ServiceError) -> None:
        denials.append((user.user_id, denial))

    @router.put("/v1/orgs/{org_id}/things")
    def write_thing(org_id: str, who: CallerDep, authz: AuthorizerDep) -> dict[str, Any]:
        authorize(who, authz, org_id=org_id, permission="things:write", on_denied=record)
        return _who(who)

    @router.get("/v1/internal/things")
    def internal(who: Service, request: Request) -> dict[str, Any]:
        actor_type, actor_id = actor(request, who)
        return {**_who(who), "actor": [actor_type, actor_id]}

    return router


def async_router(denials: list[tuple[str, ServiceError]]) -> APIRouter:
    router = APIRouter()

    async def record(user: UserCaller, denial: ServiceError) -> None:
        denials.append((user.user_id, denial))

    @router.put("/v1/orgs/{org_id}/things")
    async def write_thing(org_id: str, who: CallerDep, authz: AsyncAuthorizerDep) -> dict[str, Any]:
        await authorize_async(
            who,
            authz,
            org_id=org_id,
            permission="things:write",
            on_denied=record,
            explain=lambda d: f"No: {d.reason}",
        )
        return _who(who)

    return router


def _state() -> dict[str, Any]:
    return {
        "settings": ServiceSettings(service_token=SecretStr(SERVICE_TOKEN)),
        "verifier": JWKSVerifier(f"{IDENTITY_URL}/.well-known/jwks.json"),
    }


@dataclass
class World:
    identity: FakeIdentity
    client: TestClient
    denials: list[tuple[str, ServiceError]]

    def as_user(self, user_id: str | None, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.identity.token(user_id, **kwargs)}"}


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity()
    fake.roles[("usr_owner", ORG)] = "owner"
    fake.roles[("usr_viewer", ORG)] = "viewer"
    with respx.mock(base_url=IDENTITY_URL, assert_all_called=False) as mock:
        mock.get("/.well-known/jwks.json").mock(
            side_effect=lambda _: httpx.Response(200, json=fake.jwks())
        )
        mock.post("/v1/authz/check").mock(side_effect=fake.authz)
        yield fake


@pytest.fixture
def world(identity: FakeIdentity) -> Iterator[World]:
    """A sync service: `IdentityAuthorizer` over the identity `Client`."""
    denials: list[tuple[str, ServiceError]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = Client(
            IDENTITY_URL, token=SERVICE_TOKEN, request_id_factory=request_ids, retry=NO_RETRY
        )
        app.state.authorizer = IdentityAuthorizer(client)
        try:
            yield
        finally:
            client.close()

    app = create_service_app(
        service="things",
        version="0",
        routers=[sync_router(denials)],
        lifespan=lifespan,
        state=_state(),
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield World(identity, c, denials)


@pytest.fixture
def async_world(identity: FakeIdentity) -> Iterator[World]:
    """An async service: `AsyncIdentityAuthorizer` over the identity `AsyncClient`."""
    denials: list[tuple[str, ServiceError]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncClient(
            IDENTITY_URL, token=SERVICE_TOKEN, request_id_factory=request_ids, retry=NO_RETRY
        ) as client:
            app.state.authorizer = AsyncIdentityAuthorizer(client, unavailable="Try later")
            yield

    app = create_service_app(
        service="things",
        version="0",
        routers=[async_router(denials)],
        lifespan=lifespan,
        state=_state(),
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield World(identity, c, denials)


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


PATH = f"/v1/orgs/{ORG}/things"


# -- authentication --------------------------------------------------------------------------
def test_the_service_token_is_a_service_caller_and_identity_is_not_asked(world: World) -> None:
    response = world.client.put(PATH, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "ServiceCaller", "user_id": None}
    assert world.identity.checks == []


def test_a_user_token_is_a_user_caller_asked_of_identity(world: World) -> None:
    response = world.client.put(PATH, headers=world.as_user("usr_owner"))
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "UserCaller", "user_id": "usr_owner"}
    assert world.identity.checks == [
        {"subject": "usr_owner", "org_id": ORG, "permission": "things:write"}
    ]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthenticated"),
        ({"Authorization": "Basic abc"}, "unauthenticated"),
        ({"Authorization": "Bearer not-a-jwt"}, "unauthenticated"),
        ({"Authorization": "Bearer wrong-service-token"}, "unauthenticated"),
    ],
)
def test_bad_tokens_are_401_and_identity_is_not_asked(
    world: World, headers: dict[str, str], code: str
) -> None:
    response = world.client.put(PATH, headers=headers)
    assert response.status_code == 401, response.text
    assert _error(response)["code"] == code
    assert world.identity.checks == []


def test_a_token_signed_by_another_key_expired_or_naming_no_one_is_401(world: World) -> None:
    forged = world.client.put(
        PATH, headers=world.as_user("usr_owner", key=Ed25519PrivateKey.generate())
    )
    expired = world.client.put(PATH, headers=world.as_user("usr_owner", ttl=-60))
    nobody = world.client.put(PATH, headers=world.as_user(None))
    assert (forged.status_code, _error(forged)["code"]) == (401, "unauthenticated")
    assert (expired.status_code, _error(expired)["code"]) == (401, "token_expired")
    assert (nobody.status_code, _error(nobody)["message"]) == (
        401,
        "The access token names no subject.",
    )
    assert world.identity.checks == []


def test_require_service_refuses_a_user_and_labels_the_service_actor(world: World) -> None:
    user = world.client.get("/v1/internal/things", headers=world.as_user("usr_owner"))
    assert user.status_code == 401
    assert _error(user)["message"] == "This endpoint is for Gatewright services only."
    service = world.client.get(
        "/v1/internal/things",
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}", "X-Gatewright-Service": "Gateway"},
    )
    assert service.status_code == 200, service.text
    assert service.json()["actor"] == ["service", "gateway"]


# -- authorization ---------------------------------------------------------------------------
def test_a_denied_user_is_403_with_identitys_reason_and_on_denied_runs(world: World) -> None:
    response = world.client.put(PATH, headers=world.as_user("usr_viewer"))
    assert response.status_code == 403, response.text
    error = _error(response)
    assert error["code"] == "permission_denied"
    assert error["message"] == f"Role 'viewer' in org {ORG} lacks permission 'things:write'."
    assert error["details"] == {"role": "viewer", "permission": "things:write", "org_id": ORG}
    assert [(user, d.message) for user, d in world.denials] == [("usr_viewer", error["message"])]


def test_identity_down_is_503_and_not_a_denial(world: World) -> None:
    world.identity.down = True
    response = world.client.put(PATH, headers=world.as_user("usr_owner"))
    assert response.status_code == 503, response.text
    error = _error(response)
    assert error["code"] == "identity_unavailable"
    assert error["message"].startswith("Cannot check permissions with identity: ")
    assert world.denials == []


def test_identity_unreachable_is_503(world: World) -> None:
    world.identity.unreachable = True
    response = world.client.put(PATH, headers=world.as_user("usr_owner"))
    assert response.status_code == 503, response.text
    assert _error(response)["code"] == "identity_unavailable"
    assert world.denials == []


def test_the_seams_are_overridable(world: World) -> None:
    class Tokens:
        def verify(self, token: str) -> dict[str, Any]:
            return {"sub": token.removeprefix("t-")}

    class Everyone:
        def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
            return Decision(allowed=subject == "alice", role="owner", reason="table")

    app = world.client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[get_token_verifier] = Tokens
    app.dependency_overrides[get_authorizer] = Everyone
    ok = world.client.put(PATH, headers={"Authorization": "Bearer t-alice"})
    no = world.client.put(PATH, headers={"Authorization": "Bearer t-bob"})
    assert ok.json() == {"type": "UserCaller", "user_id": "alice"}
    assert (no.status_code, _error(no)["message"]) == (403, "table")
    assert world.identity.checks == []


# -- the async variant -----------------------------------------------------------------------
def test_async_allowed_denied_and_down(async_world: World) -> None:
    client, fake = async_world.client, async_world.identity
    ok = client.put(PATH, headers=async_world.as_user("usr_owner"))
    assert ok.status_code == 200, ok.text
    service = client.put(PATH, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert service.json() == {"type": "ServiceCaller", "user_id": None}

    denied = client.put(PATH, headers=async_world.as_user("usr_viewer"))
    assert denied.status_code == 403
    message = f"No: Role 'viewer' in org {ORG} lacks permission 'things:write'."
    assert _error(denied)["message"] == message
    assert _error(denied)["details"] == {
        "role": "viewer",
        "permission": "things:write",
        "org_id": ORG,
    }
    assert [(u, d.message) for u, d in async_world.denials] == [("usr_viewer", message)]

    fake.down = True
    down = client.put(PATH, headers=async_world.as_user("usr_owner"))
    assert down.status_code == 503
    assert _error(down)["code"] == "identity_unavailable"
    assert _error(down)["message"].startswith("Try later: ")
    assert len(async_world.denials) == 1


# -- plain functions -------------------------------------------------------------------------
def test_authorize_lets_a_service_pass_without_asking() -> None:
    class Never:
        def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
            raise AssertionError("a service is never checked")

    authorize(ServiceCaller(), Never(), org_id=ORG, permission="anything")
