"""The modelsim client: every resource method on both `Client` and `AsyncClient` (respx), and
the server-sent-events parser."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

import gatewright.modelsim as modelsim
from gatewright.core import RetryPolicy, errors
from gatewright.core.testing import Runner, modules_loaded_by, public_methods, runner
from gatewright.modelsim import (
    AsyncClient,
    ChatCompletion,
    ChatCompletionChunk,
    Client,
    content_text,
    count_bytes,
    count_prompt_bytes,
    count_prompt_tokens,
    count_tokens,
)

BASE = "http://modelsim.test"
NO_RETRY = RetryPolicy(max_retries=0)
MESSAGES = [{"role": "user", "content": "hello there"}]

COMPLETION = {
    "id": "chatcmpl-000000000000000000000001",
    "object": "chat.completion",
    "created": 1700000001,
    "model": "sim-echo",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hello there"},
            "finish_reason": "length",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10},
    "system_fingerprint": "added-by-a-newer-provider",
}
OBSERVATION = {
    "seq": 1,
    "request_id": "req-1",
    "method": "POST",
    "path": "/v1/chat/completions",
    "model": "sim-echo",
    "stream": False,
    "max_tokens": 2,
    "message_count": 1,
    "headers": {"authorization": "***"},
    "received_at": "2026-01-02T03:04:05.000001Z",
    "status": 200,
    "future_field": 1,
}


def chunk(**choice: Any) -> dict[str, Any]:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return {**head, "choices": [{"index": 0, "finish_reason": None, **choice}]}


def sse(*events: Any) -> bytes:
    return b"".join(
        b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n"
        for e in events
    )


STREAM = sse(
    chunk(delta={"role": "assistant"}),
    chunk(delta={"content": "hello "}),
    chunk(delta={"content": "there"}),
    chunk(delta={}, finish_reason="length"),
    {**chunk(), "choices": [], "usage": COMPLETION["usage"]},
    b"[DONE]",
)

AnyClient = Client | AsyncClient


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Each call runs through the sync and the async client; a stream is read into a list."""
    return runner(request.param, Client, AsyncClient, BASE, retry=NO_RETRY)


# -- chat completions ------------------------------------------------------------------------
@respx.mock
async def test_create_sends_the_openai_body_and_parses_the_completion(run: Runner) -> None:
    route = respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION, headers={"X-Request-ID": "req-7"})
    )
    done = await run(
        lambda c: c.chat.completions.create(
            model="sim-echo", messages=MESSAGES, max_tokens=2, request_id="req-7", temperature=0
        )
    )
    assert isinstance(done, ChatCompletion)
    assert done.content == "hello there"
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None
    assert done.usage.total_tokens == 10
    assert done.request_id == "req-7"
    sent = route.calls.last.request
    assert json.loads(sent.content) == {
        "model": "sim-echo",
        "messages": MESSAGES,
        "max_tokens": 2,
        "temperature": 0,
    }
    assert sent.headers["X-Request-ID"] == "req-7"
    assert "Authorization" not in sent.headers  # no token, no header


@respx.mock
async def test_create_leaves_out_max_tokens_when_not_given(run: Runner) -> None:
    route = respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION)
    )
    await run(lambda c: c.chat.completions.create(model="sim-echo", messages=MESSAGES))
    assert json.loads(route.calls.last.request.content) == {
        "model": "sim-echo",
        "messages": MESSAGES,
    }


@respx.mock
async def test_stream_parses_server_sent_events(run: Runner) -> None:
    route = respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(
            200, content=STREAM, headers={"Content-Type": "text/event-stream", "X-Request-ID": "r"}
        )
    )
    chunks = await run(
        lambda c: c.chat.completions.stream(model="sim-echo", messages=MESSAGES, max_tokens=2)
    )
    assert all(isinstance(ch, ChatCompletionChunk) for ch in chunks)
    assert len(chunks) == 5
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == (
        "hello there"
    )
    assert chunks[3].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 8
    assert chunks[0].request_id == "r"
    sent = route.calls.last.request
    assert sent.headers["Accept"] == "text/event-stream"
    assert json.loads(sent.content) == {
        "model": "sim-echo",
        "messages": MESSAGES,
        "max_tokens": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@respx.mock
async def test_stream_keeps_the_callers_stream_options(run: Runner) -> None:
    route = respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=sse(b"[DONE]"))
    )
    chunks = await run(
        lambda c: c.chat.completions.stream(
            model="m", messages=MESSAGES, stream_options={"include_usage": False}
        )
    )
    assert chunks == []
    body = json.loads(route.calls.last.request.content)
    assert body["stream_options"] == {"include_usage": False}
    assert body["stream"] is True


SSE_CASES = [
    ("crlf line ends", STREAM.replace(b"\n", b"\r\n"), 5),
    ("comments and other fields", b": keep-alive\n\nevent: x\nid: 1\n" + STREAM, 5),
    ("no space after data colon", STREAM.replace(b"data: ", b"data:"), 5),
    ("stops at DONE", STREAM + sse(chunk(delta={"content": "after"})), 5),
    ("no DONE and no final blank line", sse(chunk(delta={"content": "x"}))[:-2], 1),
    ("data split over two lines", b'data: {"id": "c", "model": "m",\ndata: "choices": []}\n\n', 1),
]


@pytest.mark.parametrize(
    ("raw", "count"), [c[1:] for c in SSE_CASES], ids=[c[0] for c in SSE_CASES]
)
@respx.mock
async def test_sse_parsing(run: Runner, raw: bytes, count: int) -> None:
    respx.post(f"{BASE}/v1/chat/completions").mock(return_value=httpx.Response(200, content=raw))
    chunks = await run(lambda c: c.chat.completions.stream(model="m", messages=MESSAGES))
    assert len(chunks) == count


@respx.mock
async def test_a_stream_event_that_is_not_json_raises_value_error(run: Runner) -> None:
    respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=b"data: {not json\n\ndata: [DONE]\n\n")
    )
    with pytest.raises(ValueError, match="JSON"):
        await run(lambda c: c.chat.completions.stream(model="sim-bad-json", messages=MESSAGES))


@respx.mock
async def test_a_body_that_is_not_json_raises_value_error(run: Runner) -> None:
    respx.post(f"{BASE}/v1/chat/completions").mock(
        return_value=httpx.Response(200, content=b'{"id": "x", "choices": [{')
    )
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError, whatever its message
        await run(lambda c: c.chat.completions.create(model="sim-bad-json", messages=MESSAGES))


def envelope(status: int, code: str) -> httpx.Response:
    body = {
        "error": {
            "type": "api_error",
            "code": code,
            "message": f"simulated {code}",
            "request_id": "req_abc",
            "details": {"model": "m"},
        }
    }
    return httpx.Response(status, json=body)


ERRORS = [
    (503, "backend_unavailable", errors.ServiceUnavailable),
    (500, "backend_error", errors.InternalServerError),
    (404, "model_not_found", errors.NotFound),
    (400, "invalid_model", errors.BadRequest),
    (422, "validation_failed", errors.ValidationFailed),
]


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(("status", "code", "cls"), ERRORS, ids=[e[1] for e in ERRORS])
@respx.mock
async def test_errors_map_to_core_exceptions(
    run: Runner, status: int, code: str, cls: type[errors.APIStatusError], streamed: bool
) -> None:
    respx.post(f"{BASE}/v1/chat/completions").mock(return_value=envelope(status, code))
    completions = "stream" if streamed else "create"
    with pytest.raises(cls) as info:
        await run(lambda c: getattr(c.chat.completions, completions)(model="m", messages=MESSAGES))
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.request_id == "req_abc"
    assert info.value.details == {"model": "m"}


@respx.mock
async def test_a_connection_error_while_streaming_is_a_core_error(run: Runner) -> None:
    respx.post(f"{BASE}/v1/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.APIConnectionError):
        await run(lambda c: c.chat.completions.stream(model="m", messages=MESSAGES))


# -- models and observations -----------------------------------------------------------------
@respx.mock
async def test_models_list(run: Runner) -> None:
    respx.get(f"{BASE}/v1/models").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "sim-echo", "object": "model", "owned_by": "o", "created": 0}],
            },
        )
    )
    models = await run(lambda c: c.models.list())
    assert [m.id for m in models.data] == ["sim-echo"]


@respx.mock
async def test_observations_list_sends_only_the_given_filters(run: Runner) -> None:
    route = respx.get(f"{BASE}/v1/observations").mock(
        return_value=httpx.Response(200, json={"data": [OBSERVATION]})
    )
    seen = await run(lambda c: c.observations.list(request_id="req-1", limit=5))
    assert route.calls.last.request.url.params == httpx.QueryParams(request_id="req-1", limit=5)
    [obs] = seen.data
    assert obs.request_id == "req-1"
    assert obs.headers == {"authorization": "***"}
    assert obs.received_at.tzinfo is not None
    await run(lambda c: c.observations.list(model="sim-echo"))
    assert route.calls.last.request.url.params == httpx.QueryParams(model="sim-echo")


@respx.mock
async def test_observations_clear(run: Runner) -> None:
    route = respx.delete(f"{BASE}/v1/observations").mock(return_value=httpx.Response(204))
    assert await run(lambda c: c.observations.clear()) is None
    assert route.called


# -- tokenizer -------------------------------------------------------------------------------
def test_tokenizer_formula() -> None:
    assert count_tokens("") == 0
    assert count_tokens("  a\tb\nc  ") == 3
    assert content_text(None) == ""
    assert (
        content_text(
            [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]
        )
        == "a b"
    )
    assert count_prompt_tokens([]) == 2
    assert count_prompt_tokens(MESSAGES) == (2 + 4) + 2
    two = [{"role": "system", "content": "be brief"}, {"role": "user", "content": None}]
    assert count_prompt_tokens(two) == (2 + 4) + (0 + 4) + 2


def test_byte_tokenizer_formula() -> None:
    assert count_bytes("") == 0
    assert count_bytes("héllo") == 6
    assert count_bytes("日本") == 6
    assert count_prompt_bytes([]) == 2
    two = [{"role": "system", "content": "be brief"}, {"role": "user", "content": None}]
    assert count_prompt_bytes(two) == (6 + 8 + 4) + (4 + 0 + 4) + 2
    parts = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "é"}]}
    ]
    assert count_prompt_bytes(parts) == (4 + len("a é".encode()) + 4) + 2


# -- the public surface ----------------------------------------------------------------------
def test_public_api_is_pinned() -> None:
    assert sorted(modelsim.__all__) == sorted(
        [
            "DEFAULT_MAX_TOKENS",
            "MAX_TOKENS_LIMIT",
            "PROVIDER",
            "STATE_MODEL_EXISTS",
            "STATE_MODEL_FAILS_500",
            "STATE_MODEL_FAILS_503",
            "AsyncChat",
            "AsyncClient",
            "AsyncCompletions",
            "AsyncModels",
            "AsyncObservations",
            "Chat",
            "ChatCompletion",
            "ChatCompletionChunk",
            "Client",
            "Completions",
            "Model",
            "ModelList",
            "Models",
            "Observation",
            "ObservationList",
            "Observations",
            "Usage",
            "content_text",
            "count_bytes",
            "count_prompt_bytes",
            "count_prompt_tokens",
            "count_tokens",
        ]
    )
    for name in modelsim.__all__:
        assert hasattr(modelsim, name), name


def test_sync_and_async_resources_have_the_same_methods() -> None:
    sync, async_ = Client(BASE), AsyncClient(BASE)
    pairs = [
        (sync.chat.completions, async_.chat.completions),
        (sync.models, async_.models),
        (sync.observations, async_.observations),
    ]
    for s, a in pairs:
        s_methods = public_methods(s)
        a_methods = public_methods(a)
        assert s_methods == a_methods, type(s).__name__
    sync.close()


def test_client_never_imports_the_service() -> None:
    assert (
        modules_loaded_by(
            "gatewright.modelsim",
            ("fastapi", "starlette", "gatewright.servicekit", "gatewright.modelsim.service"),
        )
        == []
    )
