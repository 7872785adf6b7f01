"""Identity's audit events: what each action records (in identity's outbox), denials recorded
despite the rollback, the request ID on every event, no secret in any payload, and delivery to
a (mocked) audit service by the deliverer the lifespan starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from identity_fixtures import (
    ADMIN_PASSWORD,
    PASSWORD,
    World,
    audit_events,
    auth,
    login,
    make_settings,
    seed_user,
)

from gatewright.identity.service import create_app

pytestmark = pytest.mark.audit

AUDIT_URL = "http://audit.test"


def rid(response: Any) -> str:
    return str(response.headers["x-request-id"])


def one(app: FastAPI, action: str, response: Any) -> dict[str, Any]:
    """The single event `action` that the request behind `response` recorded."""
    found = [e for e in audit_events(app, action) if e["request_id"] == rid(response)]
    assert len(found) == 1, (action, audit_events(app))
    return dict(found[0])


def test_login_success_and_failure(app: FastAPI, client: TestClient) -> None:
    user_id = seed_user(app, "ann@example.test")
    ok = client.post("/v1/auth/login", json={"email": "ann@example.test", "password": PASSWORD})
    assert ok.status_code == 200
    event = one(app, "auth.login", ok)
    assert event["outcome"] == "success"
    assert event["actor"] == {"type": "user", "id": user_id}
    assert event["org_id"] is None
    assert event["details"] == {"email": "ann@example.test"}
    assert event["service"] == "identity"

    for email in ("ann@example.test", "nobody@example.test"):
        bad = client.post("/v1/auth/login", json={"email": email, "password": "wrong-password"})
        assert bad.status_code == 401
        event = one(app, "auth.login", bad)
        assert event["outcome"] == "denied"
        assert event["actor"] == {"type": "anonymous", "id": None}
        assert event["org_id"] is None
        assert event["reason"] == "wrong email or password"
        assert event["details"] == {"email": email}


@pytest.mark.happy
def test_the_main_actions_record_their_events(
    app: FastAPI, client: TestClient, world: World
) -> None:
    org, users = world.org_id, world.users
    owner = world.h("owner")
    # The world fixture created the org, a key (by the member) and an invitation (by the owner).
    [created] = audit_events(app, "org.create")
    assert created["actor"] == {"type": "user", "id": users["owner"]}
    assert created["target"] == {"type": "org", "id": org}
    assert created["details"] == {"name": "acme"}
    assert created["outcome"] == "success"
    [key] = audit_events(app, "key.create")
    assert key["actor"] == {"type": "user", "id": users["member"]}
    assert key["target"] == {"type": "api_key", "id": world.key_id}
    assert key["details"] == {"name": "ci", "models": None, "rate_limit_rpm": None}
    [invited] = audit_events(app, "invitation.create")
    assert invited["target"] == {"type": "invitation", "id": world.invitation_id}
    assert invited["details"] == {"email": "new@example.test", "role": "member"}

    r = client.patch(
        f"/v1/orgs/{org}/members/{users['viewer']}", json={"role": "member"}, headers=owner
    )
    assert r.status_code == 200
    e = one(app, "member.role_change", r)
    assert e["org_id"] == org
    assert e["target"] == {"type": "user", "id": users["viewer"]}
    assert e["details"] == {"from": "viewer", "to": "member"}

    r = client.delete(f"/v1/orgs/{org}/members/{users['viewer']}", headers=owner)
    assert r.status_code == 204
    assert one(app, "member.remove", r)["details"] == {"role": "member"}

    body = {"token": world.invitation_token, "password": "new-user-pw", "name": "New"}
    r = client.post("/v1/invitations/accept", json=body)
    assert r.status_code == 200
    e = one(app, "invitation.accept", r)
    assert e["actor"] == {"type": "user", "id": r.json()["user_id"]}
    assert e["target"] == {"type": "invitation", "id": world.invitation_id}
    assert e["details"] == {"role": "member", "new_account": True, "via": "token"}

    r = client.delete(f"/v1/orgs/{org}/keys/{world.key_id}", headers=owner)
    assert r.status_code == 200
    e = one(app, "key.revoke", r)
    assert e["target"] == {"type": "api_key", "id": world.key_id}
    again = client.delete(f"/v1/orgs/{org}/keys/{world.key_id}", headers=owner)
    assert again.status_code == 200
    assert [x for x in audit_events(app, "key.revoke") if x["request_id"] == rid(again)] == []

    r = client.delete(f"/v1/orgs/{org}", headers=owner)
    assert r.status_code == 204
    e = one(app, "org.delete", r)
    assert e["target"] == {"type": "org", "id": org}
    assert e["actor"] == {"type": "user", "id": users["owner"]}


def test_a_denial_is_recorded_although_its_transaction_rolled_back(
    app: FastAPI, client: TestClient, world: World
) -> None:
    r = client.post(f"/v1/orgs/{world.org_id}/keys", json={"name": "x"}, headers=world.h("viewer"))
    assert r.status_code == 403
    e = one(app, "authz.denied", r)
    assert e["outcome"] == "denied"
    assert e["actor"] == {"type": "user", "id": world.users["viewer"]}
    assert e["org_id"] == world.org_id
    assert e["target"] == {"type": "org", "id": world.org_id}
    assert e["details"] == {"role": "viewer", "permission": "keys:create"}
    assert "Role 'viewer'" in e["reason"]
    assert "keys:create" in e["reason"]
    assert audit_events(app, "key.create")[-1]["request_id"] != rid(r)  # no key, no key event

    # An admin granting owner: the grant rule's denial too.
    r = client.patch(
        f"/v1/orgs/{world.org_id}/members/{world.users['member']}",
        json={"role": "owner"},
        headers=world.h("admin"),
    )
    assert r.status_code == 403
    e = one(app, "authz.denied", r)
    assert e["details"] == {"role": "admin", "permission": "members:grant_owner"}
    assert audit_events(app, "member.role_change") == []

    # A user asking about someone else's permissions.
    r = client.post(
        "/v1/authz/check",
        json={"subject": world.users["owner"], "org_id": world.org_id, "permission": "org:read"},
        headers=world.h("viewer"),
    )
    assert r.status_code == 403
    assert one(app, "authz.denied", r)["actor"]["id"] == world.users["viewer"]


def test_the_request_id_is_the_callers(app: FastAPI, client: TestClient, world: World) -> None:
    r = client.post(
        "/v1/orgs",
        json={"name": "traced"},
        headers={**world.h("member"), "X-Request-ID": "req_audit_trace_1"},
    )
    assert r.status_code == 201
    assert one(app, "org.create", r)["request_id"] == "req_audit_trace_1"


def test_no_secret_in_any_event(app: FastAPI, client: TestClient, world: World) -> None:
    body = {"token": world.invitation_token, "password": "new-user-pw-secret", "name": "New"}
    assert client.post("/v1/invitations/accept", json=body).status_code == 200
    client.post("/v1/auth/login", json={"email": "x@example.test", "password": "guess-secret-1"})
    created = client.post(
        f"/v1/orgs/{world.org_id}/keys", json={"name": "k2"}, headers=world.h("owner")
    )
    inv = client.post(
        f"/v1/orgs/{world.org_id}/invitations",
        json={"email": "b@example.test", "role": "viewer"},
        headers=world.h("owner"),
    )
    secrets = [
        PASSWORD,
        ADMIN_PASSWORD,
        "new-user-pw-secret",
        "guess-secret-1",
        world.key_secret,
        created.json()["secret"],
        world.invitation_token,
        inv.json()["token"],
        *world.tokens.values(),
    ]
    dumped = json.dumps(audit_events(app))
    assert len(audit_events(app)) >= 10
    for secret in secrets:
        assert secret not in dumped
    assert "gwk_" not in dumped
    assert "gwi_" not in dumped


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[FastAPI, TestClient, list[str]]]:
    received: list[str] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        received.extend(e["id"] for e in json.loads(request.content)["events"])
        return httpx.Response(200, json={"data": []})

    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{AUDIT_URL}/v1/events/batch").mock(side_effect=ingest)
        app = create_app(make_settings(tmp_path, audit_url=AUDIT_URL))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield app, client, received
        assert not app.state.audit.running  # the lifespan stopped it


def test_the_lifespan_delivers_events_to_audit(
    audited: tuple[FastAPI, TestClient, list[str]],
) -> None:
    app, client, received = audited
    seed_user(app, "ann@example.test")
    token = login(client, "ann@example.test")
    assert client.post("/v1/orgs", json={"name": "a"}, headers=auth(token)).status_code == 201
    denied = client.delete("/v1/orgs/org_nope", headers=auth(token))
    assert denied.status_code == 403
    assert app.state.audit.flush(timeout=5)
    assert received == [e["id"] for e in audit_events(app)]
    assert [e["action"] for e in audit_events(app)] == ["auth.login", "org.create", "authz.denied"]
