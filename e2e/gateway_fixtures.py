"""Fixtures for the routing and budget flows: routes, keys, budgets and the clients to use them.

Prices are chosen so the arithmetic reads easily: 1 micro-USD per prompt token and 2 per
completion token. modelsim answers exactly `max_tokens` words and counts prompt tokens by words
(`cost_of`), or by UTF-8 bytes for `sim-bytes` (`cost_of(..., tokens=count_prompt_bytes)`). The
gateway reserves an upper bound of any tokenizer's count (`estimate_of`, decision 10), more than
either, so a budget that must fit N requests fits N reservations (`exact_budget`).

The gateway commits a completion's cost just after the answer went out (off the latency path),
so a flow that reads the spend after a completion waits for it to settle (`settled_spend`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gatewright.budgets import Client as BudgetsClient
from gatewright.budgets import Spend
from gatewright.gateway import AsyncClient as AsyncGatewayClient
from gatewright.gateway import Client as GatewayClient
from gatewright.gateway import prompt_token_bound
from gatewright.identity import Org
from gatewright.modelsim import Client as ModelsimClient
from gatewright.modelsim import count_prompt_tokens
from gatewright.testkit import Harness, Outcome, eventually

from .actors import Actor

INPUT_PRICE = 1_000_000  # micro-USD per million prompt tokens: 1 per token
OUTPUT_PRICE = 2_000_000  # micro-USD per million completion tokens: 2 per token


Tokenizer = Callable[[list[dict[str, Any]]], int]


def cost_of(
    messages: list[dict[str, Any]], max_tokens: int, *, tokens: Tokenizer = count_prompt_tokens
) -> int:
    """What one completion is charged on a test route: modelsim's usage (words, or `tokens`)."""
    return tokens(messages) * INPUT_PRICE // 10**6 + max_tokens * OUTPUT_PRICE // 10**6


def charge_of(prompt_tokens: int, completion_tokens: int) -> int:
    """What a completion whose backend reported this usage is charged on a test route."""
    return prompt_tokens * INPUT_PRICE // 10**6 + completion_tokens * OUTPUT_PRICE // 10**6


def estimate_of(alias: str, messages: list[dict[str, Any]], max_tokens: int) -> int:
    """What the gateway reserves for `chat.completions.create(model=alias, messages=messages,
    max_tokens=max_tokens)`: the bound of any backend's count (decision 10), the client's body."""
    body = {"model": alias, "messages": messages, "max_tokens": max_tokens}
    return prompt_token_bound(body) * INPUT_PRICE // 10**6 + max_tokens * OUTPUT_PRICE // 10**6


def exact_budget(n: int, estimate: int, cost: int) -> int:
    """A limit that serves exactly `n` of any number of concurrent requests, whatever the timing:
    n reservations fit at once, and once n are charged another reservation does not.

    Needs `(n - 1) * estimate < n * cost`; a request with a longer completion (`max_tokens`)
    makes the bound's fixed slack small enough."""
    limit = n * estimate
    assert limit < n * cost + estimate, f"no limit serves exactly {n}: pick a larger max_tokens"
    return limit


def raw_completion(
    gw: Harness, secret: str, content: bytes, *, request_id: str | None = None
) -> httpx.Response:
    """POST a body as given (possibly invalid) to the gateway, recorded like any exchange;
    `request_id` sends that X-Request-ID instead of the harness's next one (a replay)."""
    headers = {
        "Authorization": f"Bearer {secret}",
        "Content-Type": "application/json",
        "X-Request-ID": request_id or gw.request_ids(),
    }
    hooks = gw.recorder.sync_hooks()
    with httpx.Client(base_url=gw.url("gateway"), event_hooks=hooks, timeout=10) as http:
        return http.post("/v1/chat/completions", content=content, headers=headers)


def settled_spend(budgets: BudgetsClient, org_id: str, spent: int) -> Spend:
    """The org's spend once it reads `spent` with nothing reserved; fails at once on more."""

    def probe() -> Outcome[Spend]:
        now = budgets.spend.get(org_id)
        if (now.spent_micro_usd, now.reserved_micro_usd) == (spent, 0):
            return Outcome.done(now)
        if now.spent_micro_usd > spent:
            return Outcome.failed(f"spent {now.spent_micro_usd}, more than {spent}")
        return Outcome.pending(f"spent {now.spent_micro_usd}, reserved {now.reserved_micro_usd}")

    result: Spend = eventually(probe, description=f"org {org_id} settles at {spent} micro-USD")
    return result


def say(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@dataclass
class Key:
    id: str
    secret: str
    gateway: GatewayClient  # a gateway client authenticated with this key


@pytest.fixture
def modelsim(gw: Harness) -> ModelsimClient:
    client = ModelsimClient(**gw.client_kwargs("modelsim"))
    gw.cleanup.release("close the modelsim client", client.close)
    return client


@pytest.fixture
def budgets_admin(gw: Harness, admin: Actor) -> BudgetsClient:
    """Budgets as the platform admin (owner of the test's org) sees it."""
    token = admin.client.token
    client = BudgetsClient(**gw.client_kwargs("budgets", token=token))
    gw.cleanup.release("close the budgets client", client.close)
    return client


@pytest.fixture
def gateway_admin(gw: Harness, admin: Actor) -> GatewayClient:
    """The gateway's route API as the platform admin sees it."""
    client = GatewayClient(**gw.client_kwargs("gateway", token=admin.client.token))
    gw.cleanup.release("close the gateway admin client", client.close)
    return client


RouteMaker = Callable[..., str]


@pytest.fixture
def make_route(gw: Harness, org: Org, gateway_admin: GatewayClient) -> RouteMaker:
    """`make_route(*upstream_models)`: an org route alias over modelsim backends, in order."""

    def _make(
        *models: str,
        timeout_seconds: float = 5.0,
        label: str = "alias",
        max_output_tokens: int | None = None,
    ) -> str:
        alias = gw.names.name(label)
        backends = [
            {"url": gw.url("modelsim"), "model": m, "timeout_seconds": timeout_seconds}
            for m in (models or ("sim-echo",))
        ]
        with gw.given(f"a route {alias} over {', '.join(models or ('sim-echo',))}"):
            gateway_admin.routes.put(
                alias,
                org_id=org.id,
                backends=backends,
                input_micro_usd_per_mtok=INPUT_PRICE,
                output_micro_usd_per_mtok=OUTPUT_PRICE,
                max_output_tokens=max_output_tokens,
            )
        return alias

    return _make


KeyMaker = Callable[..., Key]


@pytest.fixture
def make_key(gw: Harness, org: Org, admin: Actor) -> KeyMaker:
    """`make_key(label, **options)`: an API key of the test's org and a gateway client using it."""

    def _make(label: str = "key", **options: Any) -> Key:
        created = admin.client.keys.create(org.id, name=gw.names.name(label), **options)
        client = GatewayClient(**gw.client_kwargs("gateway", token=created.secret))
        gw.cleanup.release(f"close the gateway client of {created.id}", client.close)
        return Key(created.id, created.secret, client)

    return _make


@pytest.fixture
def async_gateway(gw: Harness) -> Callable[[str], AsyncGatewayClient]:
    def _make(secret: str) -> AsyncGatewayClient:
        return AsyncGatewayClient(**gw.async_client_kwargs("gateway", token=secret))

    return _make
