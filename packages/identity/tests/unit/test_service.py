"""The identity service in-process on a temp SQLite: flows, permissions, bad input, secrecy."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from identity_fixtures import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PASSWORD,
    SERVICE,
    World,
    add_member,
    audit_events,
    auth,
    login,
    make_settings,
    seed_user,
    snapshot,
)
from sqlalchemy import update

from gatewright.identity.service import create_app, permissions, store
from gatewright.identity.service.tokens import KEY_FILE
from gatewright.servicekit.auth import JWT_AUDIENCE, JWT_ISSUER
from gatewright.servicekit.logging import JsonLinesFormatter


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message", "request_id", "details"}
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


# -- login and tokens ------------------------------------------------------------------------
@pytest.mark.happy
def test_login_issues_an_eddsa_jwt_verifiable_with_the_jwks(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user_id"].startswith("usr_")
    jwks = client.get("/.well-known/jwks.json").json()
    (jwk,) = jwks["keys"]
    assert jwt.get_unverified_header(body["access_token"])["kid"] == jwk["kid"]
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        audience=JWT_AUDIENCE,
        issuer=JWT_ISSUER,
    )
    assert claims["sub"] == body["user_id"]
    assert claims["email"] == ADMIN_EMAIL
    assert claims["exp"] - claims["iat"] == 900


@pytest.mark.authz
def test_wrong_password_and_unknown_email_are_indistinguishable(client: TestClient) -> None:
    wrong = client.post("/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "nope-nope"})
    unknown = client.post("/v1/auth/login", json={"email": "ghost@x.io", "password": "nope-nope"})
    a = assert_envelope(wrong, 401, "invalid_credentials")
    b = assert_envelope(unknown, 401, "invalid_credentials")
    a.pop("request_id")
    b.pop("request_id")
    assert a == b


def test_users_me_and_bad_tokens(client: TestClient) -> None:
    token = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    me = client.get("/v1/users/me", headers=auth(token)).json()
    assert me["email"] == ADMIN_EMAIL
    assert me["is_platform_admin"] is True
    assert me["created_at"].endswith("Z")
    assert_envelope(client.get("/v1/users/me"), 401, "unauthenticated")
    assert_envelope(client.get("/v1/users/me", headers=auth("garbage")), 401, "unauthenticated")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert_envelope(client.get("/v1/users/me", headers=auth(tampered)), 401)


def test_bootstrap_is_idempotent_and_the_key_persists(tmp_path: Path) -> None:
    kids, admins = [], []
    for _ in range(2):
        app = create_app(make_settings(tmp_path))
        with TestClient(app) as c:
            kids.append(c.get("/.well-known/jwks.json").json()["keys"][0]["kid"])
            admins.append(login(c, ADMIN_EMAIL, ADMIN_PASSWORD) and app.state.admin_id)
    assert kids[0] == kids[1]
    assert admins[0] == admins[1]
    mode = stat.S_IMODE(os.stat(tmp_path / KEY_FILE).st_mode)
    assert mode == 0o600


def test_production_refuses_the_dev_admin_password(tmp_path: Path) -> None:
    from pydantic import SecretStr, ValidationError

    from gatewright.identity.service.config import DEV_ADMIN_PASSWORD

    with pytest.raises(ValidationError, match="BOOTSTRAP_ADMIN_PASSWORD"):
        make_settings(
            tmp_path,
            environment="production",
            bootstrap_admin_password=SecretStr(DEV_ADMIN_PASSWORD),
        )


# -- orgs and members ------------------------------------------------------------------------
@pytest.mark.happy
def test_org_lifecycle(client: TestClient, world: World) -> None:
    org = client.get(f"/v1/orgs/{world.org_id}", headers=world.h("viewer")).json()
    roles = {m["user_id"]: m["role"] for m in org["members"]}
    assert roles == {world.users[r]: r for r in ("owner", "admin", "member", "viewer")}
    listed = client.get("/v1/orgs", headers=world.h("viewer")).json()["data"]
    assert [o["id"] for o in listed] == [world.org_id]
    assert client.get("/v1/orgs", headers=world.h("outsider")).json()["data"] == []

    verify = {"secret": world.key_secret}
    assert client.post("/v1/keys/verify", json=verify, headers=SERVICE).status_code == 200
    assert client.delete(f"/v1/orgs/{world.org_id}", headers=world.h("owner")).status_code == 204
    gone = client.post("/v1/keys/verify", json=verify, headers=SERVICE)
    assert assert_envelope(gone, 401, "invalid_api_key")["details"]["reason"] == "unknown"
    assert client.get("/v1/orgs", headers=world.h("viewer")).json()["data"] == []


def test_a_service_creates_an_org_owned_by_the_user_it_names(
    client: TestClient, world: World
) -> None:
    # gitops applies an Org manifest this way (decision 11): the org has a real owner.
    body = {"name": "from-git", "owner_email": "ADMIN@gatewright.test"}
    created = client.post("/v1/orgs", json=body, headers=SERVICE)
    assert created.status_code == 201, created.text
    org = client.get(f"/v1/orgs/{created.json()['id']}", headers=SERVICE).json()
    assert [(m["email"], m["role"]) for m in org["members"]] == [(ADMIN_EMAIL, "owner")]

    nobody = {"name": "x", "owner_email": "nobody@example.test"}
    problem = assert_envelope(client.post("/v1/orgs", json=nobody, headers=SERVICE), 422)
    assert problem["code"] == "owner_not_found"
    unnamed = client.post("/v1/orgs", json={"name": "x"}, headers=SERVICE)
    assert assert_envelope(unnamed, 422)["details"]["field"] == "owner_email"
    # A user creates orgs they own: naming someone else is refused, and nothing is created.
    theirs = client.post("/v1/orgs", json=nobody, headers=world.h("viewer"))
    assert assert_envelope(theirs, 400)["details"]["field"] == "owner_email"
    listed = client.get("/v1/orgs", headers=world.h("viewer")).json()["data"]
    assert [o["id"] for o in listed] == [world.org_id]


def test_a_service_manages_members_invites_and_deletes_orgs(
    app: FastAPI, client: TestClient, world: World
) -> None:
    # gitops applying Membership manifests and pruning (decision 13): the service token passes
    # the permission checks, never the last-owner rule.
    org, owner, member = world.org_id, world.users["owner"], world.users["member"]
    gitops = {**SERVICE, "X-Gatewright-Service": "gitops"}
    base = f"/v1/orgs/{org}/members"
    demote = client.patch(f"{base}/{owner}", json={"role": "admin"}, headers=gitops)
    assert_envelope(demote, 409, "last_owner")
    promoted = client.patch(f"{base}/{member}", json={"role": "owner"}, headers=gitops)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "owner"
    removed = client.delete(f"{base}/{world.users['viewer']}", headers=gitops)
    assert removed.status_code == 204
    invited = client.post(
        f"/v1/orgs/{org}/invitations",
        json={"email": "newcomer@example.test", "role": "owner"},
        headers=gitops,
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["token"].startswith("gwi_")
    missing = client.post(
        "/v1/orgs/org_nope/invitations",
        json={"email": "x@example.test", "role": "member"},
        headers=gitops,
    )
    assert_envelope(missing, 404, "org_not_found")
    forged = client.patch(f"{base}/{owner}", json={"role": "viewer"}, headers=auth("nonsense"))
    assert_envelope(forged, 401, "unauthenticated")

    actors = {
        (e["action"], e["actor"]["type"], e["actor"]["id"])
        for e in audit_events(app)
        if e["action"] in ("member.role_change", "member.remove", "invitation.create")
        and e["actor"]["type"] == "service"
    }
    assert actors == {
        ("member.role_change", "service", "gitops"),
        ("member.remove", "service", "gitops"),
        ("invitation.create", "service", "gitops"),
    }
    assert "gwi_" not in str(audit_events(app))
    assert client.delete(f"/v1/orgs/{org}", headers=gitops).status_code == 204
    assert_envelope(client.get(f"/v1/orgs/{org}", headers=SERVICE), 404, "org_not_found")
    [deleted] = audit_events(app, "org.delete")
    assert (deleted["actor"]["type"], deleted["actor"]["id"]) == ("service", "gitops")


def test_roles_change_and_the_last_owner_stays(client: TestClient, world: World) -> None:
    org, owner = world.org_id, world.users["owner"]
    h = world.h("owner")
    r = client.patch(f"/v1/orgs/{org}/members/{owner}", json={"role": "admin"}, headers=h)
    assert_envelope(r, 409, "last_owner")
    assert_envelope(client.delete(f"/v1/orgs/{org}/members/{owner}", headers=h), 409, "last_owner")
    member = world.users["member"]
    r = client.patch(f"/v1/orgs/{org}/members/{member}", json={"role": "owner"}, headers=h)
    assert r.status_code == 200
    assert r.json()["role"] == "owner"
    r = client.patch(f"/v1/orgs/{org}/members/{owner}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 200
    assert (
        client.delete(
            f"/v1/orgs/{org}/members/{world.users['viewer']}", headers=world.h("member")
        ).status_code
        == 204
    )


@pytest.mark.authz
@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"email": "x@example.test", "role": "owner"}, "invitations"),
        ({"role": "owner"}, "members/{member}"),
        ({"role": "viewer"}, "members/{owner}"),
    ],
    ids=["invite-owner", "grant-owner", "demote-owner"],
)
def test_admins_cannot_grant_or_touch_owner(
    app: FastAPI, client: TestClient, world: World, body: dict[str, str], path: str
) -> None:
    before = snapshot(app)
    url = f"/v1/orgs/{world.org_id}/" + path.format(
        member=world.users["member"], owner=world.users["owner"]
    )
    method = client.post if path == "invitations" else client.patch
    error = assert_envelope(
        method(url, json=body, headers=world.h("admin")), 403, "permission_denied"
    )
    assert "Role 'admin'" in error["message"]
    assert "'owner'" in error["message"]
    assert snapshot(app) == before


# -- the permission matrix -------------------------------------------------------------------
# Written out by hand from the design (not derived from permissions.MATRIX), so a matrix edit
# has to be made twice, on purpose.
EXPECTED: dict[str, set[str]] = {
    "org:read": {"owner", "admin", "member", "viewer"},
    "org:delete": {"owner"},
    "members:read": {"owner", "admin", "member", "viewer"},
    "members:invite": {"owner", "admin"},
    "members:manage": {"owner", "admin"},
    "keys:create": {"owner", "admin", "member"},
    "keys:read": {"owner", "admin", "member", "viewer"},
    "keys:revoke": {"owner", "admin", "member"},
    "budgets:set": {"owner", "admin"},
    "budgets:read": {"owner", "admin", "member", "viewer"},
    "audit:read": {"owner", "admin"},
    "routes:manage": {"owner", "admin"},
    "gitops:manage": {"owner", "admin"},
}
WHO = ("owner", "admin", "member", "viewer", "outsider")


def test_matrix_matches_the_design() -> None:
    assert {p: set(r) for p, r in permissions.MATRIX.items()} == EXPECTED


@pytest.mark.authz
@pytest.mark.parametrize("permission", sorted(EXPECTED))
def test_authz_check_table(client: TestClient, world: World, permission: str) -> None:
    for who in WHO:
        body = {"subject": world.users[who], "org_id": world.org_id, "permission": permission}
        decision = client.post("/v1/authz/check", json=body, headers=SERVICE).json()
        assert decision["allowed"] is (who in EXPECTED[permission]), (who, decision)
        assert decision["role"] == (who if who != "outsider" else "none")
        # The subject may ask about themself too, with the same answer.
        own = client.post("/v1/authz/check", json=body, headers=world.h(who)).json()
        assert own["allowed"] == decision["allowed"]


ROUTE_PERMISSIONS = [
    ("GET", "/v1/orgs/{org}", None, "org:read", 200),
    ("GET", "/v1/orgs/{org}/members", None, "members:read", 200),
    ("GET", "/v1/orgs/{org}/invitations", None, "members:invite", 200),
    (
        "POST",
        "/v1/orgs/{org}/invitations",
        {"email": "z@example.test", "role": "viewer"},
        "members:invite",
        201,
    ),
    ("PATCH", "/v1/orgs/{org}/members/{viewer}", {"role": "viewer"}, "members:manage", 200),
    ("GET", "/v1/orgs/{org}/keys", None, "keys:read", 200),
    ("POST", "/v1/orgs/{org}/keys", {"name": "k"}, "keys:create", 201),
    ("DELETE", "/v1/orgs/{org}/keys/{key}", None, "keys:revoke", 200),
    ("DELETE", "/v1/orgs/{org}", None, "org:delete", 204),
]


@pytest.mark.authz
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(
    ("method", "path", "body", "permission", "ok"),
    ROUTE_PERMISSIONS,
    ids=[r[3] + ":" + r[0] for r in ROUTE_PERMISSIONS],
)
def test_routes_enforce_the_matrix(
    app: FastAPI,
    client: TestClient,
    world: World,
    who: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    permission: str,
    ok: int,
) -> None:
    url = path.format(org=world.org_id, viewer=world.users["viewer"], key=world.key_id)
    before = snapshot(app)
    response = client.request(method, url, json=body, headers=world.h(who))
    if who in EXPECTED[permission]:
        assert response.status_code == ok, response.text
        return
    error = assert_envelope(response, 403, "permission_denied")
    role = who if who != "outsider" else "none"
    assert error["details"] == {"role": role, "permission": permission, "org_id": world.org_id}
    assert (
        f"Role '{role}' in org {world.org_id} lacks permission '{permission}'." in error["message"]
    )
    assert snapshot(app) == before
    # Every denial is audited, although the request's transaction rolled back.
    [denial] = [
        e
        for e in audit_events(app, "authz.denied")
        if e["request_id"] == response.headers["x-request-id"]
    ]
    assert denial["outcome"] == "denied"
    assert denial["actor"] == {"type": "user", "id": world.users[who]}
    assert denial["org_id"] == world.org_id
    assert denial["reason"] == error["message"]
    assert denial["details"] == {"role": role, "permission": permission}


def test_platform_admin_passes_every_check(client: TestClient, world: World) -> None:
    h = world.h("platform_admin")
    assert client.get(f"/v1/orgs/{world.org_id}/keys", headers=h).status_code == 200
    assert_envelope(client.get("/v1/orgs/org_nope", headers=h), 404, "org_not_found")
    assert client.delete(f"/v1/orgs/{world.org_id}", headers=h).status_code == 204


def test_outsiders_cannot_tell_whether_an_org_exists(client: TestClient, world: World) -> None:
    real = assert_envelope(client.get(f"/v1/orgs/{world.org_id}", headers=world.h("outsider")), 403)
    fake = assert_envelope(client.get("/v1/orgs/org_0000", headers=world.h("outsider")), 403)
    assert real["details"]["role"] == fake["details"]["role"] == "none"


def test_a_service_reads_any_org_and_learns_which_do_not_exist(
    client: TestClient, world: World
) -> None:
    # Budgets asks this before it keeps a budget for an org; gitops reads live state with it.
    org = client.get(f"/v1/orgs/{world.org_id}", headers=SERVICE)
    assert org.status_code == 200, org.text
    assert {m["role"] for m in org.json()["members"]} == {"owner", "admin", "member", "viewer"}
    assert_envelope(client.get("/v1/orgs/org_0000", headers=SERVICE), 404, "org_not_found")


# -- invitations -----------------------------------------------------------------------------
@pytest.mark.happy
def test_invitation_accept_creates_the_user_once(client: TestClient, world: World) -> None:
    body = {"token": world.invitation_token, "password": "new-user-pw", "name": "New"}
    accepted = client.post("/v1/invitations/accept", json=body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["org_id"] == world.org_id
    assert accepted.json()["role"] == "member"
    assert login(client, "new@example.test", "new-user-pw")
    assert_envelope(client.post("/v1/invitations/accept", json=body), 409, "invitation_used")
    listed = client.get(f"/v1/orgs/{world.org_id}/invitations", headers=world.h("admin")).json()
    assert [i["status"] for i in listed["data"]] == ["accepted"]
    assert "token" not in listed["data"][0]


def test_invitation_for_an_existing_user_needs_their_password(
    app: FastAPI, client: TestClient, world: World
) -> None:
    seed_user(app, "known@example.test")
    inv = client.post(
        f"/v1/orgs/{world.org_id}/invitations",
        json={"email": "known@example.test", "role": "viewer"},
        headers=world.h("owner"),
    ).json()
    before = snapshot(app)
    wrong = client.post(
        "/v1/invitations/accept", json={"token": inv["token"], "password": "wrong-password"}
    )
    assert_envelope(wrong, 401, "invalid_credentials")
    assert snapshot(app) == before
    ok = client.post("/v1/invitations/accept", json={"token": inv["token"], "password": PASSWORD})
    assert ok.status_code == 200


def test_invitation_errors(app: FastAPI, client: TestClient, world: World) -> None:
    before = snapshot(app)
    short = client.post(
        "/v1/invitations/accept", json={"token": world.invitation_token, "password": "short"}
    )
    assert_envelope(short, 422, "validation_failed")
    unknown = client.post(
        "/v1/invitations/accept", json={"token": "gwi_nope", "password": "long-enough"}
    )
    assert_envelope(unknown, 404, "not_found")
    assert snapshot(app) == before
    with app.state.db.session() as s, s.begin():
        s.execute(
            update(store.invitations).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = client.post(
        "/v1/invitations/accept", json={"token": world.invitation_token, "password": "long-enough"}
    )
    assert_envelope(expired, 409, "invitation_expired")
    listed = client.get(f"/v1/orgs/{world.org_id}/invitations", headers=world.h("owner")).json()
    assert listed["data"][0]["status"] == "expired"


def test_invitation_is_single_use_under_concurrency(
    app: FastAPI, client: TestClient, world: World
) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(6)
    body = {"token": world.invitation_token, "password": "new-user-pw"}

    def accept() -> None:
        barrier.wait()
        statuses.append(client.post("/v1/invitations/accept", json=body).status_code)

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 5
    with app.state.db.session() as s:
        assert len(store.list_members(s, org_id=world.org_id)) == 5


def test_invitation_ttl_bounds(client: TestClient, world: World) -> None:
    url = f"/v1/orgs/{world.org_id}/invitations"
    for ttl in (0, 2_592_001, "soon"):
        r = client.post(
            url,
            json={"email": "t@example.test", "role": "viewer", "ttl_seconds": ttl},
            headers=world.h("owner"),
        )
        assert_envelope(r, 422, "validation_failed")
    r = client.post(
        url,
        json={"email": "t@example.test", "role": "viewer", "ttl_seconds": 60},
        headers=world.h("owner"),
    )
    assert r.status_code == 201
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(seconds=50) < expires - datetime.now(UTC) <= timedelta(seconds=60)


# -- "my invitations": an account accepts without the token ------------------------------------
def _invite(client: TestClient, world: World, email: str, role: str = "viewer") -> str:
    r = client.post(
        f"/v1/orgs/{world.org_id}/invitations",
        json={"email": email, "role": role},
        headers=world.h("owner"),
    )
    assert r.status_code == 201, r.text
    invitation_id: str = r.json()["id"]
    return invitation_id


@pytest.mark.happy
def test_an_account_lists_and_accepts_its_own_invitations_without_the_token(
    app: FastAPI, client: TestClient, world: World
) -> None:
    known = seed_user(app, "known@example.test")
    mine = _invite(client, world, "Known@Example.test", role="member")  # case does not matter
    h = auth(login(client, "known@example.test"))

    listed = client.get("/v1/users/me/invitations", headers=h)
    assert listed.status_code == 200, listed.text
    data = listed.json()["data"]
    # Only mine: world's invitation for new@example.test is someone else's.
    assert [(i["id"], i["org_id"], i["role"], i["status"]) for i in data] == [
        (mine, world.org_id, "member", "pending")
    ]
    assert "token" not in data[0]

    accepted = client.post(f"/v1/users/me/invitations/{mine}/accept", headers=h)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"user_id": known, "org_id": world.org_id, "role": "member"}
    with app.state.db.session() as s:
        assert store.get_role(s, org_id=world.org_id, user_id=known) == "member"
    [event] = audit_events(app, "invitation.accept")
    assert event["actor"] == {"type": "user", "id": known}
    assert event["target"] == {"type": "invitation", "id": mine}
    assert event["details"] == {"role": "member", "new_account": False, "via": "account"}

    assert client.get("/v1/users/me/invitations", headers=h).json()["data"] == []
    again = client.post(f"/v1/users/me/invitations/{mine}/accept", headers=h)
    assert_envelope(again, 409, "invitation_used")
    # The token way is closed too: one claim, whichever way it came.
    org_invitations = client.get(
        f"/v1/orgs/{world.org_id}/invitations", headers=world.h("owner")
    ).json()["data"]
    assert {i["id"]: i["status"] for i in org_invitations}[mine] == "accepted"


def test_someone_elses_invitation_is_not_found_and_changes_nothing(
    app: FastAPI, client: TestClient, world: World
) -> None:
    before = snapshot(app)
    # world.invitation_id is addressed to new@example.test; the outsider and an org owner
    # (who can list it in the org) still cannot accept it as their own.
    for who in ("outsider", "owner", "platform_admin"):
        r = client.post(
            f"/v1/users/me/invitations/{world.invitation_id}/accept", headers=world.h(who)
        )
        error = assert_envelope(r, 404, "not_found")
        assert "new@example.test" not in error["message"]
        assert client.get("/v1/users/me/invitations", headers=world.h(who)).json()["data"] == []
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("invitation_id", "status"),
    [
        ("inv_unknown", 404),
        ("x" * 101, 422),  # longer than any id
        ("%00", 422),  # NUL: PostgreSQL refuses it in text; never a 5xx
        ("inv%0A", 422),
        ("..%2Finv", 404),  # an encoded slash is one segment, a plain unknown id
    ],
)
def test_malformed_invitation_ids_are_a_4xx(
    app: FastAPI, client: TestClient, world: World, invitation_id: str, status: int
) -> None:
    before = snapshot(app)
    r = client.post(f"/v1/users/me/invitations/{invitation_id}/accept", headers=world.h("owner"))
    assert_envelope(r, status)
    assert snapshot(app) == before


def test_a_service_token_has_no_me(app: FastAPI, client: TestClient, world: World) -> None:
    before = snapshot(app)
    assert_envelope(client.get("/v1/users/me/invitations", headers=SERVICE), 401, "unauthenticated")
    r = client.post(f"/v1/users/me/invitations/{world.invitation_id}/accept", headers=SERVICE)
    assert_envelope(r, 401, "unauthenticated")
    assert snapshot(app) == before


def test_my_expired_or_redundant_invitation_is_a_409_and_changes_nothing(
    app: FastAPI, client: TestClient, world: World
) -> None:
    known = seed_user(app, "known@example.test")
    expired = _invite(client, world, "known@example.test")
    with app.state.db.session() as s, s.begin():
        s.execute(
            update(store.invitations)
            .where(store.invitations.c.id == expired)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    redundant = _invite(client, world, "known@example.test")
    add_member(app, world.org_id, known, "viewer")  # joined another way since
    h = auth(login(client, "known@example.test"))
    listed = client.get("/v1/users/me/invitations", headers=h).json()["data"]
    assert [i["id"] for i in listed] == [redundant]  # an expired one is not pending
    before = snapshot(app)
    r = client.post(f"/v1/users/me/invitations/{expired}/accept", headers=h)
    assert_envelope(r, 409, "invitation_expired")
    r = client.post(f"/v1/users/me/invitations/{redundant}/accept", headers=h)
    assert_envelope(r, 409, "already_member")
    assert snapshot(app) == before


# -- API keys --------------------------------------------------------------------------------
@pytest.mark.happy
def test_key_lifecycle(client: TestClient, world: World) -> None:
    url = f"/v1/orgs/{world.org_id}/keys"
    created = client.post(
        url,
        json={"name": "gw", "models": ["sim-echo"], "expires_at": "2099-01-01T00:00:00Z"},
        headers=world.h("admin"),
    ).json()
    assert created["secret"].startswith("gwk_")
    assert len(created["secret"]) >= 36
    assert created["id"].startswith("key_")
    assert created["prefix"] == created["secret"][:12]
    listed = client.get(url, headers=world.h("viewer")).json()["data"]
    assert all("secret" not in k for k in listed)
    verified = client.post(
        "/v1/keys/verify", json={"secret": created["secret"]}, headers=SERVICE
    ).json()
    assert verified == {
        "key_id": created["id"],
        "org_id": world.org_id,
        "models": ["sim-echo"],
        "expires_at": "2099-01-01T00:00:00Z",
        "rate_limit_rpm": None,
    }
    first = client.delete(f"{url}/{created['id']}", headers=world.h("member")).json()
    again = client.delete(f"{url}/{created['id']}", headers=world.h("member")).json()
    assert first["revoked_at"] is not None
    assert again["revoked_at"] == first["revoked_at"]
    r = client.post("/v1/keys/verify", json={"secret": created["secret"]}, headers=SERVICE)
    error = assert_envelope(r, 401, "invalid_api_key")
    assert error["details"]["reason"] == "revoked"
    assert "revoked" in error["message"]
    assert created["secret"] not in r.text


def test_key_verify_reasons_and_service_only(
    app: FastAPI, client: TestClient, world: World
) -> None:
    body = {"secret": world.key_secret}
    assert_envelope(client.post("/v1/keys/verify", json=body), 401, "unauthenticated")
    assert_envelope(
        client.post("/v1/keys/verify", json=body, headers=world.h("owner")), 401, "unauthenticated"
    )
    unknown = client.post("/v1/keys/verify", json={"secret": "gwk_nope"}, headers=SERVICE)
    assert assert_envelope(unknown, 401, "invalid_api_key")["details"]["reason"] == "unknown"
    with app.state.db.session() as s, s.begin():
        s.execute(
            update(store.api_keys).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = client.post("/v1/keys/verify", json=body, headers=SERVICE)
    assert assert_envelope(expired, 401, "invalid_api_key")["details"]["reason"] == "expired"
    past = client.post(
        f"/v1/orgs/{world.org_id}/keys",
        json={"name": "old", "expires_at": "2000-01-01T00:00:00Z"},
        headers=world.h("owner"),
    )
    assert_envelope(past, 422, "validation_failed")


@pytest.mark.parametrize("edge", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_key_expiry_utc_cannot_hold_is_422_and_creates_no_key(
    app: FastAPI, client: TestClient, world: World, edge: str
) -> None:
    """Found by the fuzz stage: the year-10000 one was a 500 (an OverflowError on the write)."""
    before = snapshot(app)
    response = client.post(
        f"/v1/orgs/{world.org_id}/keys",
        json={"name": "edge", "expires_at": edge},
        headers=world.h("owner"),
    )
    error = assert_envelope(response, 422, "validation_failed")
    assert "outside the times this service can hold" in error["message"]
    assert snapshot(app) == before


def test_authz_check_rules(client: TestClient, world: World) -> None:
    body = {"subject": world.users["viewer"], "org_id": world.org_id, "permission": "keys:read"}
    assert_envelope(
        client.post("/v1/authz/check", json=body, headers=world.h("owner")),
        403,
        "permission_denied",
    )
    assert_envelope(client.post("/v1/authz/check", json=body), 401, "unauthenticated")
    bad = {**body, "permission": "keys:steal"}
    assert_envelope(
        client.post("/v1/authz/check", json=bad, headers=SERVICE), 422, "validation_failed"
    )
    ghost = client.post(
        "/v1/authz/check", json={**body, "subject": "usr_ghost"}, headers=SERVICE
    ).json()
    assert ghost["allowed"] is False
    assert ghost["role"] == "none"


# -- bad input, everywhere -------------------------------------------------------------------
BIG = "x" * (1024 * 1024 + 10)

# (method, path, who, valid body): every JSON endpoint; path placeholders are filled from World.
JSON_ENDPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "/v1/auth/login", "nobody", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
    ("POST", "/v1/orgs", "owner", {"name": "acme2"}),
    ("PATCH", "/v1/orgs/{org}/members/{viewer}", "owner", {"role": "member"}),
    ("POST", "/v1/orgs/{org}/invitations", "owner", {"email": "q@example.test", "role": "viewer"}),
    ("POST", "/v1/invitations/accept", "nobody", {"token": "{inv}", "password": "long-enough"}),
    ("POST", "/v1/orgs/{org}/keys", "owner", {"name": "k2"}),
    ("POST", "/v1/keys/verify", "service", {"secret": "{secret}"}),
    ("POST", "/v1/keys/revocation-hooks", "service", {"url": "http://127.0.0.1:9/hook"}),
    (
        "POST",
        "/v1/authz/check",
        "service",
        {"subject": "{owner}", "org_id": "{org}", "permission": "keys:read"},
    ),
]


# Wrong types for the first field of each body; missing fields; an unknown field; oversized.
def _variants(body: dict[str, Any]) -> list[tuple[str, Any, int]]:
    first = next(iter(body))
    return [
        ("malformed-json", b'{"oops": ', 400),
        ("not-an-object", b"[1, 2]", 422),
        ("wrong-type", {**body, first: 12345}, 422),
        ("null-field", {**body, first: None}, 422),
        ("missing-fields", {}, 422),
        ("unknown-field", {**body, "surprise": 1}, 422),
        ("oversized", {**body, "pad": BIG}, 413),
    ]


def _fill(value: Any, world: World) -> Any:
    if isinstance(value, str):
        return value.format(
            org=world.org_id,
            viewer=world.users["viewer"],
            owner=world.users["owner"],
            inv=world.invitation_token,
            secret=world.key_secret,
            key=world.key_id,
        )
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _headers(world: World, who: str) -> dict[str, str]:
    if who == "service":
        return dict(SERVICE)
    return world.h(who) if who in world.tokens else {}


BAD_BODY_CASES = [
    (method, path, who, body, name, payload, status)
    for method, path, who, body in JSON_ENDPOINTS
    for name, payload, status in _variants(body)
]


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "name", "payload", "status"),
    BAD_BODY_CASES,
    ids=[f"{c[0]} {c[1]} {c[4]}" for c in BAD_BODY_CASES],
)
def test_bad_bodies_get_a_4xx_envelope_and_change_nothing(
    app: FastAPI,
    client: TestClient,
    world: World,
    method: str,
    path: str,
    who: str,
    body: dict[str, Any],
    name: str,
    payload: Any,
    status: int,
) -> None:
    url = _fill(path, world)
    headers = {**_headers(world, who), "Content-Type": "application/json"}
    content = payload if isinstance(payload, bytes) else json.dumps(_fill(payload, world)).encode()
    before = snapshot(app)
    response = client.request(method, url, content=content, headers=headers)
    assert_envelope(response, status)
    assert snapshot(app) == before
    # The valid body does work (so the table really exercises the endpoint).
    if method != "PATCH":
        good = client.request(method, url, json=_fill(body, world), headers=_headers(world, who))
        assert good.status_code < 300, good.text


UNKNOWN_IDS = [
    ("GET", "/v1/orgs/org_unknown", "platform_admin", 404),
    ("GET", "/v1/orgs/org_unknown", "owner", 403),
    ("DELETE", "/v1/orgs/org_unknown", "platform_admin", 404),
    ("GET", "/v1/orgs/org_unknown/members", "owner", 403),
    ("PATCH", "/v1/orgs/{org}/members/usr_unknown", "owner", 404),
    ("DELETE", "/v1/orgs/{org}/members/usr_unknown", "owner", 404),
    ("GET", "/v1/orgs/org_unknown/invitations", "owner", 403),
    ("POST", "/v1/orgs/org_unknown/invitations", "owner", 403),
    ("GET", "/v1/orgs/org_unknown/keys", "owner", 403),
    ("POST", "/v1/orgs/org_unknown/keys", "owner", 403),
    ("DELETE", "/v1/orgs/{org}/keys/key_unknown", "owner", 404),
    ("DELETE", "/v1/orgs/org_unknown/keys/{key}", "owner", 403),
    ("POST", "/v1/users/me/invitations/inv_unknown/accept", "outsider", 404),
    ("GET", "/v1/nothing-here", "owner", 404),
    ("PUT", "/v1/orgs", "owner", 405),
]
BODIES = {
    "PATCH": {"role": "viewer"},
    "POST": {"name": "k", "email": "u@example.test", "role": "viewer"},
}


@pytest.mark.parametrize(
    ("method", "path", "who", "status"),
    UNKNOWN_IDS,
    ids=[f"{m} {p} {w}" for m, p, w, _ in UNKNOWN_IDS],
)
def test_unknown_ids_get_a_4xx_envelope_and_change_nothing(
    app: FastAPI, client: TestClient, world: World, method: str, path: str, who: str, status: int
) -> None:
    body = BODIES.get(method)
    if body and path.endswith("/keys"):
        body = {"name": "k"}
    elif body and path.endswith("/invitations"):
        body = {"email": "u@example.test", "role": "viewer"}
    before = snapshot(app)
    response = client.request(method, _fill(path, world), json=body, headers=world.h(who))
    assert_envelope(response, status)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/me",
        "/v1/users/me/invitations",
        "/v1/orgs",
        "/v1/orgs/{org}",
        "/v1/orgs/{org}/members",
        "/v1/orgs/{org}/keys",
        "/v1/orgs/{org}/invitations",
    ],
)
@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_reads_need_a_valid_token(
    client: TestClient, world: World, path: str, token: str | None
) -> None:
    headers = auth(token) if token else {}
    assert_envelope(client.get(_fill(path, world), headers=headers), 401)


# -- secrecy ---------------------------------------------------------------------------------
def test_logs_never_carry_secrets(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = [ADMIN_PASSWORD, PASSWORD, "new-user-pw", "wrong-password-9"]
    token = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    secrets_seen.append(token)
    client.post("/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong-password-9"})
    h = auth(token)
    org = client.post("/v1/orgs", json={"name": "o"}, headers=h).json()["id"]
    inv = client.post(
        f"/v1/orgs/{org}/invitations", json={"email": "n@example.test", "role": "admin"}, headers=h
    ).json()
    secrets_seen.append(inv["token"])
    client.post("/v1/invitations/accept", json={"token": inv["token"], "password": "new-user-pw"})
    key = client.post(f"/v1/orgs/{org}/keys", json={"name": "k"}, headers=h).json()
    secrets_seen.append(key["secret"])
    client.post("/v1/keys/verify", json={"secret": key["secret"]}, headers=SERVICE)
    client.delete(f"/v1/orgs/{org}/keys/{key['id']}", headers=h)
    client.post("/v1/keys/verify", json={"secret": key["secret"]}, headers=SERVICE)
    client.post("/v1/invitations/accept", json={"token": inv["token"], "password": "new-user-pw"})
    formatter = JsonLinesFormatter("identity")
    text = "\n".join(formatter.format(r) + repr(r.__dict__) for r in caplog.records)
    assert "org created" in text
    assert "invitation accepted" in text
    for secret in [*secrets_seen, SERVICE["Authorization"].split()[1]]:
        assert secret not in text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/orgs", {"name": "a\x00b"}),
        ("/v1/orgs/{org}/keys", {"name": "k\x1b[31m"}),
        ("/v1/orgs/{org}/keys", {"name": "k", "models": ["m\x00"]}),
        ("/v1/orgs/{org}/invitations", {"email": "a\x00@example.test", "role": "viewer"}),
    ],
)
def test_control_characters_are_refused(
    app: FastAPI, client: TestClient, world: World, path: str, body: dict[str, Any]
) -> None:
    before = snapshot(app)
    response = client.post(_fill(path, world), json=body, headers=world.h("owner"))
    assert_envelope(response, 422, "validation_failed")
    assert snapshot(app) == before
