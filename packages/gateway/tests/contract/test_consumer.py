"""Consumer contract: what `gatewright.gateway.Client` needs from the gateway service.

Every interaction is registered by a small builder right above the test that exercises it with the
real sync `Client` (retries off, so a 429 is one request). Pact's mock server cannot take new
interactions once it has served, so the module fixture (`testkit.pactconsumer`) builds all of them,
serves them once for the module, fails at teardown if any was never requested (or mismatched), then
writes `<pact dir>/gateway-client-gateway.json` (`GATEWRIGHT_PACT_DIR`, default `<repo>/contracts`)
exactly once. Examples are fixed values (`pact_examples`), so the file is deterministic.

Covered: a plain chat completion (the `X-Gatewright-*` headers, integer usage), the 402
`budget_exceeded`, 404 `model_not_found` and 429 `rate_limited` (with `Retry-After`) envelopes,
`models.list()`, and `routes.put` / `routes.get` of an org route with the service token (with its
`max_output_tokens`).
Streaming is deliberately not in this pact: the SSE shape is covered by the gateway->modelsim
pact (`test_consumer_backend.py`) and by the service unit tests.

Requests carry `Authorization: Bearer <example secret>` under a regex matcher; the provider test
makes exactly those example secrets valid through its provider states. `STATE_API_KEY` takes
one optional parameter beyond those `gatewright.gateway.contract` lists: `requests_this_minute`,
how many requests the key has already made in the current rate-limit window (default 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from gatewright.core import BudgetExceeded, NotFound, RateLimited, RetryPolicy
from gatewright.gateway import (
    CONSUMER,
    PROVIDER,
    STATE_API_KEY,
    STATE_BUDGET_EXHAUSTED,
    STATE_NO_ROUTE,
    STATE_ORG_EXISTS,
    STATE_ROUTE_EXISTS,
    STATE_SERVICE_TOKEN,
    Backend,
    Client,
)
from gatewright.testkit.pactconsumer import Interactions, bearer, error_body, timestamp

from pact_examples import (  # isort: skip
    ALIAS,
    BACKEND_MODEL,
    BACKEND_URL,
    INPUT_PRICE,
    KEY_ID,
    KEY_SECRET,
    LIMITED_KEY_ID,
    LIMITED_KEY_SECRET,
    MAX_OUTPUT_TOKENS,
    MAX_TOKENS,
    MISSING_ALIAS,
    NEW_ALIAS,
    ORG_ID,
    OUTPUT_PRICE,
    PROMPT_TOKENS,
    SERVICE_TOKEN,
)

JSON = "application/json"

interaction = Interactions(CONSUMER, PROVIDER)


def messages(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def completion_request(text: str) -> dict[str, Any]:
    """Exactly what `chat.completions.create(model=ALIAS, messages=..., max_tokens=3)` sends."""
    return {"model": ALIAS, "messages": messages(text), "max_tokens": MAX_TOKENS}


KEY_STATE = {
    "secret": KEY_SECRET,
    "key_id": KEY_ID,
    "org_id": ORG_ID,
    "models": [ALIAS],
    "rate_limit_rpm": None,
}
ROUTE_STATE = {
    "alias": ALIAS,
    "org_id": ORG_ID,
    "backend_url": BACKEND_URL,
    "backend_model": BACKEND_MODEL,
    "input_price": INPUT_PRICE,
    "output_price": OUTPUT_PRICE,
    "max_output_tokens": MAX_OUTPUT_TOKENS,
}


def route_body(alias: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "org_id": ORG_ID,
        "backends": [
            {
                "url": BACKEND_URL,
                "model": BACKEND_MODEL,
                "timeout_seconds": match.number(30.0),
            }
        ],
        "input_micro_usd_per_mtok": INPUT_PRICE,
        "output_micro_usd_per_mtok": OUTPUT_PRICE,
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        "updated_at": timestamp(),
    }


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


def client(mock_url: str, token: str) -> Client:
    return Client(mock_url, token=token, retry=RetryPolicy(max_retries=0))


@pytest.fixture
def keyed(mock_url: str) -> Iterator[Client]:
    with client(mock_url, KEY_SECRET) as c:
        yield c


@pytest.fixture
def service(mock_url: str) -> Iterator[Client]:
    with client(mock_url, SERVICE_TOKEN) as c:
        yield c


# -- completions -----------------------------------------------------------------------------
@interaction
def _completion(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat completion with an API key")
        .given(STATE_API_KEY, **KEY_STATE)
        .given(STATE_ROUTE_EXISTS, **ROUTE_STATE)
        .with_request("POST", "/v1/chat/completions")
        .with_header("Authorization", bearer(KEY_SECRET))
        .with_body(completion_request("hello from the client"), JSON)
        .will_respond_with(200)
        .with_header("X-Gatewright-Backend", match.regex(BACKEND_URL, regex=r"^https?://\S+$"))
        .with_header("X-Gatewright-Attempts", match.regex("1", regex=r"^[1-9][0-9]*$"))
        .with_body(
            {
                "id": match.str("chatcmpl-0123456789abcdef"),
                "object": "chat.completion",
                "created": match.int(1767225600),
                "model": ALIAS,
                "choices": match.each_like(
                    {
                        "index": match.int(0),
                        "message": {"role": "assistant", "content": match.str("w0 w1 w2")},
                        "finish_reason": match.str("length"),
                    },
                    min=1,
                ),
                "usage": {
                    "prompt_tokens": match.int(PROMPT_TOKENS),
                    "completion_tokens": match.int(MAX_TOKENS),
                    "total_tokens": match.int(PROMPT_TOKENS + MAX_TOKENS),
                },
            },
            JSON,
        )
    )


def test_completion(keyed: Client) -> None:
    completion = keyed.chat.completions.create(
        model=ALIAS, messages=messages("hello from the client"), max_tokens=MAX_TOKENS
    )
    assert completion.model == ALIAS
    assert completion.content
    assert completion.served_by == BACKEND_URL
    assert completion.attempts == 1
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == PROMPT_TOKENS
    assert completion.usage.completion_tokens == MAX_TOKENS


@interaction
def _completion_over_budget(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat completion when the org's budget is exhausted")
        .given(STATE_API_KEY, **KEY_STATE)
        .given(STATE_ROUTE_EXISTS, **ROUTE_STATE)
        .given(STATE_BUDGET_EXHAUSTED, org_id=ORG_ID)
        .with_request("POST", "/v1/chat/completions")
        .with_header("Authorization", bearer(KEY_SECRET))
        .with_body(completion_request("one more please"), JSON)
        .will_respond_with(402)
        .with_body(
            error_body(
                "budget_exceeded_error",
                "budget_exceeded",
                {
                    "limit_micro_usd": match.int(5_000_000),
                    "spent_micro_usd": match.int(5_000_000),
                    "reserved_micro_usd": match.int(0),
                    "requested_micro_usd": match.int(15),
                },
            ),
            JSON,
        )
    )


def test_budget_exceeded(keyed: Client) -> None:
    with pytest.raises(BudgetExceeded) as info:
        keyed.chat.completions.create(
            model=ALIAS, messages=messages("one more please"), max_tokens=MAX_TOKENS
        )
    assert info.value.status_code == 402
    assert info.value.code == "budget_exceeded"
    assert info.value.request_id
    assert info.value.limit_micro_usd == 5_000_000
    assert info.value.spent_micro_usd == 5_000_000
    assert info.value.reserved_micro_usd == 0
    assert info.value.requested_micro_usd == 15


@interaction
def _completion_unknown_model(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat completion for a model with no route")
        .given(STATE_API_KEY, **{**KEY_STATE, "models": None})
        .given(STATE_NO_ROUTE, alias=MISSING_ALIAS, org_id=ORG_ID)
        .with_request("POST", "/v1/chat/completions")
        .with_header("Authorization", bearer(KEY_SECRET))
        .with_body(
            {**completion_request("is anyone there"), "model": MISSING_ALIAS},
            JSON,
        )
        .will_respond_with(404)
        .with_body(error_body("not_found_error", "model_not_found", {"model": MISSING_ALIAS}), JSON)
    )


def test_model_not_found(keyed: Client) -> None:
    with pytest.raises(NotFound) as info:
        keyed.chat.completions.create(
            model=MISSING_ALIAS, messages=messages("is anyone there"), max_tokens=MAX_TOKENS
        )
    assert info.value.code == "model_not_found"
    assert info.value.details["model"] == MISSING_ALIAS


@interaction
def _completion_rate_limited(pact: Pact) -> None:
    (
        pact.upon_receiving("a chat completion from a key at its rate limit")
        .given(
            STATE_API_KEY,
            secret=LIMITED_KEY_SECRET,
            key_id=LIMITED_KEY_ID,
            org_id=ORG_ID,
            models=None,
            rate_limit_rpm=1,
            requests_this_minute=1,
        )
        .given(STATE_ROUTE_EXISTS, **ROUTE_STATE)
        .with_request("POST", "/v1/chat/completions")
        .with_header("Authorization", bearer(LIMITED_KEY_SECRET))
        .with_body(completion_request("too fast"), JSON)
        .will_respond_with(429)
        .with_header("Retry-After", match.regex("60", regex=r"^[1-9][0-9]*$"))
        .with_body(
            error_body(
                "rate_limit_error",
                "rate_limited",
                {"rate_limit_rpm": 1, "retry_after_seconds": match.int(60)},
            ),
            JSON,
        )
    )


def test_rate_limited(mock_url: str) -> None:
    with client(mock_url, LIMITED_KEY_SECRET) as limited, pytest.raises(RateLimited) as info:
        limited.chat.completions.create(
            model=ALIAS, messages=messages("too fast"), max_tokens=MAX_TOKENS
        )
    assert info.value.code == "rate_limited"
    assert info.value.retry_after == 60
    assert info.value.details["rate_limit_rpm"] == 1


# -- models ----------------------------------------------------------------------------------
@interaction
def _models(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the models an API key may use")
        .given(STATE_API_KEY, **KEY_STATE)
        .given(STATE_ROUTE_EXISTS, **ROUTE_STATE)
        .with_request("GET", "/v1/models")
        .with_header("Authorization", bearer(KEY_SECRET))
        .will_respond_with(200)
        .with_body(
            {
                "object": "list",
                "data": match.each_like(
                    {
                        "id": ALIAS,
                        "object": "model",
                        "created": match.int(1767225600),
                        "owned_by": ORG_ID,
                    },
                    min=1,
                ),
            },
            JSON,
        )
    )


def test_models_list(keyed: Client) -> None:
    models = keyed.models.list()
    assert [m.id for m in models.data] == [ALIAS]
    assert models.data[0].owned_by == ORG_ID


# -- routes ----------------------------------------------------------------------------------
@interaction
def _put_route(pact: Pact) -> None:
    (
        pact.upon_receiving("a service putting an org route")
        .given(STATE_ORG_EXISTS, org_id=ORG_ID)
        .given(STATE_NO_ROUTE, alias=NEW_ALIAS, org_id=ORG_ID)
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("PUT", f"/v1/orgs/{ORG_ID}/routes/{NEW_ALIAS}")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(
            {
                "backends": [{"url": BACKEND_URL, "model": BACKEND_MODEL, "timeout_seconds": 30.0}],
                "input_micro_usd_per_mtok": INPUT_PRICE,
                "output_micro_usd_per_mtok": OUTPUT_PRICE,
                "max_output_tokens": MAX_OUTPUT_TOKENS,
            },
            JSON,
        )
        .will_respond_with(200)
        .with_body(route_body(NEW_ALIAS), JSON)
    )


def test_put_route(service: Client) -> None:
    route = service.routes.put(
        NEW_ALIAS,
        org_id=ORG_ID,
        backends=[Backend(url=BACKEND_URL, model=BACKEND_MODEL)],
        input_micro_usd_per_mtok=INPUT_PRICE,
        output_micro_usd_per_mtok=OUTPUT_PRICE,
        max_output_tokens=MAX_OUTPUT_TOKENS,
    )
    assert route.alias == NEW_ALIAS
    assert route.org_id == ORG_ID
    assert [(b.url, b.model) for b in route.backends] == [(BACKEND_URL, BACKEND_MODEL)]
    assert route.max_output_tokens == MAX_OUTPUT_TOKENS


UNKNOWN_ORG_ID = "org_nobody_made"


@interaction
def _put_route_unknown_org(pact: Pact) -> None:
    (
        pact.upon_receiving("a service putting a route for an org identity does not know")
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("PUT", f"/v1/orgs/{UNKNOWN_ORG_ID}/routes/{NEW_ALIAS}")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .with_body(
            {
                "backends": [{"url": BACKEND_URL, "model": BACKEND_MODEL, "timeout_seconds": 30.0}],
                "input_micro_usd_per_mtok": INPUT_PRICE,
                "output_micro_usd_per_mtok": OUTPUT_PRICE,
            },
            JSON,
        )
        .will_respond_with(404)
        .with_body(error_body("not_found_error", "org_not_found", {"org_id": UNKNOWN_ORG_ID}), JSON)
    )


def test_put_route_unknown_org(service: Client) -> None:
    with pytest.raises(NotFound) as info:
        service.routes.put(
            NEW_ALIAS,
            org_id=UNKNOWN_ORG_ID,
            backends=[Backend(url=BACKEND_URL, model=BACKEND_MODEL)],
            input_micro_usd_per_mtok=INPUT_PRICE,
            output_micro_usd_per_mtok=OUTPUT_PRICE,
        )
    assert info.value.code == "org_not_found"
    assert info.value.details == {"org_id": UNKNOWN_ORG_ID}


@interaction
def _get_route(pact: Pact) -> None:
    (
        pact.upon_receiving("a service reading an org route")
        .given(STATE_ROUTE_EXISTS, **ROUTE_STATE)
        .given(STATE_SERVICE_TOKEN, service_token=SERVICE_TOKEN)
        .with_request("GET", f"/v1/orgs/{ORG_ID}/routes/{ALIAS}")
        .with_header("Authorization", bearer(SERVICE_TOKEN))
        .will_respond_with(200)
        .with_body(route_body(ALIAS), JSON)
    )


def test_get_route(service: Client) -> None:
    route = service.routes.get(ALIAS, org_id=ORG_ID)
    assert route.alias == ALIAS
    assert route.input_micro_usd_per_mtok == INPUT_PRICE
    assert route.output_micro_usd_per_mtok == OUTPUT_PRICE
    assert route.max_output_tokens == MAX_OUTPUT_TOKENS
