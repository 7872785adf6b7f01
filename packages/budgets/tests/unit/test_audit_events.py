"""Budgets' audit events (read from its outbox): budget changes, THE denied event of a refused
reservation, authorization denials recorded despite the rollback, the request ID on each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from budgets_fixtures import (
    KEY,
    ORG,
    SERVICE,
    SERVICE_TOKEN,
    World,
    audit_events,
    reserve,
    set_budget,
    snapshot,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient

pytestmark = [pytest.mark.audit, pytest.mark.budgets]


def one(app: FastAPI, action: str, response: Any) -> dict[str, Any]:
    found = [
        e for e in audit_events(app, action) if e["request_id"] == response.headers["x-request-id"]
    ]
    assert len(found) == 1, (action, audit_events(app))
    return dict(found[0])


@pytest.mark.parametrize("scope", ["org", "key"])
def test_budget_set_and_delete_are_recorded(
    app: FastAPI, client: TestClient, world: World, scope: str
) -> None:
    path = f"/v1/orgs/{ORG}/budget" if scope == "org" else f"/v1/orgs/{ORG}/keys/{KEY}/budget"
    target = {"type": "org", "id": ORG} if scope == "org" else {"type": "api_key", "id": KEY}
    put = client.put(
        path, json={"limit_micro_usd": 5_000_000, "period": "monthly"}, headers=world.h("admin")
    )
    assert put.status_code == 200
    e = one(app, "budget.set", put)
    assert e["outcome"] == "success"
    assert e["org_id"] == ORG
    assert e["actor"] == {"type": "user", "id": "usr_admin"}
    assert e["target"] == target
    assert e["details"] == {"scope": scope, "limit_micro_usd": 5_000_000, "period": "monthly"}
    assert e["service"] == "budgets"

    gone = client.delete(path, headers={**SERVICE, "X-Gatewright-Service": "gitops"})
    assert gone.status_code == 204
    e = one(app, "budget.delete", gone)
    assert e["actor"] == {"type": "service", "id": "gitops"}
    assert e["details"] == {"scope": scope, "limit_micro_usd": 5_000_000, "period": "monthly"}
    again = client.delete(path, headers=SERVICE)  # nothing left to remove: nothing recorded
    assert again.status_code == 204
    assert len(audit_events(app, "budget.delete")) == 1


@pytest.mark.parametrize("scope", ["org", "key"])
def test_a_refused_reservation_is_one_denied_event(
    app: FastAPI, client: TestClient, scope: str
) -> None:
    set_budget(client, 100_000, key_id=KEY if scope == "key" else None)
    assert reserve(client, 60_000, key_id=KEY).status_code == 201
    before = snapshot(app)
    events_before = len(audit_events(app))
    client.headers["X-Gatewright-Service"] = "gateway"
    denied = reserve(client, 50_000, key_id=KEY, request_id="req_denied_1")
    assert denied.status_code == 402
    assert snapshot(app) == before  # the ledger rolled back ...
    e = one(app, "reservation.denied", denied)  # ... yet the denial is recorded
    assert len(audit_events(app)) == events_before + 1
    assert e["outcome"] == "denied"
    assert e["actor"] == {"type": "service", "id": "gateway"}
    assert e["org_id"] == ORG
    assert e["target"] == (
        {"type": "org", "id": ORG} if scope == "org" else {"type": "api_key", "id": KEY}
    )
    assert e["reason"] == denied.json()["error"]["message"]
    assert "limit 100000, spent 0, reserved 60000, requested 50000" in e["reason"]
    assert e["details"] == {
        **denied.json()["error"]["details"],
        "reservation_request_id": "req_denied_1",
    }


def test_the_event_carries_the_callers_request_id(app: FastAPI, client: TestClient) -> None:
    set_budget(client, 10)
    denied = client.post(
        "/v1/reservations",
        json={
            "org_id": ORG,
            "amount_micro_usd": 11,
            "request_id": "req_x",
            "idempotency_key": "idk_audit_1",
        },
        headers={**SERVICE, "X-Request-ID": "req_completion_42"},
    )
    assert denied.status_code == 402
    [e] = audit_events(app, "reservation.denied")
    assert e["request_id"] == "req_completion_42"


def test_an_authz_denial_is_recorded(app: FastAPI, client: TestClient, world: World) -> None:
    before = snapshot(app)
    r = client.put(
        f"/v1/orgs/{ORG}/budget",
        json={"limit_micro_usd": 1, "period": "daily"},
        headers=world.h("viewer"),
    )
    assert r.status_code == 403
    assert snapshot(app) == before
    e = one(app, "authz.denied", r)
    assert e["outcome"] == "denied"
    assert e["actor"] == {"type": "user", "id": "usr_viewer"}
    assert e["target"] == {"type": "org", "id": ORG}
    assert e["details"] == {"role": "viewer", "permission": "budgets:set"}
    assert "Role 'viewer'" in e["reason"]
    assert audit_events(app, "budget.set") == []


def test_no_secret_in_any_event(app: FastAPI, client: TestClient, world: World) -> None:
    set_budget(client, 100)
    reserve(client, 1000)
    client.put(
        f"/v1/orgs/{ORG}/budget",
        json={"limit_micro_usd": 1, "period": "daily"},
        headers=world.h("viewer"),
    )
    dumped = json.dumps(audit_events(app))
    assert len(audit_events(app)) == 3
    for secret in [SERVICE_TOKEN, *world.tokens.values()]:
        assert secret not in dumped
