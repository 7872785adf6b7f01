"""The budgets service in process: budgets, spend, reservations, auth, bad input, time.

Identity is mocked with respx on its URL (see `budgets_fixtures`); the clock is injected.
"""

from __future__ import annotations

from typing import Any

import pytest
from budgets_fixtures import (
    KEY,
    ORG,
    SERVICE,
    Clock,
    FakeIdentity,
    World,
    auth,
    reserve,
    set_budget,
    snapshot,
    spend,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gatewright.budgets.service.app import sweep_once

pytestmark = pytest.mark.budgets


# -- budgets ---------------------------------------------------------------------------------
def test_set_get_delete_org_budget(client: TestClient, world: World) -> None:
    put = client.put(
        f"/v1/orgs/{ORG}/budget",
        json={"limit_micro_usd": 1_000_000, "period": "daily"},
        headers=world.h("admin"),
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["org_id"] == ORG
    assert body["key_id"] is None
    assert (body["limit_micro_usd"], body["period"]) == (1_000_000, "daily")
    assert body["period_start"] == "2026-03-14T00:00:00Z"
    assert (body["spent_micro_usd"], body["reserved_micro_usd"]) == (0, 0)
    got = client.get(f"/v1/orgs/{ORG}/budget", headers=world.h("viewer"))
    assert got.json() == body
    assert client.delete(f"/v1/orgs/{ORG}/budget", headers=world.h("owner")).status_code == 204
    missing = client.get(f"/v1/orgs/{ORG}/budget", headers=world.h("viewer"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "budget_not_found"
    # idempotent delete
    assert client.delete(f"/v1/orgs/{ORG}/budget", headers=world.h("owner")).status_code == 204


def test_key_budget(client: TestClient, world: World) -> None:
    path = f"/v1/orgs/{ORG}/keys/{KEY}/budget"
    put = client.put(
        path, json={"limit_micro_usd": 500, "period": "monthly"}, headers=world.h("owner")
    )
    assert put.status_code == 200, put.text
    assert put.json()["key_id"] == KEY
    assert put.json()["period_start"] == "2026-03-01T00:00:00Z"
    assert client.get(path, headers=world.h("member")).json()["limit_micro_usd"] == 500
    assert client.get(f"/v1/orgs/{ORG}/budget", headers=SERVICE).status_code == 404
    assert client.delete(path, headers=SERVICE).status_code == 204
    assert client.get(path, headers=SERVICE).status_code == 404


def test_changing_the_limit_keeps_spent_and_reserved(client: TestClient) -> None:
    set_budget(client, 1_000)
    held = reserve(client, 300)
    done = reserve(client, 200).json()
    assert held.status_code == 201
    client.post(
        f"/v1/reservations/{done['id']}/commit", json={"actual_micro_usd": 150}, headers=SERVICE
    )
    changed = set_budget(client, 2_000, "monthly").json()
    assert (changed["spent_micro_usd"], changed["reserved_micro_usd"]) == (150, 300)
    assert changed["limit_micro_usd"] == 2_000


# -- auth ------------------------------------------------------------------------------------
@pytest.mark.authz
@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("viewer", "PUT", "/budget", 403),
        ("member", "PUT", "/budget", 403),
        ("admin", "PUT", "/budget", 200),
        ("viewer", "GET", "/spend", 200),
        ("outsider", "GET", "/spend", 403),
        ("outsider", "GET", "/reservations", 403),
        ("viewer", "GET", "/reservations", 200),
        ("member", "DELETE", "/keys/k/budget", 403),
        ("owner", "DELETE", "/keys/k/budget", 204),
    ],
)
def test_permissions_come_from_identity(
    client: TestClient, world: World, who: str, method: str, path: str, status: int
) -> None:
    body = {"limit_micro_usd": 10, "period": "total"} if method == "PUT" else None
    r = client.request(method, f"/v1/orgs/{ORG}{path}", json=body, headers=world.h(who))
    assert r.status_code == status, r.text
    if status == 403:
        err = r.json()["error"]
        assert err["code"] == "permission_denied"
        assert "lacks permission" in err["message"]  # identity's reason, passed through
        assert err["details"]["org_id"] == ORG


@pytest.mark.authz
def test_tokens(client: TestClient, identity: FakeIdentity, world: World) -> None:
    path = f"/v1/orgs/{ORG}/spend"
    assert client.get(path).json()["error"]["code"] == "unauthenticated"
    assert client.get(path, headers=auth("garbage")).status_code == 401
    forged = identity.token("usr_owner", key=Ed25519PrivateKey.generate())
    assert client.get(path, headers=auth(forged)).status_code == 401
    expired = identity.token("usr_owner", ttl=-60)
    assert client.get(path, headers=auth(expired)).json()["error"]["code"] == "token_expired"
    # the service token passes without asking identity
    calls = identity.authz_calls
    assert client.get(path, headers=SERVICE).status_code == 200
    assert identity.authz_calls == calls
    # reservations are service-only: a user token (even an owner's) is refused
    r = client.post(
        "/v1/reservations",
        json={
            "org_id": ORG,
            "key_id": None,
            "amount_micro_usd": 1,
            "request_id": "r",
            "idempotency_key": "idk_owner_1",
        },
        headers=world.h("owner"),
    )
    assert r.status_code == 401


@pytest.mark.authz
def test_identity_down_is_503(client: TestClient, identity: FakeIdentity, world: World) -> None:
    identity.down = True
    r = client.get(f"/v1/orgs/{ORG}/spend", headers=world.h("owner"))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "identity_unavailable"


# -- reservations ----------------------------------------------------------------------------
def test_reserve_commit_release_and_spend(client: TestClient) -> None:
    set_budget(client, 1_000_000)
    set_budget(client, 400_000, "monthly", key_id=KEY)
    a = reserve(client, 100_000, key_id=KEY)
    assert a.status_code == 201, a.text
    res = a.json()
    assert res["id"].startswith("res_")
    assert res["status"] == "held"
    assert res["expires_at"] == "2026-03-14T12:05:00Z"
    b = reserve(client, 50_000).json()
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (0, 150_000)
    assert s["keys"][0]["key_id"] == KEY
    assert (s["keys"][0]["reserved_micro_usd"], s["keys"][0]["limit_micro_usd"]) == (
        100_000,
        400_000,
    )

    c = client.post(
        f"/v1/reservations/{res['id']}/commit", json={"actual_micro_usd": 80_000}, headers=SERVICE
    )
    assert c.status_code == 200, c.text
    assert (c.json()["status"], c.json()["actual_micro_usd"]) == ("committed", 80_000)
    r = client.post(f"/v1/reservations/{b['id']}/release", headers=SERVICE)
    assert r.json()["status"] == "released"
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (80_000, 0)
    assert (s["keys"][0]["spent_micro_usd"], s["keys"][0]["reserved_micro_usd"]) == (80_000, 0)
    listed = client.get(f"/v1/orgs/{ORG}/reservations?status=committed", headers=SERVICE).json()
    assert [x["id"] for x in listed["data"]] == [res["id"]]
    assert (
        len(client.get(f"/v1/orgs/{ORG}/reservations?limit=1", headers=SERVICE).json()["data"]) == 1
    )


@pytest.mark.parametrize("scope", ["org", "key"])
def test_denial_is_402_with_the_figures(client: TestClient, app: FastAPI, scope: str) -> None:
    if scope == "org":
        set_budget(client, 1_000_000)
    else:
        set_budget(client, 1_000_000, key_id=KEY)
    done = reserve(client, 900_000, key_id=KEY).json()
    client.post(
        f"/v1/reservations/{done['id']}/commit", json={"actual_micro_usd": 900_000}, headers=SERVICE
    )
    assert reserve(client, 50_000, key_id=KEY).status_code == 201
    before = snapshot(app)
    denied = reserve(client, 100_000, key_id=KEY)
    assert denied.status_code == 402, denied.text
    err = denied.json()["error"]
    assert err["code"] == "budget_exceeded"
    who = f"Org {ORG}" if scope == "org" else f"Key {KEY} of org {ORG}"
    assert err["message"] == (
        f"{who} would exceed its daily budget: limit 1000000, spent 900000, reserved 50000, "
        "requested 100000 (micro-USD)."
    )
    assert err["details"] == {
        "scope": scope,
        "org_id": ORG,
        "key_id": KEY if scope == "key" else None,
        "limit_micro_usd": 1_000_000,
        "spent_micro_usd": 900_000,
        "reserved_micro_usd": 50_000,
        "requested_micro_usd": 100_000,
        "period": "daily",
    }
    assert snapshot(app) == before  # a denial rolls back the org row too
    assert reserve(client, 50_000, key_id=KEY).status_code == 201  # exactly fits


def test_spend_is_tracked_without_a_budget(client: TestClient) -> None:
    r = reserve(client, 10**12, key_id=KEY).json()
    client.post(f"/v1/reservations/{r['id']}/commit", json={"actual_micro_usd": 7}, headers=SERVICE)
    s = spend(client)
    assert (s["spent_micro_usd"], s["limit_micro_usd"], s["period"]) == (7, None, None)
    assert s["keys"][0]["spent_micro_usd"] == 7
    # an org nobody has seen: zeros, not 404
    other = client.get("/v1/orgs/org_other/spend", headers=SERVICE).json()
    assert (other["spent_micro_usd"], other["keys"]) == (0, [])


def test_commit_above_estimate_is_charged_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    set_budget(client, 1_000)
    r = reserve(client, 100).json()
    c = client.post(
        f"/v1/reservations/{r['id']}/commit", json={"actual_micro_usd": 1_500}, headers=SERVICE
    )
    assert c.status_code == 200
    assert spend(client)["spent_micro_usd"] == 1_500
    assert "exceeds the reserved estimate" in caplog.text
    assert reserve(client, 1).status_code == 402


# -- idempotency (decision 8) ----------------------------------------------------------------
def test_a_repeated_idempotency_key_while_held_is_the_same_reservation_replayed(
    client: TestClient, app: FastAPI, clock: Clock
) -> None:
    set_budget(client, 1_000)
    first = reserve(client, 600, idempotency_key="idk_same_call", key_id=KEY)
    assert first.status_code == 201
    assert first.json()["replayed"] is False
    before = snapshot(app)
    clock.advance(seconds=5)  # a replay touches no row, not even its updated_at
    again = reserve(client, 600, idempotency_key="idk_same_call", key_id=KEY)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert snapshot(app) == before
    changed = reserve(client, 601, idempotency_key="idk_same_call", key_id=KEY)
    assert changed.status_code == 409, changed.text
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert snapshot(app) == before


@pytest.mark.parametrize("settle", ["commit", "release", "expire"])
def test_a_settled_reservation_is_never_held_again(
    client: TestClient, app: FastAPI, clock: Clock, settle: str
) -> None:
    set_budget(client, 1_000)
    r = reserve(client, 600, idempotency_key="idk_settled", ttl=60).json()
    if settle == "expire":
        clock.advance(seconds=61)  # past its expiry, swept or not
    else:
        body = {"actual_micro_usd": 500} if settle == "commit" else None
        path = f"/v1/reservations/{r['id']}/{settle}"
        assert client.post(path, json=body, headers=SERVICE).status_code == 200
    before = snapshot(app)
    again = reserve(client, 600, idempotency_key="idk_settled")
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["code"] == "reservation_settled"
    assert error["details"]["status"] == {"commit": "committed", "release": "released"}.get(
        settle, "expired"
    )
    assert r["id"] in error["message"]
    assert error["details"]["reservation_id"] == r["id"]
    assert snapshot(app) == before


def test_the_request_id_is_a_label_not_an_idempotency_key(client: TestClient) -> None:
    set_budget(client, 1_000)
    first = reserve(client, 400, request_id="req_shared_label")
    second = reserve(client, 400, request_id="req_shared_label")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert spend(client)["reserved_micro_usd"] == 800
    # and a third does not fit: two holds are real money
    assert reserve(client, 400, request_id="req_shared_label").status_code == 402


def test_idempotency_keys_are_scoped_to_the_org_and_key(client: TestClient) -> None:
    made = [
        reserve(client, 10, idempotency_key="idk_scoped", key_id=key, org_id=org)
        for org, key in ((ORG, None), (ORG, KEY), ("org_other", None), ("org_other", KEY))
    ]
    assert [r.status_code for r in made] == [201] * 4
    assert len({r.json()["id"] for r in made}) == 4


def test_commit_and_release_are_idempotent(client: TestClient) -> None:
    r = reserve(client, 100).json()
    commit = f"/v1/reservations/{r['id']}/commit"
    assert client.post(commit, json={"actual_micro_usd": 90}, headers=SERVICE).status_code == 200
    again = client.post(commit, json={"actual_micro_usd": 90}, headers=SERVICE)
    assert again.status_code == 200
    assert spend(client)["spent_micro_usd"] == 90
    other = client.post(commit, json={"actual_micro_usd": 91}, headers=SERVICE)
    assert other.status_code == 409
    release = client.post(f"/v1/reservations/{r['id']}/release", headers=SERVICE)
    assert release.status_code == 409  # a committed reservation cannot be released

    r2 = reserve(client, 100).json()
    rel = f"/v1/reservations/{r2['id']}/release"
    assert client.post(rel, headers=SERVICE).json()["status"] == "released"
    assert client.post(rel, headers=SERVICE).json()["status"] == "released"
    assert spend(client)["reserved_micro_usd"] == 0
    late = client.post(
        f"/v1/reservations/{r2['id']}/commit", json={"actual_micro_usd": 1}, headers=SERVICE
    )
    assert late.status_code == 409
    assert spend(client)["spent_micro_usd"] == 90


# -- expiry ----------------------------------------------------------------------------------
def test_expired_holds_stop_counting_lazily(client: TestClient, clock: Clock) -> None:
    set_budget(client, 1_000)
    held = reserve(client, 1_000, ttl=60).json()
    assert reserve(client, 1).status_code == 402
    clock.advance(seconds=61)
    assert reserve(client, 1_000).status_code == 201  # the reserve path expired the old hold
    listed = client.get(f"/v1/orgs/{ORG}/reservations?status=expired", headers=SERVICE).json()
    assert [x["id"] for x in listed["data"]] == [held["id"]]
    assert spend(client)["reserved_micro_usd"] == 1_000


def test_sweep_expires_and_late_commit_still_charges(
    client: TestClient, app: FastAPI, clock: Clock
) -> None:
    set_budget(client, 1_000)
    held = reserve(client, 400, ttl=30, key_id=KEY).json()
    clock.advance(seconds=31)
    assert sweep_once(app.state.db, now=clock(), batch=100) == 1
    assert sweep_once(app.state.db, now=clock(), batch=100) == 0
    s = spend(client)
    assert (s["reserved_micro_usd"], s["keys"][0]["reserved_micro_usd"]) == (0, 0)
    release = client.post(f"/v1/reservations/{held['id']}/release", headers=SERVICE)
    assert release.json()["status"] == "expired"
    late = client.post(
        f"/v1/reservations/{held['id']}/commit", json={"actual_micro_usd": 250}, headers=SERVICE
    )
    assert late.status_code == 200
    assert late.json()["status"] == "committed"
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (250, 0)
    assert s["keys"][0]["spent_micro_usd"] == 250


def test_a_late_commit_is_charged_in_full_even_when_its_money_was_reserved_again(
    client: TestClient, clock: Clock
) -> None:
    """Why a caller must settle before its reservation expires (the gateway cuts a completion
    short of its TTL, decision 10): once a hold lapses, its money can be reserved again, and the
    late commit is still charged in full, so the org ends above its limit."""
    set_budget(client, 1_000)
    slow = reserve(client, 600, ttl=30).json()
    clock.advance(seconds=31)
    assert reserve(client, 1_000).status_code == 201  # the lapsed hold no longer counts
    late = client.post(
        f"/v1/reservations/{slow['id']}/commit", json={"actual_micro_usd": 600}, headers=SERVICE
    )
    assert (late.status_code, late.json()["status"]) == (200, "committed")
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (600, 1_000)  # 1_600 > 1_000


def test_background_sweep_runs_and_stops(
    tmp_path: Any, clock: Clock, identity: FakeIdentity
) -> None:
    import time

    from budgets_fixtures import make_settings

    from gatewright.budgets.service import create_app

    app = create_app(make_settings(tmp_path, sweep_interval_seconds=0.05), clock=clock)
    with TestClient(app) as client:
        reserve(client, 10, ttl=1)
        clock.advance(seconds=5)
        deadline = time.monotonic() + 10
        while spend(client)["reserved_micro_usd"] != 0:  # polling with a deadline, not a sleep
            assert time.monotonic() < deadline, "the sweep never expired the reservation"
            time.sleep(0.02)
    # leaving the context ran the shutdown: the sweeper task was cancelled without error


# -- periods ---------------------------------------------------------------------------------
def test_daily_period_rolls_over_at_midnight_utc(client: TestClient, clock: Clock) -> None:
    set_budget(client, 1_000)
    old = reserve(client, 600).json()
    r = reserve(client, 300).json()
    client.post(
        f"/v1/reservations/{r['id']}/commit", json={"actual_micro_usd": 300}, headers=SERVICE
    )
    assert reserve(client, 200).status_code == 402
    clock.now = clock.now.replace(hour=23, minute=59, second=59)
    assert spend(client)["spent_micro_usd"] == 300
    clock.advance(seconds=1)  # 2026-03-15T00:00:00Z
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (0, 0)
    assert s["period_start"] == "2026-03-15T00:00:00Z"
    new = reserve(client, 1_000)
    assert new.status_code == 201
    # the previous day's reservation is charged to the previous day, not to today
    c = client.post(
        f"/v1/reservations/{old['id']}/commit", json={"actual_micro_usd": 500}, headers=SERVICE
    )
    assert c.status_code == 200
    s = spend(client)
    assert (s["spent_micro_usd"], s["reserved_micro_usd"]) == (0, 1_000)
    budget = client.get(f"/v1/orgs/{ORG}/budget", headers=SERVICE).json()
    assert budget["period_start"] == "2026-03-15T00:00:00Z"


def test_monthly_and_total_periods(client: TestClient, clock: Clock) -> None:
    set_budget(client, 1_000, "monthly", key_id=KEY)
    set_budget(client, 1_000, "total")
    r = reserve(client, 100, key_id=KEY).json()
    client.post(
        f"/v1/reservations/{r['id']}/commit", json={"actual_micro_usd": 100}, headers=SERVICE
    )
    clock.now = clock.now.replace(day=31)
    assert spend(client)["keys"][0]["spent_micro_usd"] == 100
    clock.now = clock.now.replace(month=4, day=1, hour=0)
    s = spend(client)
    assert s["keys"][0]["spent_micro_usd"] == 0
    assert s["keys"][0]["period_start"] == "2026-04-01T00:00:00Z"
    assert s["spent_micro_usd"] == 100  # total never resets
    assert s["period_start"] == "2026-03-14T12:00:00Z"


def test_release_after_rollover_does_not_touch_the_new_period(
    client: TestClient, clock: Clock
) -> None:
    set_budget(client, 1_000)
    old = reserve(client, 700).json()
    clock.advance(days=1)
    fresh = reserve(client, 900)
    assert fresh.status_code == 201
    client.post(f"/v1/reservations/{old['id']}/release", headers=SERVICE)
    assert spend(client)["reserved_micro_usd"] == 900
    assert reserve(client, 101).status_code == 402


# -- bad input -------------------------------------------------------------------------------
GOOD_BUDGET = {"limit_micro_usd": 1_000, "period": "daily"}
GOOD_RES = {
    "org_id": ORG,
    "key_id": None,
    "amount_micro_usd": 10,
    "request_id": "req_bad",
    "idempotency_key": "idk_bad_input",
}
BAD_BUDGETS: list[Any] = [
    {"limit_micro_usd": -1, "period": "daily"},
    {"limit_micro_usd": 10**15 + 1, "period": "daily"},
    {"limit_micro_usd": "1000", "period": "daily"},
    {"limit_micro_usd": 1.5, "period": "daily"},
    {"limit_micro_usd": 1000.0, "period": "daily"},
    {"limit_micro_usd": True, "period": "daily"},
    {"limit_micro_usd": None, "period": "daily"},
    {"limit_micro_usd": 10, "period": "weekly"},
    {"limit_micro_usd": 10},
    {"period": "daily"},
    {**GOOD_BUDGET, "extra": 1},
    [],
    "x",
    None,
]
BAD_RESERVATIONS: list[Any] = [
    {**GOOD_RES, "amount_micro_usd": 0},
    {**GOOD_RES, "amount_micro_usd": -5},
    {**GOOD_RES, "amount_micro_usd": 10**12 + 1},
    {**GOOD_RES, "amount_micro_usd": "10"},
    {**GOOD_RES, "amount_micro_usd": 1e3},
    {**GOOD_RES, "request_id": ""},
    {**GOOD_RES, "request_id": "x" * 201},
    {**GOOD_RES, "request_id": 5},
    {**GOOD_RES, "org_id": ""},
    {**GOOD_RES, "org_id": "a\x00b"},
    {**GOOD_RES, "key_id": 3},
    {**GOOD_RES, "ttl_seconds": 0},
    {**GOOD_RES, "ttl_seconds": 3601},
    {**GOOD_RES, "ttl_seconds": "60"},
    {k: v for k, v in GOOD_RES.items() if k != "request_id"},
    {k: v for k, v in GOOD_RES.items() if k != "idempotency_key"},
    {**GOOD_RES, "idempotency_key": ""},
    {**GOOD_RES, "idempotency_key": "short"},
    {**GOOD_RES, "idempotency_key": "has spaces in it"},
    {**GOOD_RES, "idempotency_key": "k" * 201},
    {**GOOD_RES, "idempotency_key": 12345678},
    {**GOOD_RES, "surprise": True},
    [GOOD_RES],
]
BAD_COMMITS: list[Any] = [
    {"actual_micro_usd": -1},
    {"actual_micro_usd": 10**12 + 1},
    {"actual_micro_usd": "5"},
    {"actual_micro_usd": 5.5},
    {},
    {"actual_micro_usd": 5, "x": 1},
]


def _cases() -> list[tuple[str, str, str, Any, int]]:
    b, k = f"/v1/orgs/{ORG}/budget", f"/v1/orgs/{ORG}/keys/{KEY}/budget"
    out: list[tuple[str, str, str, Any, int]] = []
    for i, body in enumerate(BAD_BUDGETS):
        out += [(f"org-budget-{i}", "PUT", b, body, 422), (f"key-budget-{i}", "PUT", k, body, 422)]
    out += [
        (f"reserve-{i}", "POST", "/v1/reservations", x, 422) for i, x in enumerate(BAD_RESERVATIONS)
    ]
    out += [
        (f"commit-{i}", "POST", "/v1/reservations/{held}/commit", x, 422)
        for i, x in enumerate(BAD_COMMITS)
    ]
    out += [
        (
            "commit-unknown",
            "POST",
            "/v1/reservations/res_nope/commit",
            {"actual_micro_usd": 1},
            404,
        ),
        ("release-unknown", "POST", "/v1/reservations/res_nope/release", None, 404),
        (
            "commit-long-id",
            "POST",
            "/v1/reservations/" + "r" * 300 + "/commit",
            {"actual_micro_usd": 1},
            422,
        ),
        ("list-bad-status", "GET", f"/v1/orgs/{ORG}/reservations?status=pending", None, 422),
        ("list-zero-limit", "GET", f"/v1/orgs/{ORG}/reservations?limit=0", None, 422),
        ("list-huge-limit", "GET", f"/v1/orgs/{ORG}/reservations?limit=1000000", None, 422),
        ("list-text-limit", "GET", f"/v1/orgs/{ORG}/reservations?limit=ten", None, 422),
        ("org-too-long", "GET", "/v1/orgs/" + "o" * 101 + "/spend", None, 422),
        ("get-missing-key", "GET", f"/v1/orgs/{ORG}/keys/nokey/budget", None, 404),
        ("unknown-path", "GET", "/v1/nothing", None, 404),
        ("wrong-method", "PATCH", b, GOOD_BUDGET, 405),
    ]
    return out


CASES = _cases()


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: TestClient, app: FastAPI, name: str, method: str, path: str, body: Any, status: int
) -> None:
    set_budget(client, 5_000)
    held = reserve(client, 100, request_id="req_held").json()
    before = snapshot(app)
    r = client.request(method, path.format(held=held["id"]), json=body, headers=SERVICE)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"]
    assert err["message"]
    assert err["request_id"]
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "raw",
    [b"{", b"not json", b'{"limit_micro_usd": 1,', b"\xff\xfe"],
    ids=["brace", "text", "cut", "binary"],
)
def test_malformed_json_is_400(client: TestClient, app: FastAPI, raw: bytes) -> None:
    before = snapshot(app)
    for path in (f"/v1/orgs/{ORG}/budget", "/v1/reservations"):
        method = "PUT" if path.endswith("budget") else "POST"
        r = client.request(
            method, path, content=raw, headers={**SERVICE, "Content-Type": "application/json"}
        )
        assert r.status_code in (400, 422), r.text
        assert r.json()["error"]["code"] in ("invalid_json", "validation_failed")
    assert snapshot(app) == before


# -- orgs that do not exist ------------------------------------------------------------------
@pytest.mark.parametrize(
    "org_id",
    ["org_nobody", "org_%ED%A0%80", "%FF%FE", "org_" + "9" * 90],
    ids=["unknown", "surrogate-bytes", "not-utf8", "long"],
)
@pytest.mark.parametrize("scope", ["org", "key"])
def test_no_budget_is_kept_for_an_org_identity_does_not_know(
    client: TestClient, app: FastAPI, org_id: str, scope: str
) -> None:
    """Not even with the service token, which passes every permission: 404, nothing stored."""
    before = snapshot(app)
    path = f"/v1/orgs/{org_id}/budget" if scope == "org" else f"/v1/orgs/{org_id}/keys/k1/budget"
    r = client.put(path, json={"limit_micro_usd": 10, "period": "daily"}, headers=SERVICE)
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error["code"] == "org_not_found"
    assert "No org" in error["message"]
    assert snapshot(app) == before


def test_identity_down_while_checking_the_org_is_503_and_changes_nothing(
    client: TestClient, app: FastAPI, identity: FakeIdentity
) -> None:
    before = snapshot(app)
    identity.down = True
    body = {"limit_micro_usd": 10, "period": "daily"}
    r = client.put(f"/v1/orgs/{ORG}/budget", json=body, headers=SERVICE)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "identity_unavailable"
    assert snapshot(app) == before
