"""Budgets: a denial is one 402 with the figures, concurrency never overspends (whatever the
backend's tokenizer), keys have limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.core import BudgetExceeded
from gatewright.gateway import AsyncClient as AsyncGatewayClient
from gatewright.identity import Org
from gatewright.modelsim import Client as ModelsimClient
from gatewright.modelsim import count_prompt_bytes, count_prompt_tokens
from gatewright.testkit import Harness

from .gateway_fixtures import (
    KeyMaker,
    RouteMaker,
    Tokenizer,
    cost_of,
    estimate_of,
    raw_completion,
    say,
    settled_spend,
)

pytestmark = pytest.mark.budgets


def test_an_org_at_its_limit_is_denied_and_nothing_is_spent(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("one request fits")
    cost, estimate = cost_of(messages, 5), estimate_of(alias, messages, 5)
    with gw.given(f"an org budget of exactly one reservation ({estimate} micro-USD), used"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=estimate, period="total")
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
        settled_spend(budgets_admin, org.id, cost)

    with gw.when("the next request comes"), pytest.raises(BudgetExceeded) as denied:
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
    with gw.then("it is a 402 budget_exceeded naming the org, the limit and the spend"):
        err = denied.value
        assert (err.status_code, err.code) == (402, "budget_exceeded")
        assert org.id in err.message
        assert str(estimate) in err.message
        assert (err.limit_micro_usd, err.spent_micro_usd) == (estimate, cost)
        assert err.requested_micro_usd == estimate
    with gw.then("the spend is unchanged and no request reached a backend"):
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (cost, 0)
        assert modelsim.observations.list(request_id=err.request_id).data == []


def test_a_request_one_micro_usd_over_the_budget_is_denied(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("one request almost fits")
    cost, estimate = cost_of(messages, 5), estimate_of(alias, messages, 5)
    limit = cost + estimate - 1
    # Two requests: the first reserves through budgets' general path (the key has no ledger
    # row yet), the second through its short path, which the first made possible.
    with gw.given(f"an org budget of {limit}: one request, then one micro-USD short of another"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=limit, period="total")
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
        settled_spend(budgets_admin, org.id, cost)

    with gw.when("the next request comes"), pytest.raises(BudgetExceeded) as denied:
        key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=5)
    with gw.then("it is a 402 budget_exceeded: the limit is a bound, to the micro-USD"):
        err = denied.value
        assert (err.status_code, err.code) == (402, "budget_exceeded")
        assert (err.limit_micro_usd, err.spent_micro_usd) == (limit, cost)
        assert err.requested_micro_usd == estimate
    with gw.then("nothing more is spent or held, and no request reached a backend"):
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (cost, 0)
        assert modelsim.observations.list(request_id=err.request_id).data == []


# The mixed prompt is mostly ASCII; the long Japanese one is three bytes a character, so a bound
# that counted characters instead of bytes would fall short of what the backend counts by more
# than the bound's fixed allowances (decision 10) and let an org overspend.
MIXED = "多くの手が同時に: many hands at once, `f(x) => x ** 2` ✋"
JAPANESE = "多くの手が同時に同じ予算を使おうとしても上限を超えてはならない。" * 4
TOKENIZERS: dict[str, tuple[str, Tokenizer, str]] = {
    "words": ("sim-slow-50", count_prompt_tokens, MIXED),
    "bytes": ("sim-bytes", count_prompt_bytes, MIXED),
    "bytes of Japanese": ("sim-bytes", count_prompt_bytes, JAPANESE),
}


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
def test_fifty_concurrent_requests_never_overspend(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    async_gateway: Callable[[str], AsyncGatewayClient],
    tokenizer: str,
) -> None:
    model, tokens, prompt = TOKENIZERS[tokenizer]
    alias = make_route(model)
    key = make_key()
    messages = say(prompt)
    cost, estimate = cost_of(messages, 8, tokens=tokens), estimate_of(alias, messages, 8)
    # Just short of 20 charged requests: a reservation smaller than the charge would let 20 or
    # more through (each holds less than it costs), 20 charges exceed the limit.
    limit = 20 * cost - 1
    always = limit // estimate  # reservations that fit side by side, whatever the timing
    with gw.given(f"an org budget of {limit} micro-USD; one request is charged {cost}"):
        budgets_admin.budgets.set_org(org.id, limit_micro_usd=limit, period="total")

    async def burst() -> list[object]:
        async with async_gateway(key.secret) as client:
            calls = [
                client.chat.completions.create(model=alias, messages=messages, max_tokens=8)
                for _ in range(50)
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    with gw.when(f"50 requests arrive at the same time on a backend counting {tokenizer}"):
        results = asyncio.run(burst())
    denied = [r for r in results if isinstance(r, BudgetExceeded)]
    served = len(results) - len(denied)
    with gw.then(f"at least {always} are served and every other one gets 402"):
        assert [r for r in results if isinstance(r, BaseException) and r not in denied] == []
        assert served >= max(1, always)
    with gw.then("the org never ends above its limit, and no reservation is left open"):
        spend = settled_spend(budgets_admin, org.id, served * cost)
        assert spend.spent_micro_usd <= limit
        assert budgets_admin.reservations.list(org.id, status="held").data == []


def test_a_key_budget_stops_that_key_only(
    gw: Harness, org: Org, make_route: RouteMaker, make_key: KeyMaker, budgets_admin: BudgetsClient
) -> None:
    alias = make_route("sim-echo")
    capped, free = make_key("capped"), make_key("free")
    messages = say("per key limits")
    cost, estimate = cost_of(messages, 3), estimate_of(alias, messages, 3)
    with gw.given("one key with a budget of a single request, already used"):
        budgets_admin.budgets.set_key(org.id, capped.id, limit_micro_usd=estimate, period="daily")
        capped.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=3)
        settled_spend(budgets_admin, org.id, cost)

    with gw.when("that key asks again"), pytest.raises(BudgetExceeded) as denied:
        capped.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=3)
    with gw.then("it is denied for the key's budget"):
        assert denied.value.details["scope"] == "key"
        assert capped.id in denied.value.message
    with gw.then("another key of the same org still works"):
        ok = free.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=3)
        assert ok.usage.completion_tokens == 3
        settled_spend(budgets_admin, org.id, 2 * cost)


def test_a_streamed_completion_costs_what_the_plain_one_costs(
    gw: Harness, org: Org, make_route: RouteMaker, make_key: KeyMaker, budgets_admin: BudgetsClient
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    messages = say("stream me the same words")

    cost = cost_of(messages, 7)

    with gw.when("the request is made plain"):
        plain = key.gateway.chat.completions.create(model=alias, messages=messages, max_tokens=7)
    with gw.then(f"it is charged {cost} micro-USD"):
        settled_spend(budgets_admin, org.id, cost)
    with (
        gw.when("the same request is streamed"),
        key.gateway.chat.completions.stream(model=alias, messages=messages, max_tokens=7) as stream,
    ):
        chunks = list(stream)
    with gw.then("it carries the same words and is charged the same again"):
        streamed = "".join(
            c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta
        )
        assert streamed.split() == plain.content.split()
        settled_spend(budgets_admin, org.id, 2 * cost)


# The gateway answers like OpenAI: every invalid parameter is a 400 invalid_request.
@pytest.mark.parametrize(
    ("case", "body", "status", "code"),
    [
        ("unknown model", {"model": "no-such-alias", "max_tokens": 4}, 404, "model_not_found"),
        ("huge max_tokens", {"max_tokens": 10**9}, 400, "invalid_request"),
        ("negative max_tokens", {"max_tokens": -5}, 400, "invalid_request"),
        ("wrong type", {"max_tokens": "many"}, 400, "invalid_request"),
        ("no messages", {"messages": [], "max_tokens": 4}, 400, "invalid_request"),
    ],
)
def test_bad_completion_requests_get_a_4xx_and_spend_nothing(
    gw: Harness,
    org: Org,
    make_route: RouteMaker,
    make_key: KeyMaker,
    budgets_admin: BudgetsClient,
    modelsim: ModelsimClient,
    case: str,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    alias = make_route("sim-echo")
    key = make_key()
    request = {"model": alias, "messages": say("bad input"), **body}
    with gw.when(f"a completion request with {case} arrives"):
        response = raw_completion(gw, key.secret, json.dumps(request).encode())
    with gw.then(f"it is refused with {status} {code}, and nothing reached a backend"):
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]
        rid = response.headers["x-request-id"]
        assert modelsim.observations.list(request_id=rid).data == []
    with gw.then("the org's spend is untouched"):
        spend = budgets_admin.spend.get(org.id)
        assert (spend.spent_micro_usd, spend.reserved_micro_usd) == (0, 0)


def test_a_body_that_is_not_json_gets_a_400_and_spends_nothing(
    gw: Harness, org: Org, make_key: KeyMaker, budgets_admin: BudgetsClient
) -> None:
    key = make_key()
    with gw.when("a completion request whose body is not JSON arrives"):
        response = raw_completion(gw, key.secret, b'{"model": "x", "messages": [')
    with gw.then("it is a 400 invalid_json and the spend is untouched"):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_json"
        assert budgets_admin.spend.get(org.id).spent_micro_usd == 0
