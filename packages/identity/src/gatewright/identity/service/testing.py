"""`FakeIdentity`: identity as other services' unit tests need it, without running it.

A service checks access tokens against identity's JWKS and asks `POST /v1/authz/check` for
permissions (servicekit's `JWKSVerifier` and `IdentityAuthorizer`). This stand-in signs tokens
with identity's own `TokenIssuer` (on a fresh key) and decides with identity's own permission
matrix (`permissions.decide`), so a service's tests see identity's real claims, matrix and
reasons; the roles are whatever the test puts in `roles`. `mounted(base_url)` answers both
endpoints, `GET /v1/orgs/{id}` (the orgs in `orgs` or named by a role) and a service's
`POST /v1/orgs` naming an owner among `users` (decision 11) through respx (a test
dependency of the caller, imported only there). In-process, the fake is also servicekit's
`TokenVerifier`, `Authorizer` and `OrgDirectory` (`verify`, `check`, `exists`), for provider
tests that swap those seams with `app.dependency_overrides` and accept a pact's
`example_tokens`. `client` is the fake as the identity `AsyncClient` a service holds
(`client.keys.verify` over `api_keys`, `client.keys.register_revocation_hook`,
`client.authz.check`), for a service built with an identity client passed in (the gateway).
Every authz check it answers is in `checks`, as the caller sent it.

    fake = FakeIdentity(service_token="svc")
    with fake.mounted("http://identity.test"):
        fake.roles[("usr_1", "org_1")] = "admin"
        headers = {"Authorization": f"Bearer {fake.token('usr_1')}"}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, cast, get_args

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gatewright.core import AuthenticationError, make_status_error
from gatewright.identity.models import AuthzDecision, KeyVerification, OrgDetail, Permission, Role
from gatewright.identity.service import permissions
from gatewright.identity.service.tokens import TokenIssuer
from gatewright.servicekit.access import Decision

ROLES = get_args(Role)


@dataclass
class FakeIdentity:
    """Identity's token signing and permission decisions over a role table the test sets."""

    service_token: str
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (user_id, org_id) -> role
    # Orgs that exist besides those a role names (`GET /v1/orgs/{id}`, `exists`).
    orgs: set[str] = field(default_factory=set)
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    down: bool = False  # answer 503 to authz checks and org reads (identity unavailable)
    authz_calls: int = 0
    # Accepted as they are, for a pact's fixed example tokens (a pact cannot hold a real JWT).
    example_tokens: dict[str, str] = field(default_factory=dict)  # token -> user_id
    # Accounts a service may name as an org's owner (`POST /v1/orgs`): email -> user_id.
    users: dict[str, str] = field(default_factory=dict)
    org_names: dict[str, str] = field(default_factory=dict)  # org_id -> name, for created orgs
    # Every authz check answered (HTTP or `client`): {"subject", "org_id", "permission"}.
    checks: list[dict[str, str]] = field(default_factory=list)
    # API keys `client.keys.verify` knows: secret -> what identity answers for it.
    api_keys: dict[str, KeyVerification] = field(default_factory=dict)
    verify_calls: int = 0
    revocation_hooks: list[str] = field(default_factory=list)  # URLs registered through `client`
    client: FakeIdentityClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.client = FakeIdentityClient(self)

    def token(self, user_id: str, *, ttl: int = 600, key: Ed25519PrivateKey | None = None) -> str:
        """An access token for `user_id`; `ttl` < 0 makes it expired, `key` forges it."""
        issuer = TokenIssuer(key or self.key, ttl_seconds=ttl)
        return issuer.issue(user_id=user_id, email=f"{user_id}@identity.test")

    def members(self, org_id: str) -> dict[str, str]:
        """One user per role in `org_id` (`usr_<role>`) and `usr_outsider` (no role), each with
        a valid access token: `{"owner": token, ..., "outsider": token}`."""
        tokens = {}
        for who in (*ROLES, "outsider"):
            user_id = f"usr_{who}"
            if who in ROLES:
                self.roles[(user_id, org_id)] = cast(Role, who)
            tokens[who] = self.token(user_id)
        return tokens

    def jwks(self) -> dict[str, Any]:
        return TokenIssuer(self.key, ttl_seconds=0).jwks()

    def verify(self, token: str) -> dict[str, Any]:
        """servicekit's `TokenVerifier` in-process: an example token's user, else the claims of a
        token this fake signed (401 `ServiceError` otherwise, as identity's verifier)."""
        user_id = self.example_tokens.get(token)
        if user_id is not None:
            return {"sub": user_id}
        return TokenIssuer(self.key, ttl_seconds=0).verify(token)

    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        """servicekit's `Authorizer` in-process: identity's decision over `roles`."""
        decision = self._decide(subject, org_id, permission)
        return Decision(decision.allowed, decision.role, decision.reason)

    def exists(self, org_id: str) -> bool:
        """servicekit's `OrgDirectory` in-process: an org in `orgs` or named by a role."""
        return org_id in self.orgs or any(org == org_id for _, org in self.roles)

    def get_org(self, request: httpx.Request) -> httpx.Response:
        """`GET /v1/orgs/{org_id}` as a service reads it (the service token)."""
        if self.down:
            return _error(503, "unavailable", "identity is down (FakeIdentity.down)")
        if request.headers.get("Authorization") != f"Bearer {self.service_token}":
            return _error(401, "unauthenticated", "FakeIdentity expects the service token")
        org_id = request.url.path.rsplit("/", 1)[-1]
        if not self.exists(org_id):
            return _error(404, "org_not_found", f"No org {org_id}.")
        created = "2026-01-01T00:00:00Z"
        members = [
            {"user_id": user, "email": f"{user}@identity.test", "role": role, "joined_at": created}
            for (user, org), role in self.roles.items()
            if org == org_id
        ]
        name = self.org_names.get(org_id, org_id)
        return httpx.Response(
            200, json={"id": org_id, "name": name, "created_at": created, "members": members}
        )

    def create_org(self, request: httpx.Request) -> httpx.Response:
        """`POST /v1/orgs` as a service calls it: the owner named by `owner_email` (one of
        `users`) owns the new org, as identity does it (decision 11)."""
        if self.down:
            return _error(503, "unavailable", "identity is down (FakeIdentity.down)")
        if request.headers.get("Authorization") != f"Bearer {self.service_token}":
            return _error(401, "unauthenticated", "FakeIdentity expects the service token")
        body = json.loads(request.content)
        owner = self.users.get(str(body.get("owner_email", "")).lower())
        if owner is None:
            return _error(422, "owner_not_found", f"No user with email {body.get('owner_email')}.")
        org_id = f"org_fake{len(self.org_names) + 1:04d}"
        self.org_names[org_id] = body["name"]
        self.orgs.add(org_id)
        self.roles[(owner, org_id)] = "owner"
        created = {"id": org_id, "name": body["name"], "created_at": "2026-01-01T00:00:00Z"}
        return httpx.Response(201, json=created)

    def _decide(self, subject: str, org_id: str, permission: str) -> permissions.Decision:
        return permissions.decide(
            role=self.roles.get((subject, org_id)),
            is_platform_admin=False,
            permission=cast(Permission, permission),
            org_id=org_id,
        )

    def authz(self, request: httpx.Request) -> httpx.Response:
        """`POST /v1/authz/check`, for the service token only (as identity answers it)."""
        self.authz_calls += 1
        if self.down:
            return _error(503, "unavailable", "identity is down (FakeIdentity.down)")
        if request.headers.get("Authorization") != f"Bearer {self.service_token}":
            return _error(401, "unauthenticated", "FakeIdentity expects the service token")
        body = json.loads(request.content)
        self.checks.append({k: body[k] for k in ("subject", "org_id", "permission")})
        decision = self._decide(body["subject"], body["org_id"], body["permission"])
        return httpx.Response(200, json=asdict(decision))

    @contextmanager
    def mounted(self, base_url: str) -> Iterator[FakeIdentity]:
        """Answer identity's JWKS and authz endpoints at `base_url` (respx) while inside."""
        import respx  # a test dependency of whoever mounts the fake

        with respx.mock(base_url=base_url, assert_all_called=False) as mock:
            mock.get("/.well-known/jwks.json").mock(
                side_effect=lambda _: httpx.Response(200, json=self.jwks())
            )
            mock.post("/v1/authz/check").mock(side_effect=self.authz)
            mock.get(url__regex=r"/v1/orgs/[^/]+$").mock(side_effect=self.get_org)
            mock.post("/v1/orgs").mock(side_effect=self.create_org)
            yield self


class _FakeKeys:
    """The identity `AsyncClient`'s `keys`, over the fake's `api_keys`."""

    def __init__(self, fake: FakeIdentity) -> None:
        self._fake = fake

    async def verify(self, secret: str) -> KeyVerification:
        """`POST /v1/keys/verify`: the key's verification, else identity's 401 as the client
        raises it (`AuthenticationError`, code `invalid_api_key`)."""
        self._fake.verify_calls += 1
        key = self._fake.api_keys.get(secret)
        if key is None:
            request = httpx.Request("POST", "http://identity.test/v1/keys/verify")
            response = httpx.Response(401, request=request, json=_UNKNOWN_KEY)
            error = make_status_error(response)
            assert isinstance(error, AuthenticationError)
            raise error
        return key

    async def register_revocation_hook(self, url: str) -> None:
        self._fake.revocation_hooks.append(url)


class _FakeAuthz:
    """The identity `AsyncClient`'s `authz`: identity's decision over the fake's `roles`."""

    def __init__(self, fake: FakeIdentity) -> None:
        self._fake = fake

    async def check(self, *, subject: str, org_id: str, permission: str) -> AuthzDecision:
        self._fake.checks.append({"subject": subject, "org_id": org_id, "permission": permission})
        return AuthzDecision(**asdict(self._fake._decide(subject, org_id, permission)))


class _FakeOrgs:
    """The identity `AsyncClient`'s `orgs.get`: the org as a service reads it (`get_org`), a
    `NotFound` for an org the fake does not know (servicekit's `AsyncIdentityOrgDirectory`)."""

    def __init__(self, fake: FakeIdentity) -> None:
        self._fake = fake

    async def get(self, org_id: str) -> OrgDetail:
        url = f"http://identity.test/v1/orgs/{org_id}"
        request = httpx.Request(
            "GET", url, headers={"Authorization": f"Bearer {self._fake.service_token}"}
        )
        response = self._fake.get_org(request)
        response.request = request
        if response.status_code != 200:
            raise make_status_error(response)
        return OrgDetail.model_validate(response.json())


class FakeIdentityClient:
    """`FakeIdentity` as the identity `AsyncClient` a service is built with (`keys`, `authz`,
    `orgs.get`)."""

    def __init__(self, fake: FakeIdentity) -> None:
        self.keys = _FakeKeys(fake)
        self.authz = _FakeAuthz(fake)
        self.orgs = _FakeOrgs(fake)


# What identity answers for a secret it does not know (`POST /v1/keys/verify`).
_UNKNOWN_KEY = {
    "error": {
        "type": "authentication_error",
        "code": "invalid_api_key",
        "message": "The API key is unknown.",
        "details": {"reason": "unknown"},
    }
}


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})
