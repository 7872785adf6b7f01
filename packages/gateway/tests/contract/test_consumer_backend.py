"""Consumer contract: what the gateway needs from any OpenAI-compatible backend (modelsim here).

The gateway's own backend code (`gatewright.gateway.service.upstream`) drives the Pact mock
server: a plain completion whose body carries integer `usage`, a streamed completion (an SSE text
body, matched loosely: `data:` events, one of them carrying usage, then `data: [DONE]`), and a 503
from a failing model, which the gateway classifies as `status_503` and falls back on. Requests are
exactly what the gateway sends (upstream model name substituted, `max_tokens` always set,
`stream_options.include_usage` forced on streams) with `X-Request-ID` and `traceparent` forwarded.

Participant and state names are the provider's own (`gatewright.modelsim.PROVIDER`,
`STATE_MODEL_*`, mirrored in `gatewright.gateway.contract` and checked equal by a unit test). The
module fixture (`testkit.pactconsumer`) registers every interaction, serves them once, fails at
teardown if any was never requested, then writes `<pact dir>/gateway-modelsim.json`
(`GATEWRIGHT_PACT_DIR`, default `<repo>/contracts`) exactly once. Examples are fixed values, so the
file is deterministic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pact import Pact, match

from gatewright.gateway import PROVIDER as GATEWAY
from gatewright.gateway.contract import (
    BACKEND_PROVIDER,
    STATE_BACKEND_MODEL_EXISTS,
    STATE_BACKEND_MODEL_FAILS_503,
)
from gatewright.gateway.service.upstream import AttemptFailed, Target, complete, open_stream
from gatewright.testkit.pactconsumer import Interactions

JSON = "application/json"
SSE = "text/event-stream"

MODEL = "sim-echo"
FAILING_MODEL = "sim-fail-503"
MESSAGES = [{"role": "user", "content": "hello from the gateway"}]
MAX_TOKENS = 3
PROMPT_TOKENS = 10  # modelsim: 4 words + 4 per message + 2 per request
REQUEST_ID = "req_pact_gateway_0001"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEADERS = {"X-Request-ID": REQUEST_ID, "traceparent": TRACEPARENT}

interaction = Interactions(GATEWAY, BACKEND_PROVIDER)


def forwarded(pact_request: Any) -> Any:
    """The correlation headers the gateway forwards on every backend call."""
    return pact_request.with_header(
        "X-Request-ID", match.regex(REQUEST_ID, regex=r"^[A-Za-z0-9._:\-]{1,128}$")
    ).with_header(
        "traceparent",
        match.regex(TRACEPARENT, regex=r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"),
    )


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with interaction.serve() as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- a plain completion ----------------------------------------------------------------------
@interaction
def _plain(pact: Pact) -> None:
    request = (
        pact.upon_receiving("a chat completion from the gateway")
        .given(STATE_BACKEND_MODEL_EXISTS, model=MODEL)
        .with_request("POST", "/v1/chat/completions")
    )
    (
        forwarded(request)
        .with_body({"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}, JSON)
        .will_respond_with(200)
        .with_body(
            {
                "id": match.str("chatcmpl-pact"),
                "object": "chat.completion",
                "created": match.int(1767225600),
                "model": match.str(MODEL),
                "choices": match.each_like(
                    {
                        "index": match.int(0),
                        "message": {"role": "assistant", "content": match.str("hello from the")},
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


async def test_plain_completion(mock_url: str, http: httpx.AsyncClient) -> None:
    payload = {"model": "alias-the-backend-never-sees", "messages": MESSAGES}
    payload["max_tokens"] = MAX_TOKENS
    body, usage = await complete(http, Target(mock_url, MODEL, 5.0), payload, HEADERS)
    assert usage.prompt_tokens == PROMPT_TOKENS
    assert usage.completion_tokens == MAX_TOKENS
    assert body["choices"][0]["message"]["content"]


# -- a streamed completion -------------------------------------------------------------------
def _event(data: str) -> str:
    return f"data: {data}\n\n"


def _chunk(choices: str, usage: str = "null") -> str:
    return _event(
        '{"id":"chatcmpl-pact","object":"chat.completion.chunk","created":1767225600,'
        f'"model":"{MODEL}","choices":{choices},"usage":{usage}}}'
    )


STREAM_EXAMPLE = (
    _chunk('[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]')
    + _chunk('[{"index":0,"delta":{"content":" from"},"finish_reason":null}]')
    + _chunk('[{"index":0,"delta":{"content":" the"},"finish_reason":"length"}]')
    + _chunk(
        "[]",
        f'{{"prompt_tokens":{PROMPT_TOKENS},"completion_tokens":{MAX_TOKENS},'
        f'"total_tokens":{PROMPT_TOKENS + MAX_TOKENS}}}',
    )
    + _event("[DONE]")
)
# Loose on purpose: `data:` JSON events, one of them with integer usage, ending in [DONE].
_USAGE = (
    r'"usage":\s*\{(?:[^}]*"prompt_tokens":\s*\d+[^}]*"completion_tokens":\s*\d+'
    r'|[^}]*"completion_tokens":\s*\d+[^}]*"prompt_tokens":\s*\d+)[^}]*\}'
)
# `[\s\S]` rather than an inline `(?s)`: the verifier's regex engine (Oniguruma) rejects that flag.
STREAM_REGEX = r"^data: ?\{[\s\S]*" + _USAGE + r"[\s\S]*data: ?\[DONE\]\s*$"


@interaction
def _streamed(pact: Pact) -> None:
    request = (
        pact.upon_receiving("a streamed chat completion from the gateway")
        .given(STATE_BACKEND_MODEL_EXISTS, model=MODEL)
        .with_request("POST", "/v1/chat/completions")
    )
    (
        forwarded(request)
        .with_body(
            {
                "model": MODEL,
                "messages": MESSAGES,
                "max_tokens": MAX_TOKENS,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            JSON,
        )
        .will_respond_with(200)
        .with_header("Content-Type", match.regex(SSE, regex=r"^text/event-stream(\s*;.*)?$"))
        .with_body(STREAM_EXAMPLE, SSE)
        .with_matching_rules(
            {
                "body": {
                    "$": {"combine": "AND", "matchers": [{"match": "regex", "regex": STREAM_REGEX}]}
                }
            }
        )
    )


async def test_streamed_completion(mock_url: str, http: httpx.AsyncClient) -> None:
    payload = {"model": "alias", "messages": MESSAGES, "max_tokens": MAX_TOKENS, "stream": True}
    stream = await open_stream(http, Target(mock_url, MODEL, 5.0), payload, HEADERS)
    try:
        chunks = [chunk async for chunk in stream.chunks()]
    finally:
        await stream.aclose()
    assert stream.done
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert usage == [
        {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": MAX_TOKENS,
            "total_tokens": PROMPT_TOKENS + MAX_TOKENS,
        }
    ]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert len(text.split()) == MAX_TOKENS


# -- a failing model -------------------------------------------------------------------------
@interaction
def _unavailable(pact: Pact) -> None:
    request = (
        pact.upon_receiving("a chat completion for a model that fails with 503")
        .given(STATE_BACKEND_MODEL_FAILS_503, model=FAILING_MODEL)
        .with_request("POST", "/v1/chat/completions")
    )
    (
        forwarded(request)
        .with_body({"model": FAILING_MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}, JSON)
        .will_respond_with(503)
    )


async def test_failing_model_is_a_fallback_outcome(mock_url: str, http: httpx.AsyncClient) -> None:
    payload = {"model": "alias", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    with pytest.raises(AttemptFailed) as info:
        await complete(http, Target(mock_url, FAILING_MODEL, 5.0), payload, HEADERS)
    assert info.value.outcome == "status_503"
