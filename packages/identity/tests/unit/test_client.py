"""The identity client: every resource method on both `Client` and `AsyncClient` (respx)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx

import gatewright.identity as identity
from gatewright.core import RetryPolicy, errors
from gatewright.core.testing import (
    ClientCase,
    Runner,
    check_case,
    modules_loaded_by,
    public_methods,
    runner,
)
from gatewright.identity import AsyncClient, Client

BASE = "http://identity.test"
NO_RETRY = RetryPolicy(max_retries=0)
T0 = "2026-01-02T03:04:05Z"

USER = {"id": "usr_1", "email": "a@b.io", "name": "A", "is_platform_admin": False, "created_at": T0}
ORG = {"id": "org_1", "name": "acme", "created_at": T0}
MEMBER = {"user_id": "usr_1", "email": "a@b.io", "name": None, "role": "owner", "joined_at": T0}
INVITATION = {
    "id": "inv_1",
    "org_id": "org_1",
    "email": "b@b.io",
    "role": "viewer",
    "status": "pending",
    "expires_at": T0,
}
KEY = {
    "id": "key_1",
    "org_id": "org_1",
    "name": "ci",
    "prefix": "gwk_abcdefgh",
    "models": ["m"],
    "expires_at": None,
    "created_at": T0,
    "created_by": "usr_1",
    "revoked_at": None,
}


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Each case runs through the sync and the async client."""
    return runner(request.param, Client, AsyncClient, BASE, token="tok", retry=NO_RETRY)


CASES = [
    ClientCase(
        "auth.login",
        lambda c: c.auth.login("a@b.io", "pw"),
        "POST",
        "/v1/auth/login",
        {"email": "a@b.io", "password": "pw"},
        200,
        {"access_token": "jwt", "token_type": "bearer", "expires_in": 900, "user_id": "usr_1"},
        lambda r: isinstance(r, identity.AccessToken) and r.access_token == "jwt",
    ),
    ClientCase(
        "users.me",
        lambda c: c.users.me(),
        "GET",
        "/v1/users/me",
        None,
        200,
        USER,
        lambda r: r.id == "usr_1" and r.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    ClientCase(
        "users.invitations",
        lambda c: c.users.invitations(),
        "GET",
        "/v1/users/me/invitations",
        None,
        200,
        {"data": [INVITATION]},
        lambda r: [i.id for i in r.data] == ["inv_1"] and r.data[0].status == "pending",
    ),
    ClientCase(
        "users.accept_invitation",
        lambda c: c.users.accept_invitation("inv_1"),
        "POST",
        "/v1/users/me/invitations/inv_1/accept",
        None,
        200,
        {"user_id": "usr_2", "org_id": "org_1", "role": "viewer"},
        lambda r: isinstance(r, identity.InvitationAccepted) and r.role == "viewer",
    ),
    ClientCase(
        "orgs.create",
        lambda c: c.orgs.create("acme"),
        "POST",
        "/v1/orgs",
        {"name": "acme"},
        201,
        ORG,
        lambda r: isinstance(r, identity.Org) and r.id == "org_1",
    ),
    ClientCase(
        "orgs.get",
        lambda c: c.orgs.get("org_1"),
        "GET",
        "/v1/orgs/org_1",
        None,
        200,
        {**ORG, "members": [MEMBER]},
        lambda r: r.members[0].role == "owner",
    ),
    ClientCase(
        "orgs.list",
        lambda c: c.orgs.list(),
        "GET",
        "/v1/orgs",
        None,
        200,
        {"data": [ORG]},
        lambda r: [o.id for o in r.data] == ["org_1"],
    ),
    ClientCase(
        "orgs.delete",
        lambda c: c.orgs.delete("org_1"),
        "DELETE",
        "/v1/orgs/org_1",
        None,
        204,
        None,
        lambda r: r is None,
    ),
    ClientCase(
        "members.list",
        lambda c: c.members.list("org_1"),
        "GET",
        "/v1/orgs/org_1/members",
        None,
        200,
        {"data": [MEMBER]},
        lambda r: r.data[0].user_id == "usr_1",
    ),
    ClientCase(
        "members.update",
        lambda c: c.members.update("org_1", "usr_2", "admin"),
        "PATCH",
        "/v1/orgs/org_1/members/usr_2",
        {"role": "admin"},
        200,
        {**MEMBER, "user_id": "usr_2", "role": "admin"},
        lambda r: r.role == "admin",
    ),
    ClientCase(
        "members.remove",
        lambda c: c.members.remove("org_1", "usr_2"),
        "DELETE",
        "/v1/orgs/org_1/members/usr_2",
        None,
        204,
        None,
        lambda r: r is None,
    ),
    ClientCase(
        "invitations.create",
        lambda c: c.invitations.create("org_1", email="b@b.io", role="viewer", ttl_seconds=60),
        "POST",
        "/v1/orgs/org_1/invitations",
        {"email": "b@b.io", "role": "viewer", "ttl_seconds": 60},
        201,
        {**INVITATION, "token": "gwi_x"},
        lambda r: r.token == "gwi_x" and r.status == "pending",
    ),
    ClientCase(
        "invitations.list",
        lambda c: c.invitations.list("org_1"),
        "GET",
        "/v1/orgs/org_1/invitations",
        None,
        200,
        {"data": [INVITATION]},
        lambda r: r.data[0].id == "inv_1",
    ),
    ClientCase(
        "invitations.accept",
        lambda c: c.invitations.accept(token="gwi_x", password="password1"),
        "POST",
        "/v1/invitations/accept",
        {"token": "gwi_x", "password": "password1"},
        200,
        {"user_id": "usr_2", "org_id": "org_1", "role": "viewer"},
        lambda r: r.user_id == "usr_2",
    ),
    ClientCase(
        "keys.create",
        lambda c: c.keys.create(
            "org_1", name="ci", models=("m",), expires_at=datetime(2030, 1, 1, tzinfo=UTC)
        ),
        "POST",
        "/v1/orgs/org_1/keys",
        {"name": "ci", "models": ["m"], "expires_at": "2030-01-01T00:00:00+00:00"},
        201,
        {**KEY, "secret": "gwk_secret"},
        lambda r: r.secret == "gwk_secret",
    ),
    ClientCase(
        "keys.list",
        lambda c: c.keys.list("org_1"),
        "GET",
        "/v1/orgs/org_1/keys",
        None,
        200,
        {"data": [KEY]},
        lambda r: r.data[0].prefix == "gwk_abcdefgh",
    ),
    ClientCase(
        "keys.revoke",
        lambda c: c.keys.revoke("org_1", "key_1"),
        "DELETE",
        "/v1/orgs/org_1/keys/key_1",
        None,
        200,
        {**KEY, "revoked_at": T0},
        lambda r: r.revoked_at is not None,
    ),
    ClientCase(
        "keys.verify",
        lambda c: c.keys.verify("gwk_secret"),
        "POST",
        "/v1/keys/verify",
        {"secret": "gwk_secret"},
        200,
        {"key_id": "key_1", "org_id": "org_1", "models": None, "expires_at": None},
        lambda r: r.key_id == "key_1" and r.models is None,
    ),
    ClientCase(
        "authz.check",
        lambda c: c.authz.check(subject="usr_1", org_id="org_1", permission="keys:create"),
        "POST",
        "/v1/authz/check",
        {"subject": "usr_1", "org_id": "org_1", "permission": "keys:create"},
        200,
        {
            "allowed": True,
            "role": "member",
            "permission": "keys:create",
            "org_id": "org_1",
            "reason": "ok",
        },
        lambda r: r.allowed is True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@respx.mock
async def test_resource_call(run: Runner, case: ClientCase) -> None:
    await check_case(run, case, base_url=BASE, token="tok")


def test_ids_are_one_path_segment() -> None:
    with respx.mock:
        route = respx.get(f"{BASE}/v1/orgs/..%2Fusers%2Fme").mock(
            return_value=httpx.Response(200, json={**ORG, "members": []})
        )
        with Client(BASE) as c:
            c.orgs.get("../users/me")
        assert route.called
    with respx.mock:
        route = respx.post(f"{BASE}/v1/users/me/invitations/..%2F..%2Forgs/accept").mock(
            return_value=httpx.Response(200, json={"user_id": "u", "org_id": "o", "role": "viewer"})
        )
        with Client(BASE) as c:
            c.users.accept_invitation("../../orgs")
        assert route.called


ERRORS = [
    (401, "invalid_credentials", errors.AuthenticationError),
    (403, "permission_denied", errors.PermissionDenied),
    (404, "not_found", errors.NotFound),
    (409, "invitation_used", errors.Conflict),
    (422, "validation_failed", errors.ValidationFailed),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS, ids=[e[1] for e in ERRORS])
@respx.mock
async def test_errors_map_to_core_exceptions(
    run: Runner, status: int, code: str, cls: type[errors.APIStatusError]
) -> None:
    body = {
        "error": {
            "type": "x",
            "code": code,
            "message": "Role 'viewer' in org org_1 lacks permission 'keys:create'.",
            "request_id": "req_abc",
            "details": {"role": "viewer"},
        }
    }
    respx.post(f"{BASE}/v1/orgs/org_1/keys").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(cls) as info:
        await run(lambda c: c.keys.create("org_1", name="ci"))
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.request_id == "req_abc"
    assert info.value.details == {"role": "viewer"}


def test_public_api_is_pinned() -> None:
    assert sorted(identity.__all__) == sorted(
        [
            "CONSUMER",
            "PROVIDER",
            "PERMISSION_MATRIX",
            "ROLES",
            "STATE_ACCOUNT_INVITED",
            "STATE_API_KEY_EXISTS",
            "STATE_INVITATION_EXISTS",
            "STATE_ORG_EXISTS",
            "STATE_SERVICE_TOKEN",
            "STATE_USER_EXISTS",
            "AccessToken",
            "ApiKey",
            "ApiKeyCreated",
            "ApiKeyList",
            "AsyncAuth",
            "AsyncAuthz",
            "AsyncClient",
            "AsyncInvitations",
            "AsyncKeys",
            "AsyncMembers",
            "AsyncOrgs",
            "AsyncUsers",
            "Auth",
            "Authz",
            "AuthzDecision",
            "Client",
            "Invitation",
            "InvitationAccepted",
            "InvitationCreated",
            "InvitationList",
            "InvitationStatus",
            "Invitations",
            "KeyVerification",
            "Keys",
            "Member",
            "MemberList",
            "Members",
            "Org",
            "OrgDetail",
            "OrgList",
            "Orgs",
            "Permission",
            "Role",
            "User",
            "UserList",
            "Users",
        ]
    )
    for name in identity.__all__:
        assert hasattr(identity, name), name


def test_sync_and_async_resources_have_the_same_methods() -> None:
    sync, async_ = Client(BASE), AsyncClient(BASE)
    for name in ("auth", "users", "orgs", "members", "invitations", "keys", "authz"):
        s_methods = public_methods(getattr(sync, name))
        a_methods = public_methods(getattr(async_, name))
        assert s_methods == a_methods, name
    sync.close()


def test_client_never_imports_the_service() -> None:
    assert (
        modules_loaded_by(
            "gatewright.identity",
            ("fastapi", "gatewright.servicekit", "gatewright.identity.service", "sqlalchemy"),
        )
        == []
    )
