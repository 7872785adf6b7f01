"""Consumer contract: what `gatewright.identity.Client` needs from the identity service.

Every interaction is registered by a small builder right above the test that exercises it with the
real sync `Client`. Pact's mock server cannot take new interactions once it has served, so the
module fixture (`testkit.pactconsumer`) builds all of them, serves them once for the module, fails
at teardown if any was never requested (or mismatched), then writes `<pact
dir>/identity-client-identity.json` (`GATEWRIGHT_PACT_DIR`, default `<repo>/contracts`) exactly
once. Examples are fixed values (`pact_examples`), so the file is deterministic.

Requests carry `Authorization: Bearer <example token>` under a regex matcher; the provider test
makes exactly those example tokens valid (see its module docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from gatewright.core import AuthenticationError, NotFound, PermissionDenied, RetryPolicy
from gatewright.identity import (
    CONSUMER,
    PROVIDER,
    STATE_ACCOUNT_INVITED,
    STATE_API_KEY_EXISTS,
    STATE_INVITATION_EXISTS,
    STATE_ORG_EXISTS,
    STATE_SERVICE_TOKEN,
    STATE_USER_EXISTS,
    Client,
)
from gatewright.testkit.pactconsumer import Interactions, bearer, error_body, timestamp

from pact_examples import (  # isort: skip
    ALICE_EMAIL,
    ALICE_ID,
    ALICE_PASSWORD,
    ALICE_TOKEN,
    BOB_EMAIL,
    BOB_PASSWORD,
    INVITATION_ID,
    INVITATION_TOKEN,
    KEY_ID,
    KEY_MODELS,
    KEY_NAME,
    KEY_SECRET,
    ORG_ID,
    ORG_NAME,
    OTHERS_INVITATION_ID,
    SERVICE_TOKEN,
    VICTOR_EMAIL,
    VICTOR_ID,
    VICTOR_TOKEN,
    VIEWER_ORG_ID,
)

JSON = "application/json"

interaction = Interactions(CONSUMER, PROVIDER)


def prefixed(prefix: str, example: str) -> Any:
    return match.regex(example, regex=rf"^{prefix}_[A-Za-z0-9]+$")


def error(code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return error_body(match.str("permission_error"), code, details)


ALICE_STATE = {"user_id": ALICE_ID, "email": ALICE_EMAIL, "password": ALICE_PASSWORD}
ALICE_ORG_STATE = {
    "org_id": ORG_ID,
    "name": ORG_NAME,
    "user_id": ALICE_ID,
    "email": ALICE_EMAIL,
    "role": "owner",
    "token": ALICE_TOKEN,
}
KEY_STATE = {
    **ALICE_ORG_STATE,
    "key_id": KEY_ID,
    "key_name": KEY_NAME,
    "secret": KEY_SECRET,
    "models": list(KEY_MODELS),
}
API_KEY_BODY = {
    "id": KEY_ID,
    "org_id": ORG_ID,
    "name": KEY_NAME,
    "prefix": match.str("gwk_pact-exa"),
    "models": list(KEY_MODELS),
    "created_at": timestamp(),
    "created_by": ALICE_ID,
}


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


@pytest.fixture
def anon(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, retry=RetryPolicy(max_retries=0)) as client:
        yield client


def as_(anon: Client, token: str) -> Client:
    return anon.with_options(token=token)


# -- auth ------------------------------------------------------------------------------------
@interaction
def _login(pact: Pact) -> None:
    (
        pact.upon_receiving("a login with the right password")
        .given(STATE_USER_EXISTS, token=ALICE_TOKEN, **ALICE_STATE)
        .with_request("POST", "/v1/auth/login")
        .with_body({"email": ALICE_EMAIL, "password": ALICE_PASSWORD}, JSON)
        .will_respond_with(200)
        .with_body(
            {
                "access_token": match.str("eyJhbGciOiJFZERTQSJ9.e30.c2lnbmF0dXJl"),
                "token_type": "bearer",
                "expires_in": match.int(900),
                "user_id": ALICE_ID,
            },
            JSON,
        )
    )


def test_login(anon: Client) -> None:
    token = anon.auth.login(ALICE_EMAIL, ALICE_PASSWORD)
    assert token.user_id == ALICE_ID
    assert token.token_type == "bearer"
    assert token.access_token


@interaction
def _login_wrong_password(pact: Pact) -> None:
    (
        pact.upon_receiving("a login with a wrong password")
        .given(STATE_USER_EXISTS, token=ALICE_TOKEN, **ALICE_STATE)
        .with_request("POST", "/v1/auth/login")
        .with_body({"email": ALICE_EMAIL, "password": "not-her-password"}, JSON)
        .will_respond_with(401)
        .with_body(error("invalid_credentials"), JSON)
    )


def test_login_wrong_password(anon: Client) -> None:
    with pytest.raises(AuthenticationError) as info:
        anon.auth.login(ALICE_EMAIL, "not-her-password")
    assert info.value.code == "invalid_credentials"
    assert info.value.request_id


@interaction
def _me(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the current user")
        .given(STATE_USER_EXISTS, token=ALICE_TOKEN, **ALICE_STATE)
        .with_request("GET", "/v1/users/me")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(
            {
                "id": ALICE_ID,
                "email": ALICE_EMAIL,
                "is_platform_admin": match.bool(False),
                "created_at": timestamp(),
            },
            JSON,
        )
    )


def test_users_me(anon: Client) -> None:
    me = as_(anon, ALICE_TOKEN).users.me()
    assert me.id == ALICE_ID
    assert me.email == ALICE_EMAIL


# -- orgs ------------------------------------------------------------------------------------
@interaction
def _create_org(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to create an org")
        .given(STATE_USER_EXISTS, token=ALICE_TOKEN, **ALICE_STATE)
        .with_request("POST", "/v1/orgs")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .with_body({"name": ORG_NAME}, JSON)
        .will_respond_with(201)
        .with_body(
            {"id": prefixed("org", ORG_ID), "name": ORG_NAME, "created_at": timestamp()}, JSON
        )
    )


def test_create_org(anon: Client) -> None:
    org = as_(anon, ALICE_TOKEN).orgs.create(ORG_NAME)
    assert org.id.startswith("org_")
    assert org.name == ORG_NAME


@interaction
def _create_org_for_owner(pact: Pact) -> None:
    # gitops applying an Org manifest (decision 11): the service names the owner.
    (
        pact.upon_receiving("a service creating an org owned by a user it names")
        .given(STATE_USER_EXISTS, token=ALICE_TOKEN, **ALICE_STATE)
        .with_request("POST", "/v1/orgs")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"name": ORG_NAME, "owner_email": ALICE_EMAIL}, JSON)
        .will_respond_with(201)
        .with_body(
            {"id": prefixed("org", ORG_ID), "name": ORG_NAME, "created_at": timestamp()}, JSON
        )
    )


def test_create_org_for_owner(anon: Client) -> None:
    org = as_(anon, SERVICE_TOKEN).orgs.create(ORG_NAME, owner_email=ALICE_EMAIL)
    assert org.name == ORG_NAME


@interaction
def _get_org(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for an org with its members")
        .given(STATE_ORG_EXISTS, **ALICE_ORG_STATE)
        .with_request("GET", f"/v1/orgs/{ORG_ID}")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(
            {
                "id": ORG_ID,
                "name": ORG_NAME,
                "created_at": timestamp(),
                "members": match.each_like(
                    {
                        "user_id": ALICE_ID,
                        "email": ALICE_EMAIL,
                        "role": match.regex("owner", regex=r"^(owner|admin|member|viewer)$"),
                        "joined_at": timestamp(),
                    },
                    min=1,
                ),
            },
            JSON,
        )
    )


def test_get_org(anon: Client) -> None:
    org = as_(anon, ALICE_TOKEN).orgs.get(ORG_ID)
    assert org.id == ORG_ID
    assert org.members[0].user_id == ALICE_ID


# -- invitations -----------------------------------------------------------------------------
@interaction
def _create_invitation(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to invite someone as a member")
        .given(STATE_ORG_EXISTS, **ALICE_ORG_STATE)
        .with_request("POST", f"/v1/orgs/{ORG_ID}/invitations")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .with_body({"email": BOB_EMAIL, "role": "member"}, JSON)
        .will_respond_with(201)
        .with_body(
            {
                "id": prefixed("inv", INVITATION_ID),
                "org_id": ORG_ID,
                "email": BOB_EMAIL,
                "role": "member",
                "status": "pending",
                "expires_at": timestamp(),
                "token": match.regex(INVITATION_TOKEN, regex=r"^gwi_[A-Za-z0-9_-]{32,}$"),
            },
            JSON,
        )
    )


def test_create_invitation(anon: Client) -> None:
    inv = as_(anon, ALICE_TOKEN).invitations.create(ORG_ID, email=BOB_EMAIL, role="member")
    assert inv.status == "pending"
    assert inv.token.startswith("gwi_")


@interaction
def _accept_invitation(pact: Pact) -> None:
    (
        pact.upon_receiving("a new user accepting an invitation")
        .given(
            STATE_INVITATION_EXISTS,
            org_id=ORG_ID,
            invitation_id=INVITATION_ID,
            email=BOB_EMAIL,
            role="member",
            invitation_token=INVITATION_TOKEN,
        )
        .with_request("POST", "/v1/invitations/accept")
        .with_body({"token": INVITATION_TOKEN, "password": BOB_PASSWORD, "name": "Bob"}, JSON)
        .will_respond_with(200)
        .with_body(
            {"user_id": prefixed("usr", "usr_0b0b"), "org_id": ORG_ID, "role": "member"}, JSON
        )
    )


def test_accept_invitation(anon: Client) -> None:
    accepted = anon.invitations.accept(token=INVITATION_TOKEN, password=BOB_PASSWORD, name="Bob")
    assert accepted.org_id == ORG_ID
    assert accepted.role == "member"


MY_INVITATION_STATE = {
    "user_id": VICTOR_ID,
    "email": VICTOR_EMAIL,
    "token": VICTOR_TOKEN,
    "org_id": ORG_ID,
    "invitation_id": INVITATION_ID,
    "role": "viewer",
}


@interaction
def _list_my_invitations(pact: Pact) -> None:
    (
        pact.upon_receiving("an account listing the invitations addressed to it")
        .given(STATE_ACCOUNT_INVITED, invitation_email=VICTOR_EMAIL, **MY_INVITATION_STATE)
        .with_request("GET", "/v1/users/me/invitations")
        .with_header("Authorization", bearer(VICTOR_TOKEN))
        .will_respond_with(200)
        .with_body(
            {
                "data": [
                    {
                        "id": INVITATION_ID,
                        "org_id": ORG_ID,
                        "email": VICTOR_EMAIL,
                        "role": "viewer",
                        "status": "pending",
                        "expires_at": timestamp(),
                    }
                ]
            },
            JSON,
        )
    )


def test_list_my_invitations(anon: Client) -> None:
    [inv] = as_(anon, VICTOR_TOKEN).users.invitations().data
    assert (inv.id, inv.org_id, inv.role, inv.status) == (
        INVITATION_ID,
        ORG_ID,
        "viewer",
        "pending",
    )


@interaction
def _accept_my_invitation(pact: Pact) -> None:
    (
        pact.upon_receiving("an account accepting its invitation without the token")
        .given(STATE_ACCOUNT_INVITED, invitation_email=VICTOR_EMAIL, **MY_INVITATION_STATE)
        .with_request("POST", f"/v1/users/me/invitations/{INVITATION_ID}/accept")
        .with_header("Authorization", bearer(VICTOR_TOKEN))
        .will_respond_with(200)
        .with_body({"user_id": VICTOR_ID, "org_id": ORG_ID, "role": "viewer"}, JSON)
    )


def test_accept_my_invitation(anon: Client) -> None:
    accepted = as_(anon, VICTOR_TOKEN).users.accept_invitation(INVITATION_ID)
    assert (accepted.user_id, accepted.org_id, accepted.role) == (VICTOR_ID, ORG_ID, "viewer")


@interaction
def _accept_someone_elses_invitation(pact: Pact) -> None:
    (
        pact.upon_receiving("an account accepting an invitation addressed to someone else")
        .given(
            STATE_ACCOUNT_INVITED,
            **{
                **MY_INVITATION_STATE,
                "invitation_id": OTHERS_INVITATION_ID,
                "invitation_email": BOB_EMAIL,
            },
        )
        .with_request("POST", f"/v1/users/me/invitations/{OTHERS_INVITATION_ID}/accept")
        .with_header("Authorization", bearer(VICTOR_TOKEN))
        .will_respond_with(404)
        .with_body(error("not_found"), JSON)
    )


def test_accept_someone_elses_invitation(anon: Client) -> None:
    with pytest.raises(NotFound) as info:
        as_(anon, VICTOR_TOKEN).users.accept_invitation(OTHERS_INVITATION_ID)
    assert info.value.code == "not_found"


# -- API keys --------------------------------------------------------------------------------
@interaction
def _create_key(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to create an API key")
        .given(STATE_ORG_EXISTS, **ALICE_ORG_STATE)
        .with_request("POST", f"/v1/orgs/{ORG_ID}/keys")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .with_body({"name": KEY_NAME, "models": list(KEY_MODELS)}, JSON)
        .will_respond_with(201)
        .with_body(
            {
                **API_KEY_BODY,
                "id": prefixed("key", KEY_ID),
                "secret": match.regex(KEY_SECRET, regex=r"^gwk_[A-Za-z0-9_-]{32,}$"),
            },
            JSON,
        )
    )


def test_create_key(anon: Client) -> None:
    key = as_(anon, ALICE_TOKEN).keys.create(ORG_ID, name=KEY_NAME, models=list(KEY_MODELS))
    assert key.secret.startswith("gwk_")
    assert key.models == list(KEY_MODELS)


@interaction
def _list_keys(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to list an org's API keys")
        .given(STATE_API_KEY_EXISTS, **KEY_STATE)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/keys")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": match.each_like(API_KEY_BODY, min=1)}, JSON)
    )


def test_list_keys(anon: Client) -> None:
    keys = as_(anon, ALICE_TOKEN).keys.list(ORG_ID)
    assert [k.id for k in keys.data] == [KEY_ID]


@interaction
def _revoke_key(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to revoke an API key")
        .given(STATE_API_KEY_EXISTS, **KEY_STATE)
        .with_request("DELETE", f"/v1/orgs/{ORG_ID}/keys/{KEY_ID}")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body({**API_KEY_BODY, "revoked_at": timestamp()}, JSON)
    )


def test_revoke_key(anon: Client) -> None:
    key = as_(anon, ALICE_TOKEN).keys.revoke(ORG_ID, KEY_ID)
    assert key.revoked_at is not None


@interaction
def _verify_key(pact: Pact) -> None:
    (
        pact.upon_receiving("a service verifying an API key")
        .given(STATE_API_KEY_EXISTS, **KEY_STATE)
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("POST", "/v1/keys/verify")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"secret": KEY_SECRET}, JSON)
        .will_respond_with(200)
        .with_body(
            {"key_id": KEY_ID, "org_id": ORG_ID, "models": list(KEY_MODELS), "expires_at": None},
            JSON,
        )
    )


def test_verify_key(anon: Client) -> None:
    verified = as_(anon, SERVICE_TOKEN).keys.verify(KEY_SECRET)
    assert verified.key_id == KEY_ID
    assert verified.models == list(KEY_MODELS)


@interaction
def _create_key_as_viewer(pact: Pact) -> None:
    (
        pact.upon_receiving("a viewer trying to create an API key")
        .given(
            STATE_ORG_EXISTS,
            org_id=VIEWER_ORG_ID,
            name=ORG_NAME,
            user_id=VICTOR_ID,
            email=VICTOR_EMAIL,
            role="viewer",
            token=VICTOR_TOKEN,
        )
        .with_request("POST", f"/v1/orgs/{VIEWER_ORG_ID}/keys")
        .with_header("Authorization", bearer(VICTOR_TOKEN))
        .with_body({"name": KEY_NAME}, JSON)
        .will_respond_with(403)
        .with_body(
            error(
                "permission_denied",
                {"role": "viewer", "permission": "keys:create", "org_id": VIEWER_ORG_ID},
            ),
            JSON,
        )
    )


def test_viewer_cannot_create_keys(anon: Client) -> None:
    with pytest.raises(PermissionDenied) as info:
        as_(anon, VICTOR_TOKEN).keys.create(VIEWER_ORG_ID, name=KEY_NAME)
    assert info.value.code == "permission_denied"
    assert info.value.details["role"] == "viewer"
    assert info.value.details["permission"] == "keys:create"


# -- authorization ---------------------------------------------------------------------------
@interaction
def _authz_check(pact: Pact) -> None:
    (
        pact.upon_receiving("a service asking whether a member may create keys")
        .given(STATE_ORG_EXISTS, **{**ALICE_ORG_STATE, "role": "member"})
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("POST", "/v1/authz/check")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"subject": ALICE_ID, "org_id": ORG_ID, "permission": "keys:create"}, JSON)
        .will_respond_with(200)
        .with_body(
            {
                "allowed": True,
                "role": "member",
                "permission": "keys:create",
                "org_id": ORG_ID,
                "reason": match.str("Role 'member' grants 'keys:create'."),
            },
            JSON,
        )
    )


def test_authz_check(anon: Client) -> None:
    decision = as_(anon, SERVICE_TOKEN).authz.check(
        subject=ALICE_ID, org_id=ORG_ID, permission="keys:create"
    )
    assert decision.allowed is True
    assert decision.role == "member"


@interaction
def _authz_check_gitops_denied(pact: Pact) -> None:
    (
        pact.upon_receiving("gitops asking whether a member may manage the org's Applications")
        .given(STATE_ORG_EXISTS, **{**ALICE_ORG_STATE, "role": "member"})
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("POST", "/v1/authz/check")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"subject": ALICE_ID, "org_id": ORG_ID, "permission": "gitops:manage"}, JSON)
        .will_respond_with(200)
        .with_body(
            {
                "allowed": False,
                "role": "member",
                "permission": "gitops:manage",
                "org_id": ORG_ID,
                "reason": match.str("Role 'member' in org lacks permission 'gitops:manage'."),
            },
            JSON,
        )
    )


def test_authz_check_gitops_manage_is_owner_and_admin_only(anon: Client) -> None:
    decision = as_(anon, SERVICE_TOKEN).authz.check(
        subject=ALICE_ID, org_id=ORG_ID, permission="gitops:manage"
    )
    assert (decision.allowed, decision.role) == (False, "member")
