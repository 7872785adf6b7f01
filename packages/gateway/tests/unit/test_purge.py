"""An org's routes go once identity has deleted the org (decision 16): `GET /v1/orgs` lists
the orgs the gateway keeps routes for, `DELETE /v1/orgs/{id}` purges them, never while the org
exists, and the purged routes stop serving at once."""

from __future__ import annotations

from gateway_fixtures import ORG, OTHER_ORG, SERVICE_TOKEN, World


def _holdings(world: World) -> dict[str, int]:
    with world.http(SERVICE_TOKEN) as http:
        response = http.get("/v1/orgs")
    assert response.status_code == 200, response.text
    return {d["org_id"]: d["items"] for d in response.json()["data"]}


def test_a_deleted_orgs_routes_are_purged_and_stop_serving(world: World) -> None:
    world.route("gone-a", "sim-echo", org_id=OTHER_ORG)
    world.route("gone-b", "sim-echo", org_id=OTHER_ORG)
    world.route("kept", "sim-echo", org_id=ORG)
    world.route("global-kept", "sim-echo")
    assert _holdings(world)[OTHER_ORG] == 2

    world.identity.orgs.discard(OTHER_ORG)
    with world.http(SERVICE_TOKEN) as http:
        purged = http.delete(f"/v1/orgs/{OTHER_ORG}")
        assert purged.status_code == 200, purged.text
        assert purged.json() == {"org_id": OTHER_ORG, "removed": 2}
        assert http.get(f"/v1/orgs/{OTHER_ORG}/routes/gone-a").status_code == 404
        assert http.get(f"/v1/orgs/{ORG}/routes/kept").status_code == 200
        assert http.get("/v1/routes/global-kept").status_code == 200
        again = http.delete(f"/v1/orgs/{OTHER_ORG}")
    assert again.json() == {"org_id": OTHER_ORG, "removed": 0}
    assert OTHER_ORG not in _holdings(world)


def test_a_purge_is_refused_while_identity_knows_the_org(world: World) -> None:
    world.route("stays", "sim-echo", org_id=ORG)
    with world.http(SERVICE_TOKEN) as http:
        refused = http.delete(f"/v1/orgs/{ORG}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "org_exists"
        assert http.get(f"/v1/orgs/{ORG}/routes/stays").status_code == 200


def test_only_a_service_lists_or_purges(world: World) -> None:
    world.route("stays-too", "sim-echo", org_id=ORG)
    world.identity.orgs.discard(ORG)
    for token in (None, "not-the-service-token"):
        with world.http(token) as http:
            assert http.get("/v1/orgs").status_code == 401
            refused = http.delete(f"/v1/orgs/{ORG}")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthenticated"
    with world.http(SERVICE_TOKEN) as http:
        assert http.delete("/v1/orgs/a%01b").status_code == 422
        assert http.get(f"/v1/orgs/{ORG}/routes/stays-too").status_code == 200
