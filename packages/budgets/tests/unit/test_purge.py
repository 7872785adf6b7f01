"""An org's ledgers go once identity has deleted the org (decision 16): `GET /v1/orgs` lists
what budgets keeps per org, `DELETE /v1/orgs/{id}` purges it, never while the org exists."""

from __future__ import annotations

import pytest
from budgets_fixtures import (
    KEY,
    OTHER_ORG,
    SERVICE,
    World,
    audit_events,
    reserve,
    set_budget,
    snapshot,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gatewright.identity.service.testing import FakeIdentity

pytestmark = pytest.mark.budgets


def _holdings(client: TestClient) -> dict[str, int]:
    response = client.get("/v1/orgs", headers=SERVICE)
    assert response.status_code == 200, response.text
    return {d["org_id"]: d["items"] for d in response.json()["data"]}


def test_a_deleted_orgs_ledgers_and_reservations_are_purged_and_the_rest_stay(
    client: TestClient, app: FastAPI, identity: FakeIdentity, world: World
) -> None:
    set_budget(client, 1000)
    set_budget(client, 500, key_id=KEY)
    other = client.put(
        f"/v1/orgs/{OTHER_ORG}/budget",
        json={"limit_micro_usd": 100, "period": "total"},
        headers=SERVICE,
    )
    assert other.status_code == 200, other.text
    assert reserve(client, 10, org_id=OTHER_ORG).status_code == 201
    before = _holdings(client)
    assert before[OTHER_ORG] == 2  # its ledger and its reservation

    identity.orgs.discard(OTHER_ORG)  # identity deleted it
    purged = client.delete(f"/v1/orgs/{OTHER_ORG}", headers=SERVICE)
    assert purged.status_code == 200, purged.text
    assert purged.json() == {"org_id": OTHER_ORG, "removed": 2}
    after = _holdings(client)
    assert OTHER_ORG not in after
    assert after == {k: v for k, v in before.items() if k != OTHER_ORG}
    [event] = audit_events(app, "org.purge")
    assert (event["target"], event["details"]) == ({"type": "org", "id": OTHER_ORG}, {"removed": 2})
    # A retry is a success that removes nothing.
    again = client.delete(f"/v1/orgs/{OTHER_ORG}", headers=SERVICE)
    assert again.json() == {"org_id": OTHER_ORG, "removed": 0}


def test_a_purge_is_refused_while_identity_knows_the_org(
    client: TestClient, app: FastAPI, world: World
) -> None:
    set_budget(client, 1000)
    before = snapshot(app)
    refused = client.delete(f"/v1/orgs/{OTHER_ORG}", headers=SERVICE)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "org_exists"
    assert snapshot(app) == before


def test_only_a_service_lists_or_purges(client: TestClient, app: FastAPI, world: World) -> None:
    set_budget(client, 1000)
    before = snapshot(app)
    for who in ("owner", "outsider"):
        listed = client.get("/v1/orgs", headers=world.h(who))
        purged = client.delete(f"/v1/orgs/{OTHER_ORG}", headers=world.h(who))
        assert (listed.status_code, purged.status_code) == (401, 401)
        assert purged.json()["error"]["code"] == "unauthenticated"
    bad = client.delete("/v1/orgs/a%01b", headers=SERVICE)
    assert bad.status_code == 422, bad.text
    assert snapshot(app) == before
