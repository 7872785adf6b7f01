"""What a sweep uses (decision 16): a service lists orgs and users by prefix, deletes an org and
a user; a user may not use these, and a user who owns an org cannot be deleted."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from identity_fixtures import SERVICE, World, audit_events, auth, seed_user, snapshot
from test_service import assert_envelope


def test_a_service_lists_orgs_by_name_prefix_and_a_user_sees_only_theirs(
    client: TestClient, world: World
) -> None:
    other = client.post("/v1/orgs", json={"name": "gwt-r1-abc-team"}, headers=world.h("viewer"))
    assert other.status_code == 201
    prefixed = client.get("/v1/orgs", params={"name_prefix": "gwt-r1-"}, headers=SERVICE).json()
    assert [o["name"] for o in prefixed["data"]] == ["gwt-r1-abc-team"]
    every = client.get("/v1/orgs", headers=SERVICE).json()
    assert {o["name"] for o in every["data"]} == {"acme", "gwt-r1-abc-team"}
    # A prefix is literal: SQL wildcards match nothing.
    assert client.get("/v1/orgs", params={"name_prefix": "%"}, headers=SERVICE).json() == {
        "data": []
    }
    mine = client.get("/v1/orgs", headers=world.h("owner")).json()
    assert [o["name"] for o in mine["data"]] == ["acme"]
    refused = client.get("/v1/orgs", params={"name_prefix": "gwt-"}, headers=world.h("owner"))
    assert_envelope(refused, 400, "invalid_request")


def test_a_service_deletes_an_org_and_the_event_names_it(
    client: TestClient, app: FastAPI, world: World
) -> None:
    assert client.delete(f"/v1/orgs/{world.org_id}", headers=SERVICE).status_code == 204
    assert_envelope(client.get(f"/v1/orgs/{world.org_id}", headers=SERVICE), 404, "org_not_found")
    [event] = audit_events(app, "org.delete")
    assert (event["actor"]["type"], event["target"]) == (
        "service",
        {"type": "org", "id": world.org_id},
    )


def test_a_service_lists_users_by_email_prefix_and_deletes_one(
    client: TestClient, app: FastAPI, world: World
) -> None:
    user_id = seed_user(app, "gwt-r1-abc-ivy.1234@run.gatewright.test")
    found = client.get("/v1/users", params={"email_prefix": "GWT-r1-"}, headers=SERVICE).json()
    assert [u["id"] for u in found["data"]] == [user_id]
    assert client.delete(f"/v1/users/{user_id}", headers=SERVICE).status_code == 204
    assert client.get("/v1/users", params={"email_prefix": "gwt-"}, headers=SERVICE).json() == {
        "data": []
    }
    # Deleted with their memberships: a member who goes leaves the org's member list.
    assert client.delete(f"/v1/users/{world.users['viewer']}", headers=SERVICE).status_code == 204
    members = client.get(f"/v1/orgs/{world.org_id}", headers=SERVICE).json()["members"]
    assert world.users["viewer"] not in {m["user_id"] for m in members}
    assert [e["target"]["id"] for e in audit_events(app, "user.delete")] == [
        user_id,
        world.users["viewer"],
    ]
    assert_envelope(client.delete(f"/v1/users/{user_id}", headers=SERVICE), 404, "user_not_found")


def test_an_owner_or_the_platform_admin_is_never_deleted(
    client: TestClient, app: FastAPI, world: World
) -> None:
    before = snapshot(app)
    owner = client.delete(f"/v1/users/{world.users['owner']}", headers=SERVICE)
    assert_envelope(owner, 409, "user_owns_orgs")
    assert owner.json()["error"]["details"]["org_ids"] == [world.org_id]
    admin_id = client.get("/v1/users/me", headers=world.h("platform_admin")).json()["id"]
    assert_envelope(
        client.delete(f"/v1/users/{admin_id}", headers=SERVICE), 409, "user_is_platform_admin"
    )
    assert snapshot(app) == before


def test_users_cannot_list_or_delete_users(client: TestClient, app: FastAPI, world: World) -> None:
    before = snapshot(app)
    for who in ("owner", "platform_admin"):
        assert_envelope(client.get("/v1/users", headers=world.h(who)), 401, "unauthenticated")
        gone = client.delete(f"/v1/users/{world.users['viewer']}", headers=world.h(who))
        assert_envelope(gone, 401, "unauthenticated")
    assert_envelope(client.get("/v1/users", headers=auth("nonsense")), 401, "unauthenticated")
    bad = client.get("/v1/users", params={"email_prefix": "a\x01"}, headers=SERVICE)
    assert_envelope(bad, 422, "validation_failed")
    assert snapshot(app) == before
