"""Charging what was used: the ledger charges the backend's usage, never the gateway's estimate.

The gateway reserves an upper bound (decision 10) and commits what the backend reports; the
difference is released. A backend that stops before `max_tokens` (`sim-short-<n>`) or counts
tokens its own way (`sim-bytes`, one per byte) is charged exactly its usage at the route's prices,
and the budgets API shows the reservation committed at that amount with nothing left held. A
reservation replayed under its idempotency key with another amount is refused (decision 8).
"""

from __future__ import annotations

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.budgets import Reservation
from gatewright.core import Conflict
from gatewright.gateway import Client as GatewayClient
from gatewright.identity import Org
from gatewright.testkit import Harness

from .gateway_fixtures import (
    KeyMaker,
    RouteMaker,
    charge_of,
    estimate_of,
    say,
    settled_spend,
)

pytestmark = pytest.mark.budgets

# A backend whose usage differs from the gateway's estimate: shorter, or counted in bytes.
BACKENDS = {"shorter": ("sim-short-2", 9), "bytes": ("sim-bytes", 9)}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_completion_is_charged_the_usage_its_backend_reported(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    backend: str,
) -> None:
    model, max_tokens = BACKENDS[backend]
    alias = make_route(model)
    key = make_key()
    messages = say("charge me for what you said, not for what you could have said")
    estimate = estimate_of(alias, messages, max_tokens)
    limit = 10 * estimate
    with gw.given(f"an org budget of {limit} micro-USD"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=limit, period="total")
    with gw.when(f"a completion is served by {model} (max_tokens {max_tokens})"):
        completion = key.gateway.chat.completions.create(
            model=alias, messages=messages, max_tokens=max_tokens
        )
    usage = completion.usage
    used = charge_of(usage.prompt_tokens, usage.completion_tokens)
    with gw.then(f"the ledger charged its usage at the route's prices: {used} micro-USD"):
        if backend == "shorter":
            # what the caller got is what the backend counted: 2 words, not the 9 allowed
            assert len(completion.content.split()) == usage.completion_tokens == 2
        assert used < estimate, f"{model} must report less than the {estimate} reserved"
        spend = settled_spend(budgets_admin, org.id, used)
        assert (spend.spent_micro_usd, spend.limit_micro_usd) == (used, limit)
    with gw.then(f"its reservation held {estimate}, is committed at {used}, the rest released"):
        (reservation,) = [
            r
            for r in budgets_admin.reservations.list(org.id).data
            if r.caller_request_id == completion.request_id
        ]
        assert (reservation.status, reservation.amount_micro_usd) == ("committed", estimate)
        assert reservation.actual_micro_usd == used
        assert budgets_admin.spend.get(org.id).reserved_micro_usd == 0


def test_a_reservation_replayed_with_another_amount_is_refused(
    gw: Harness, org: Org, budgets_admin: BudgetsClient
) -> None:
    token = gw.target.service_token
    assert token, "the target has no service token (GATEWRIGHT_SERVICE_TOKEN)"
    service = BudgetsClient(**gw.client_kwargs("budgets", token=token))
    gw.cleanup.release("close the service budgets client", service.close)
    idem = gw.names.name("idem")
    with gw.given("a service holds 500 micro-USD under an idempotency key"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=10_000, period="total")
        held = service.reservations.create(
            org_id=org.id,
            key_id=None,
            amount_micro_usd=500,
            request_id=gw.request_ids(),
            idempotency_key=idem,
        )
        gw.cleanup.add(f"release {held.id} if still held", lambda: _release_held(service, held))
    with gw.when("the same key is replayed with the same amount"):
        again = service.reservations.create(
            org_id=org.id,
            key_id=None,
            amount_micro_usd=500,
            request_id=gw.request_ids(),
            idempotency_key=idem,
        )
    with gw.then("it is the same reservation, marked replayed"):
        assert (again.id, again.replayed) == (held.id, True)
    with gw.when("the same key is replayed with 5000"), pytest.raises(Conflict) as reused:
        service.reservations.create(
            org_id=org.id,
            key_id=None,
            amount_micro_usd=5000,
            request_id=gw.request_ids(),
            idempotency_key=idem,
        )
    with gw.then("it is a 409 idempotency_key_reused, and only the first 500 is held"):
        assert (reused.value.status_code, reused.value.code) == (409, "idempotency_key_reused")
        assert reused.value.message
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (0, 500)
    with gw.when("the reservation is committed at 300 and the key replayed once more"):
        service.reservations.commit(held.id, actual_micro_usd=300)
        with pytest.raises(Conflict) as settled:
            service.reservations.create(
                org_id=org.id,
                key_id=None,
                amount_micro_usd=500,
                request_id=gw.request_ids(),
                idempotency_key=idem,
            )
    with gw.then("a settled reservation never authorizes again: 409, spend 300, nothing held"):
        assert (settled.value.status_code, settled.value.code) == (409, "reservation_settled")
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (300, 0)


def _release_held(service: BudgetsClient, held: Reservation) -> None:
    """Teardown: a reservation the flow left held (it failed early) is released."""
    still = [r for r in service.reservations.list(held.org_id, status="held").data]
    if any(r.id == held.id for r in still):
        service.reservations.release(held.id)


def test_a_fraction_of_a_micro_usd_is_charged_as_a_whole_one(
    gw: Harness,
    org: Org,
    make_key: KeyMaker,
    gateway_admin: GatewayClient,
    budgets_admin: BudgetsClient,
) -> None:
    # Prices of a fraction of a micro-USD per token: the sum is rounded up, never given away.
    input_price, output_price = 1_500_001, 2_500_001
    alias = gw.names.name("alias")
    with gw.given(f"a route {alias} at {input_price} and {output_price} micro-USD per Mtok"):
        gateway_admin.routes.put(
            alias,
            org_id=org.id,
            backends=[{"url": gw.url("modelsim"), "model": "sim-echo", "timeout_seconds": 5.0}],
            input_micro_usd_per_mtok=input_price,
            output_micro_usd_per_mtok=output_price,
        )
    key = make_key()
    with gw.when("a completion is served"):
        completion = key.gateway.chat.completions.create(
            model=alias, messages=say("an odd number of words here"), max_tokens=3
        )
    usage = completion.usage
    exact = usage.prompt_tokens * input_price + usage.completion_tokens * output_price
    charged = -(-exact // 10**6)
    with gw.then(f"the ledger charged {exact / 10**6} micro-USD rounded up: {charged}"):
        assert exact % 10**6, "the usage must leave a fraction for this flow to mean anything"
        settled_spend(budgets_admin, org.id, charged)
