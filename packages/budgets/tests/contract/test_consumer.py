"""Consumer contract: what `gatewright.budgets.Client` needs from the budgets service.

Every interaction is registered by a small builder right above the test that exercises it with the
real sync `Client`. Pact's mock server cannot take new interactions once it has served, so the
module fixture (`testkit.pactconsumer`) builds all of them, serves them once for the module, fails
at teardown if any was never requested (or mismatched), then writes `<pact
dir>/budgets-client-budgets.json` (`GATEWRIGHT_PACT_DIR`, default `<repo>/contracts`) exactly once.
Examples are fixed values (`pact_examples`), so the file is deterministic.

Requests carry `Authorization: Bearer <example token>` under a regex matcher; the provider test
makes exactly those example tokens valid (see its module docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from gatewright.budgets import (
    CONSUMER,
    PROVIDER,
    STATE_BUDGET_NEARLY_SPENT,
    STATE_KEY_BUDGET_EXISTS,
    STATE_ORG_BUDGET_EXISTS,
    STATE_RESERVATION_HELD,
    STATE_SERVICE_TOKEN,
    STATE_USER_CAN_MANAGE_BUDGETS,
    BudgetExceeded,
    Client,
)
from gatewright.core import NotFound, RetryPolicy
from gatewright.testkit.pactconsumer import Interactions, bearer, error_body, timestamp

from pact_examples import (  # isort: skip
    ALICE_ID,
    ALICE_TOKEN,
    HELD,
    KEY_ID,
    LIMIT,
    NEW_REQUEST_ID,
    ORG_ID,
    REQUEST_ID,
    RESERVATION_ID,
    SERVICE_TOKEN,
    SPENT,
    UNBUDGETED_ORG_ID,
)

JSON = "application/json"

interaction = Interactions(CONSUMER, PROVIDER)


def error(code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return error_body(match.str("not_found_error"), code, details)


USER = {"org_id": ORG_ID, "user_id": ALICE_ID, "token": ALICE_TOKEN}
ORG_BUDGET = {**USER, "limit_micro_usd": LIMIT, "period": "monthly", "spent_micro_usd": SPENT}
KEY_BUDGET = {**ORG_BUDGET, "key_id": KEY_ID, "period": "daily"}
HELD_STATE = {
    "service_token": SERVICE_TOKEN,
    "reservation_id": RESERVATION_ID,
    "org_id": ORG_ID,
    "key_id": KEY_ID,
    "amount_micro_usd": HELD,
    "request_id": REQUEST_ID,
}


def idempotency_key() -> Any:
    """The client makes a fresh key per call: the pact pins its shape, not its value."""
    return match.regex("idk_" + "5" * 32, regex=r"^[A-Za-z0-9._:\-]{8,200}$")


def budget_body(key_id: str | None, period: str, spent: int) -> dict[str, Any]:
    return {
        "org_id": ORG_ID,
        "key_id": key_id,
        "limit_micro_usd": LIMIT,
        "period": period,
        "period_start": timestamp(),
        "spent_micro_usd": spent,
        "reserved_micro_usd": 0,
        "updated_at": timestamp(),
    }


def reservation_body(status: str, actual: int | None = None) -> dict[str, Any]:
    return {
        "id": RESERVATION_ID,
        "org_id": ORG_ID,
        "key_id": KEY_ID,
        "amount_micro_usd": HELD,
        "request_id": REQUEST_ID,
        "status": status,
        "actual_micro_usd": actual,
        "expires_at": timestamp(),
        "created_at": timestamp(),
    }


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


@pytest.fixture
def user(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, token=ALICE_TOKEN, retry=RetryPolicy(max_retries=0)) as client:
        yield client


@pytest.fixture
def service(mock_url: str) -> Iterator[Client]:
    with Client(mock_url, token=SERVICE_TOKEN, retry=RetryPolicy(max_retries=0)) as client:
        yield client


# -- budgets ---------------------------------------------------------------------------------
@interaction
def _set_org(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin setting the org's monthly budget")
        .given(STATE_USER_CAN_MANAGE_BUDGETS, **USER)
        .with_request("PUT", f"/v1/orgs/{ORG_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .with_body({"limit_micro_usd": LIMIT, "period": "monthly"}, JSON)
        .will_respond_with(200)
        .with_body(budget_body(None, "monthly", 0), JSON)
    )


def test_set_org(user: Client) -> None:
    budget = user.budgets.set_org(ORG_ID, limit_micro_usd=LIMIT, period="monthly")
    assert (budget.org_id, budget.key_id, budget.limit_micro_usd) == (ORG_ID, None, LIMIT)


@interaction
def _get_org(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the org's budget")
        .given(STATE_ORG_BUDGET_EXISTS, **ORG_BUDGET)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(budget_body(None, "monthly", SPENT), JSON)
    )


def test_get_org(user: Client) -> None:
    budget = user.budgets.get_org(ORG_ID)
    assert (budget.spent_micro_usd, budget.period) == (SPENT, "monthly")


@interaction
def _get_org_missing(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for an org budget that is not set")
        .given(STATE_USER_CAN_MANAGE_BUDGETS, **{**USER, "org_id": UNBUDGETED_ORG_ID})
        .with_request("GET", f"/v1/orgs/{UNBUDGETED_ORG_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(404)
        .with_body(error("budget_not_found"), JSON)
    )


def test_get_org_missing(user: Client) -> None:
    with pytest.raises(NotFound) as info:
        user.budgets.get_org(UNBUDGETED_ORG_ID)
    assert info.value.code == "budget_not_found"


@interaction
def _delete_org(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin removing the org's budget")
        .given(STATE_ORG_BUDGET_EXISTS, **ORG_BUDGET)
        .with_request("DELETE", f"/v1/orgs/{ORG_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(204)
    )


def test_delete_org(user: Client) -> None:
    assert user.budgets.delete_org(ORG_ID) is None


@interaction
def _set_key(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin setting a key's daily budget")
        .given(STATE_USER_CAN_MANAGE_BUDGETS, **USER)
        .with_request("PUT", f"/v1/orgs/{ORG_ID}/keys/{KEY_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .with_body({"limit_micro_usd": LIMIT, "period": "daily"}, JSON)
        .will_respond_with(200)
        .with_body(budget_body(KEY_ID, "daily", 0), JSON)
    )


def test_set_key(user: Client) -> None:
    budget = user.budgets.set_key(ORG_ID, KEY_ID, limit_micro_usd=LIMIT, period="daily")
    assert budget.key_id == KEY_ID


@interaction
def _get_key(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a key's budget")
        .given(STATE_KEY_BUDGET_EXISTS, **KEY_BUDGET)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/keys/{KEY_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(budget_body(KEY_ID, "daily", SPENT), JSON)
    )


def test_get_key(user: Client) -> None:
    assert user.budgets.get_key(ORG_ID, KEY_ID).spent_micro_usd == SPENT


@interaction
def _delete_key(pact: Pact) -> None:
    (
        pact.upon_receiving("an admin removing a key's budget")
        .given(STATE_KEY_BUDGET_EXISTS, **KEY_BUDGET)
        .with_request("DELETE", f"/v1/orgs/{ORG_ID}/keys/{KEY_ID}/budget")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(204)
    )


def test_delete_key(user: Client) -> None:
    assert user.budgets.delete_key(ORG_ID, KEY_ID) is None


# -- spend -----------------------------------------------------------------------------------
@interaction
def _spend(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the org's spend")
        .given(STATE_KEY_BUDGET_EXISTS, **KEY_BUDGET)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/spend")
        .with_header("Authorization", bearer(ALICE_TOKEN))
        .will_respond_with(200)
        .with_body(
            {
                "org_id": ORG_ID,
                "spent_micro_usd": match.int(SPENT),
                "reserved_micro_usd": match.int(0),
                "limit_micro_usd": None,
                "period": None,
                "period_start": None,
                "keys": match.each_like(
                    {
                        "key_id": KEY_ID,
                        "spent_micro_usd": match.int(SPENT),
                        "reserved_micro_usd": match.int(0),
                        "limit_micro_usd": LIMIT,
                        "period": "daily",
                        "period_start": timestamp(),
                    }
                ),
            },
            JSON,
        )
    )


def test_spend(user: Client) -> None:
    spend = user.spend.get(ORG_ID)
    assert spend.limit_micro_usd is None
    assert spend.keys[0].key_id == KEY_ID
    assert spend.keys[0].limit_micro_usd == LIMIT


# -- reservations ----------------------------------------------------------------------------
@interaction
def _reserve(pact: Pact) -> None:
    (
        pact.upon_receiving("a service reserving spend for a request")
        .given(STATE_KEY_BUDGET_EXISTS, **KEY_BUDGET)
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("POST", "/v1/reservations")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(
            {
                "org_id": ORG_ID,
                "key_id": KEY_ID,
                "amount_micro_usd": HELD,
                "request_id": NEW_REQUEST_ID,
                "idempotency_key": idempotency_key(),
                "ttl_seconds": 120,
            },
            JSON,
        )
        .will_respond_with(201)
        .with_body(
            {
                **reservation_body("held"),
                "id": match.regex(RESERVATION_ID, regex=r"^res_[A-Za-z0-9]+$"),
                "request_id": NEW_REQUEST_ID,
                "replayed": False,
            },
            JSON,
        )
    )


def test_reserve(service: Client) -> None:
    r = service.reservations.create(
        org_id=ORG_ID,
        key_id=KEY_ID,
        amount_micro_usd=HELD,
        request_id=NEW_REQUEST_ID,
        ttl_seconds=120,
    )
    assert r.status == "held"
    assert r.caller_request_id == NEW_REQUEST_ID


@interaction
def _reserve_denied(pact: Pact) -> None:
    (
        pact.upon_receiving("a reservation that would exceed the org's budget")
        .given(
            STATE_BUDGET_NEARLY_SPENT,
            service_token=SERVICE_TOKEN,
            org_id=ORG_ID,
            limit_micro_usd=LIMIT,
            spent_micro_usd=LIMIT - 10_000,
            period="monthly",
        )
        .with_request("POST", "/v1/reservations")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(
            {
                "org_id": ORG_ID,
                "key_id": None,
                "amount_micro_usd": HELD,
                "request_id": NEW_REQUEST_ID,
                "idempotency_key": idempotency_key(),
            },
            JSON,
        )
        .will_respond_with(402)
        .with_body(
            error(
                "budget_exceeded",
                {
                    "scope": "org",
                    "org_id": ORG_ID,
                    "key_id": None,
                    "limit_micro_usd": LIMIT,
                    "spent_micro_usd": LIMIT - 10_000,
                    "reserved_micro_usd": 0,
                    "requested_micro_usd": HELD,
                    "period": "monthly",
                },
            ),
            JSON,
        )
    )


def test_reserve_denied(service: Client) -> None:
    with pytest.raises(BudgetExceeded) as info:
        service.reservations.create(
            org_id=ORG_ID, key_id=None, amount_micro_usd=HELD, request_id=NEW_REQUEST_ID
        )
    exc = info.value
    assert (exc.limit_micro_usd, exc.spent_micro_usd) == (LIMIT, LIMIT - 10_000)
    assert (exc.reserved_micro_usd, exc.requested_micro_usd) == (0, HELD)


@interaction
def _commit(pact: Pact) -> None:
    (
        pact.upon_receiving("a service committing a held reservation")
        .given(STATE_RESERVATION_HELD, **HELD_STATE)
        .with_request("POST", f"/v1/reservations/{RESERVATION_ID}/commit")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body({"actual_micro_usd": 12_345}, JSON)
        .will_respond_with(200)
        .with_body(reservation_body("committed", 12_345), JSON)
    )


def test_commit(service: Client) -> None:
    r = service.reservations.commit(RESERVATION_ID, actual_micro_usd=12_345)
    assert (r.status, r.actual_micro_usd) == ("committed", 12_345)


@interaction
def _release(pact: Pact) -> None:
    (
        pact.upon_receiving("a service releasing a held reservation")
        .given(STATE_RESERVATION_HELD, **HELD_STATE)
        .with_request("POST", f"/v1/reservations/{RESERVATION_ID}/release")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body(reservation_body("released"), JSON)
    )


def test_release(service: Client) -> None:
    assert service.reservations.release(RESERVATION_ID).status == "released"


@interaction
def _list(pact: Pact) -> None:
    (
        pact.upon_receiving("a service listing the org's held reservations")
        .given(STATE_RESERVATION_HELD, **HELD_STATE)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/reservations")
        .with_query_parameter("status", "held")
        .with_query_parameter("limit", "10")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body({"data": match.each_like(reservation_body("held"))}, JSON)
    )


def test_list(service: Client) -> None:
    listed = service.reservations.list(ORG_ID, status="held", limit=10)
    assert listed.data[0].id == RESERVATION_ID
