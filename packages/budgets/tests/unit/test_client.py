"""The budgets client: every resource method on both `Client` and `AsyncClient` (respx)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

import gatewright.budgets as budgets
from gatewright.budgets import AsyncClient, Client
from gatewright.core import RetryPolicy, errors
from gatewright.core.testing import (
    ClientCase,
    Runner,
    check_case,
    modules_loaded_by,
    public_methods,
    runner,
)

BASE = "http://budgets.test"
NO_RETRY = RetryPolicy(max_retries=0)
T0 = "2026-01-02T00:00:00Z"

BUDGET = {
    "org_id": "org_1",
    "key_id": None,
    "limit_micro_usd": 1_000_000,
    "period": "daily",
    "period_start": T0,
    "spent_micro_usd": 100,
    "reserved_micro_usd": 50,
    "updated_at": T0,
}
KEY_BUDGET = {**BUDGET, "key_id": "key_1"}
SPEND = {
    "org_id": "org_1",
    "spent_micro_usd": 100,
    "reserved_micro_usd": 50,
    "limit_micro_usd": None,
    "period": None,
    "period_start": None,
    "keys": [
        {
            "key_id": "key_1",
            "spent_micro_usd": 100,
            "reserved_micro_usd": 50,
            "limit_micro_usd": 500,
            "period": "monthly",
            "period_start": T0,
        }
    ],
}
RES = {
    "id": "res_1",
    "org_id": "org_1",
    "key_id": "key_1",
    "amount_micro_usd": 500,
    "request_id": "req_1",
    "status": "held",
    "actual_micro_usd": None,
    "expires_at": T0,
    "created_at": T0,
}


AnyClient = Client | AsyncClient


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Each case runs through the sync and the async client."""
    return runner(request.param, Client, AsyncClient, BASE, token="tok", retry=NO_RETRY)


CASES = [
    ClientCase(
        "budgets.set_org",
        lambda c: c.budgets.set_org("org_1", limit_micro_usd=1_000_000, period="daily"),
        "PUT",
        "/v1/orgs/org_1/budget",
        {"limit_micro_usd": 1_000_000, "period": "daily"},
        200,
        BUDGET,
        lambda r: (
            isinstance(r, budgets.Budget)
            and r.key_id is None
            and r.period_start == datetime(2026, 1, 2, tzinfo=UTC)
        ),
    ),
    ClientCase(
        "budgets.get_org",
        lambda c: c.budgets.get_org("org_1"),
        "GET",
        "/v1/orgs/org_1/budget",
        None,
        200,
        BUDGET,
        lambda r: r.spent_micro_usd == 100 and r.reserved_micro_usd == 50,
    ),
    ClientCase(
        "budgets.delete_org",
        lambda c: c.budgets.delete_org("org_1"),
        "DELETE",
        "/v1/orgs/org_1/budget",
        None,
        204,
        None,
        lambda r: r is None,
    ),
    ClientCase(
        "budgets.set_key",
        lambda c: c.budgets.set_key("org_1", "key_1", limit_micro_usd=5, period="total"),
        "PUT",
        "/v1/orgs/org_1/keys/key_1/budget",
        {"limit_micro_usd": 5, "period": "total"},
        200,
        KEY_BUDGET,
        lambda r: r.key_id == "key_1",
    ),
    ClientCase(
        "budgets.get_key",
        lambda c: c.budgets.get_key("org_1", "key_1"),
        "GET",
        "/v1/orgs/org_1/keys/key_1/budget",
        None,
        200,
        KEY_BUDGET,
        lambda r: r.key_id == "key_1",
    ),
    ClientCase(
        "budgets.delete_key",
        lambda c: c.budgets.delete_key("org_1", "key_1"),
        "DELETE",
        "/v1/orgs/org_1/keys/key_1/budget",
        None,
        204,
        None,
        lambda r: r is None,
    ),
    ClientCase(
        "spend.get",
        lambda c: c.spend.get("org_1"),
        "GET",
        "/v1/orgs/org_1/spend",
        None,
        200,
        SPEND,
        lambda r: (
            isinstance(r, budgets.Spend)
            and r.limit_micro_usd is None
            and r.keys[0].limit_micro_usd == 500
        ),
    ),
    ClientCase(
        "reservations.create",
        lambda c: c.reservations.create(
            org_id="org_1",
            key_id="key_1",
            amount_micro_usd=500,
            request_id="req_1",
            idempotency_key="idk_case_1",
        ),
        "POST",
        "/v1/reservations",
        {
            "org_id": "org_1",
            "key_id": "key_1",
            "amount_micro_usd": 500,
            "request_id": "req_1",
            "idempotency_key": "idk_case_1",
        },
        201,
        RES,
        lambda r: (
            isinstance(r, budgets.Reservation)
            and r.status == "held"
            and r.caller_request_id == "req_1"
        ),
    ),
    ClientCase(
        "reservations.create(org only, ttl)",
        lambda c: c.reservations.create(
            org_id="org_1",
            key_id=None,
            amount_micro_usd=5,
            request_id="r",
            idempotency_key="idk_case_2",
            ttl_seconds=60,
        ),
        "POST",
        "/v1/reservations",
        {
            "org_id": "org_1",
            "key_id": None,
            "amount_micro_usd": 5,
            "request_id": "r",
            "idempotency_key": "idk_case_2",
            "ttl_seconds": 60,
        },
        201,
        {**RES, "key_id": None},
        lambda r: r.key_id is None,
    ),
    ClientCase(
        "reservations.commit",
        lambda c: c.reservations.commit("res_1", actual_micro_usd=420),
        "POST",
        "/v1/reservations/res_1/commit",
        {"actual_micro_usd": 420},
        200,
        {**RES, "status": "committed", "actual_micro_usd": 420},
        lambda r: r.status == "committed" and r.actual_micro_usd == 420,
    ),
    ClientCase(
        "reservations.release",
        lambda c: c.reservations.release("res_1"),
        "POST",
        "/v1/reservations/res_1/release",
        None,
        200,
        {**RES, "status": "released"},
        lambda r: r.status == "released",
    ),
    ClientCase(
        "reservations.list",
        lambda c: c.reservations.list("org_1"),
        "GET",
        "/v1/orgs/org_1/reservations",
        None,
        200,
        {"data": [RES]},
        lambda r: isinstance(r, budgets.ReservationList) and r.data[0].id == "res_1",
        query={},
    ),
    ClientCase(
        "reservations.list(filtered)",
        lambda c: c.reservations.list("org_1", status="held", limit=10),
        "GET",
        "/v1/orgs/org_1/reservations",
        None,
        200,
        {"data": []},
        lambda r: r.data == [],
        query={"status": "held", "limit": "10"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@respx.mock
async def test_resource_call(run: Runner, case: ClientCase) -> None:
    await check_case(run, case, base_url=BASE, token="tok")


def test_ids_are_one_path_segment() -> None:
    with respx.mock:
        route = respx.get(f"{BASE}/v1/orgs/..%2Fx/keys/a%2Fb/budget").mock(
            return_value=httpx.Response(200, json=KEY_BUDGET)
        )
        with Client(BASE) as c:
            c.budgets.get_key("../x", "a/b")
        assert route.called


@respx.mock
async def test_budget_exceeded_carries_figures_and_is_never_retried(run: Runner) -> None:
    body = {
        "error": {
            "type": "budget_exceeded_error",
            "code": "budget_exceeded",
            "message": "Org org_1 would exceed its daily budget: limit 1000000, spent 900000, "
            "reserved 50000, requested 100000 (micro-USD).",
            "request_id": "req_abc",
            "details": {
                "scope": "org",
                "org_id": "org_1",
                "key_id": None,
                "limit_micro_usd": 1_000_000,
                "spent_micro_usd": 900_000,
                "reserved_micro_usd": 50_000,
                "requested_micro_usd": 100_000,
                "period": "daily",
            },
        }
    }
    route = respx.post(f"{BASE}/v1/reservations").mock(return_value=httpx.Response(402, json=body))

    def call(c: AnyClient) -> Any:
        # A retrying client: a 402 must still be sent exactly once.
        c2 = c.with_options(retry=RetryPolicy(max_retries=3, initial_delay=0))
        return c2.reservations.create(
            org_id="org_1", key_id=None, amount_micro_usd=100_000, request_id="r"
        )

    with pytest.raises(errors.BudgetExceeded) as info:
        await run(call)
    exc = info.value
    assert exc.status_code == 402
    assert exc.code == "budget_exceeded"
    assert (exc.limit_micro_usd, exc.spent_micro_usd) == (1_000_000, 900_000)
    assert (exc.reserved_micro_usd, exc.requested_micro_usd) == (50_000, 100_000)
    assert exc.details["scope"] == "org"
    assert route.call_count == 1


ERRORS = [
    (401, "unauthenticated", errors.AuthenticationError),
    (403, "permission_denied", errors.PermissionDenied),
    (404, "budget_not_found", errors.NotFound),
    (409, "conflict", errors.Conflict),
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
            "message": "No budget is set for org org_1.",
            "request_id": "req_abc",
            "details": {"org_id": "org_1"},
        }
    }
    respx.get(f"{BASE}/v1/orgs/org_1/budget").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(cls) as info:
        await run(lambda c: c.budgets.get_org("org_1"))
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.request_id == "req_abc"
    assert info.value.details == {"org_id": "org_1"}


def test_models_ignore_fields_a_newer_provider_adds() -> None:
    r = budgets.Reservation.model_validate({**RES, "new_field": 1})
    assert r.id == "res_1"


def test_public_api_is_pinned() -> None:
    assert sorted(budgets.__all__) == sorted(
        [
            "CONSUMER",
            "DEFAULT_TTL_SECONDS",
            "MAX_AMOUNT_MICRO_USD",
            "MAX_LIMIT_MICRO_USD",
            "MAX_TTL_SECONDS",
            "PERIODS",
            "PROVIDER",
            "RESERVATION_STATUSES",
            "STATE_BUDGET_NEARLY_SPENT",
            "STATE_KEY_BUDGET_EXISTS",
            "STATE_ORG_BUDGET_EXISTS",
            "STATE_RESERVATION_HELD",
            "STATE_SERVICE_TOKEN",
            "STATE_USER_CAN_MANAGE_BUDGETS",
            "AsyncBudgets",
            "AsyncClient",
            "AsyncReservations",
            "AsyncSpendResource",
            "Budget",
            "BudgetExceeded",
            "Budgets",
            "Client",
            "KeySpend",
            "Period",
            "Reservation",
            "ReservationList",
            "ReservationStatus",
            "Reservations",
            "Spend",
            "SpendResource",
        ]
    )
    for name in budgets.__all__:
        assert hasattr(budgets, name), name


def test_sync_and_async_resources_have_the_same_methods() -> None:
    sync, async_ = Client(BASE), AsyncClient(BASE)
    for name in ("budgets", "spend", "reservations"):
        s_methods = public_methods(getattr(sync, name))
        a_methods = public_methods(getattr(async_, name))
        assert s_methods == a_methods, name
    sync.close()


def test_client_never_imports_the_service() -> None:
    assert (
        modules_loaded_by(
            "gatewright.budgets",
            (
                "fastapi",
                "gatewright.servicekit",
                "gatewright.budgets.service",
                "gatewright.identity",
                "sqlalchemy",
            ),
        )
        == []
    )
