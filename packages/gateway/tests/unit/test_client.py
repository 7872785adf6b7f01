"""The gateway client with respx, each case on both clients; plus pinned public names, the
reservation's token bounds against modelsim's tokenizers, and the backend pact's state names
matching modelsim's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

import gatewright.gateway as gateway
import gatewright.modelsim as modelsim
from gatewright.core import BudgetExceeded, NotFound, RetryPolicy
from gatewright.gateway import AsyncClient, Client
from gatewright.gateway.contract import (
    BACKEND_PROVIDER,
    STATE_BACKEND_MODEL_EXISTS,
    STATE_BACKEND_MODEL_FAILS_503,
)
from gatewright.gateway.service.pricing import cost, streamed_token_bound

BASE = "http://gateway.test"
COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "chat",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "a b"}}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}
HEADERS = {
    "X-Gatewright-Backend": "http://sim",
    "X-Gatewright-Backend-Model": "sim-echo",
    "X-Gatewright-Attempts": "2",
    "X-Request-ID": "req_1",
}
ROUTE = {
    "alias": "chat",
    "org_id": "org_1",
    "backends": [{"url": "http://sim", "model": "sim-echo", "timeout_seconds": 30}],
    "input_micro_usd_per_mtok": 1,
    "output_micro_usd_per_mtok": 2,
    "updated_at": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield router


async def call(kind: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Run `client.<method>` on a sync or async client (dotted path)."""
    no_retry = RetryPolicy(max_retries=0)
    if kind == "sync":
        with Client(BASE, token="gwk_x", retry=no_retry) as c:
            target: Any = c
            for part in method.split("."):
                target = getattr(target, part)
            return target(*args, **kwargs)
    async with AsyncClient(BASE, token="gwk_x", retry=no_retry) as ac:
        target = ac
        for part in method.split("."):
            target = getattr(target, part)
        return await target(*args, **kwargs)


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


@KINDS
async def test_create_exposes_served_by_attempts_and_request_id(
    mock: respx.MockRouter, kind: str
) -> None:
    route = mock.post("/v1/chat/completions").respond(200, json=COMPLETION, headers=HEADERS)
    result = await call(
        kind, "chat.completions.create", model="chat", messages=[], max_tokens=2, user="u"
    )
    assert result.served_by == "http://sim"
    assert result.served_model == "sim-echo"
    assert result.attempts == 2
    assert result.request_id == "req_1"
    assert result.content == "a b"
    sent = json.loads(route.calls[0].request.content)
    assert sent == {"model": "chat", "messages": [], "max_tokens": 2, "user": "u"}
    assert route.calls[0].request.headers["Authorization"] == "Bearer gwk_x"


@KINDS
async def test_budget_exceeded_carries_figures(mock: respx.MockRouter, kind: str) -> None:
    details = {
        "limit_micro_usd": 5,
        "spent_micro_usd": 1,
        "reserved_micro_usd": 0,
        "requested_micro_usd": 9,
    }
    mock.post("/v1/chat/completions").respond(
        402,
        json={
            "error": {
                "type": "budget_exceeded_error",
                "code": "budget_exceeded",
                "message": "over",
                "request_id": "r",
                "details": details,
            }
        },
    )
    with pytest.raises(BudgetExceeded) as info:
        await call(kind, "chat.completions.create", model="chat", messages=[])
    assert info.value.limit_micro_usd == 5
    assert info.value.requested_micro_usd == 9


SSE = (
    'data: {"id":"c","model":"chat","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
    'data: {"id":"c","model":"chat","choices":[{"index":0,"delta":{"content":" b"}}]}\n\n'
    'data: {"id":"c","model":"chat","choices":[],'
    '"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}\n\n'
    "data: [DONE]\n\n"
)


def test_stream_sync(mock: respx.MockRouter) -> None:
    route = mock.post("/v1/chat/completions").respond(
        200, text=SSE, headers={**HEADERS, "Content-Type": "text/event-stream"}
    )
    with (
        Client(BASE, token="gwk_x") as c,
        c.chat.completions.stream(model="chat", messages=[]) as stream,
    ):
        text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text == "a b"
    assert stream.usage is not None
    assert stream.usage.completion_tokens == 2
    assert stream.served_by == "http://sim"
    assert stream.attempts == 2
    sent = json.loads(route.calls[0].request.content)
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_stream_async(mock: respx.MockRouter) -> None:
    mock.post("/v1/chat/completions").respond(
        200, text=SSE, headers={**HEADERS, "Content-Type": "text/event-stream"}
    )
    async with AsyncClient(BASE, token="gwk_x") as c:
        stream = await c.chat.completions.stream(model="chat", messages=[])
        chunks = [ch async for ch in stream]
    assert len(chunks) == 3
    assert stream.usage is not None
    assert stream.usage.prompt_tokens == 9


@KINDS
async def test_stream_error_before_first_byte_raises(mock: respx.MockRouter, kind: str) -> None:
    mock.post("/v1/chat/completions").respond(
        404,
        json={
            "error": {
                "type": "not_found_error",
                "code": "model_not_found",
                "message": "no",
                "request_id": "r",
            }
        },
    )
    with pytest.raises(NotFound):
        await call(kind, "chat.completions.stream", model="nope", messages=[])


@KINDS
async def test_models_list(mock: respx.MockRouter, kind: str) -> None:
    mock.get("/v1/models").respond(200, json={"object": "list", "data": [{"id": "chat"}]})
    result = await call(kind, "models.list")
    assert [m.id for m in result.data] == ["chat"]


@KINDS
@pytest.mark.parametrize(
    ("org_id", "path"), [("org_1", "/v1/orgs/org_1/routes/chat"), (None, "/v1/routes/chat")]
)
async def test_routes(mock: respx.MockRouter, kind: str, org_id: str | None, path: str) -> None:
    put = mock.put(path).respond(200, json=ROUTE)
    mock.get(path).respond(200, json=ROUTE)
    mock.delete(path).respond(204)
    backends = [gateway.Backend(url="http://sim", model="sim-echo")]
    route = await call(
        kind,
        "routes.put",
        "chat",
        backends=backends,
        input_micro_usd_per_mtok=1,
        output_micro_usd_per_mtok=2,
        org_id=org_id,
    )
    assert route.alias == "chat"
    sent = json.loads(put.calls[0].request.content)
    assert sent["backends"][0]["timeout_seconds"] == 30.0
    assert "max_output_tokens" not in sent  # the gateway's default applies, stated once there
    assert route.max_output_tokens == gateway.DEFAULT_MAX_OUTPUT_TOKENS  # an older gateway's
    await call(
        kind,
        "routes.put",
        "chat",
        backends=backends,
        input_micro_usd_per_mtok=1,
        output_micro_usd_per_mtok=2,
        max_output_tokens=8192,
        org_id=org_id,
    )
    assert json.loads(put.calls[1].request.content)["max_output_tokens"] == 8192
    assert (await call(kind, "routes.get", "chat", org_id=org_id)).backends[0].model == "sim-echo"
    assert await call(kind, "routes.delete", "chat", org_id=org_id) is None


@KINDS
async def test_routes_list_escapes_the_org(mock: respx.MockRouter, kind: str) -> None:
    mock.get("/v1/orgs/a%2Fb/routes").respond(200, json={"data": [ROUTE]})
    result = await call(kind, "routes.list", "a/b")
    assert result.data[0].alias == "chat"


def test_public_names_are_pinned() -> None:
    expected = [
        "ATTEMPTS_HEADER",
        "BACKEND_HEADER",
        "BACKEND_MODEL_HEADER",
        "CONSUMER",
        "DEFAULT_MAX_OUTPUT_TOKENS",
        "MAX_OUTPUT_TOKENS",
        "MESSAGE_OVERHEAD_TOKENS",
        "PROMPT_OVERHEAD_TOKENS",
        "PROVIDER",
        "STATE_API_KEY",
        "STATE_BUDGET_EXHAUSTED",
        "STATE_NO_ROUTE",
        "STATE_ROUTE_EXISTS",
        "STATE_ORG_EXISTS",
        "STATE_SERVICE_TOKEN",
        "AsyncChat",
        "AsyncChatCompletionStream",
        "AsyncClient",
        "AsyncCompletions",
        "AsyncModels",
        "AsyncRoutes",
        "Backend",
        "Chat",
        "ChatCompletion",
        "ChatCompletionChunk",
        "ChatCompletionStream",
        "Client",
        "Completions",
        "Model",
        "ModelList",
        "Models",
        "Route",
        "RouteList",
        "Routes",
        "Usage",
        "completion_token_bound",
        "prompt_token_bound",
    ]
    assert sorted(gateway.__all__) == sorted(expected)
    for name in expected:
        assert hasattr(gateway, name)


MESSAGE_TABLE = [
    [{"role": "user", "content": "one two three"}],
    [{"role": "user", "content": ""}, {"role": "system", "content": None}],
    [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a b"},
                {"type": "image_url"},
                {"type": "text", "text": "  c\n d "},
            ],
        }
    ],
    [{"role": "assistant", "content": "x\ty\u00a0z"}],
]


# Text that real tokenizers split far finer than words: code, non-Latin scripts, emoji, escapes.
HARD_TEXT = [
    "",
    "def f(x):\n    return {k: v**2 for k, v in x.items()}  # 🚀",
    "東京都の天気は晴れのち曇りでしょう。",
    "Привет, как дела? Ελληνικά. עברית. العربية. हिन्दी.",
    '\u0000\t"quoted" \\ back\\slash \U0001f468\u200d\U0001f469\u200d\U0001f467',
    "a" * 5000,
]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _bodies() -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = [{"model": "m", "messages": m} for m in MESSAGE_TABLE]
    for text in HARD_TEXT:
        bodies.append({"model": "m", "messages": [{"role": "user", "content": text}]})
        bodies.append(
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": text},
                    {
                        "role": "user",
                        "name": "ünïcode",
                        "content": [{"type": "text", "text": text}],
                    },
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {
                                    "name": "lookup",
                                    "arguments": json.dumps({"q": text}),
                                },
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": "call_1", "content": text},
                ],
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "lookup",
                            "description": text,
                            "parameters": {
                                "type": "object",
                                "properties": {"q": {"type": "string"}},
                            },
                        },
                    }
                ],
            }
        )
    return bodies


@pytest.mark.parametrize("body", _bodies())
def test_the_prompt_bound_is_above_any_byte_level_count(body: dict[str, Any]) -> None:
    bound = gateway.prompt_token_bound(body)
    messages = body["messages"]
    # modelsim's counts: words (what the gateway once reserved for) and one token per byte
    assert bound >= modelsim.count_prompt_tokens(messages)
    assert bound >= modelsim.count_prompt_bytes(messages)
    # every string the request holds (roles, names, text, tool arguments, tool schemas) at one
    # token per UTF-8 byte, plus the template's tokens: what no byte-level tokenizer exceeds
    text_bytes = sum(len(s.encode("utf-8", "surrogatepass")) for s in _strings(body))
    overhead = gateway.PROMPT_OVERHEAD_TOKENS + gateway.MESSAGE_OVERHEAD_TOKENS * len(messages)
    assert bound >= text_bytes + overhead


def test_the_prompt_bound_is_the_documented_formula() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo"}]}
    as_json = '{"model": "m", "messages": [{"role": "user", "content": "héllo"}]}'
    assert gateway.prompt_token_bound(body) == 64 + 8 + len(as_json.encode())
    assert gateway.prompt_token_bound({"messages": [{"role": "user", "content": "\ud800"}]}) > 0


def test_the_completion_bound_is_max_tokens_per_choice() -> None:
    assert gateway.completion_token_bound(100) == 100
    assert gateway.completion_token_bound(100, 3) == 300


def test_a_stream_without_usage_is_bounded_by_its_bytes_and_the_reservation() -> None:
    assert streamed_token_bound(["w0", " w1"], 100) == 5
    assert streamed_token_bound(["日本"], 100) == 6
    assert streamed_token_bound(["x" * 500], 100) == 100


def test_cost_rounds_up() -> None:
    assert cost(0, 0, input_price=5, output_price=5) == 0
    assert cost(1, 0, input_price=1, output_price=0) == 1
    assert cost(1_000_000, 1_000_000, input_price=3, output_price=4) == 7


def test_backend_pact_names_are_modelsims() -> None:
    assert modelsim.PROVIDER == BACKEND_PROVIDER
    assert modelsim.STATE_MODEL_EXISTS == STATE_BACKEND_MODEL_EXISTS
    assert modelsim.STATE_MODEL_FAILS_503 == STATE_BACKEND_MODEL_FAILS_503


def test_transport_error_is_a_connection_error() -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    from gatewright.core import APIConnectionError

    no_retry = RetryPolicy(max_retries=0)
    with (
        Client(BASE, transport=httpx.MockTransport(boom), retry=no_retry) as c,
        pytest.raises(APIConnectionError),
    ):
        c.chat.completions.stream(model="m", messages=[])
