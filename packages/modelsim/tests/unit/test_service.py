"""The modelsim service in-process: determinism, tokenizer, streaming, fault models, bad input,
observations."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from modelsim_fixtures import CHAT, HELLO, chat_body, make_app, sse_payloads

from gatewright.modelsim import (
    AsyncClient,
    ChatCompletion,
    ChatCompletionChunk,
    Client,
    count_prompt_bytes,
    count_prompt_tokens,
)
from gatewright.modelsim.service import ModelsimSettings
from gatewright.modelsim.service.engine import LISTED_MODELS, WORDS, resolve


def assert_envelope(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message", "request_id", "details"}
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def stream_of(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(CHAT, json={**body, "stream": True})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    return [json.loads(p) for p in payloads[:-1]]


# -- determinism and the tokenizer -----------------------------------------------------------
@pytest.mark.happy
@pytest.mark.parametrize("model", ["sim-echo", "sim-default", "sim-anything-else"])
def test_same_request_gives_the_same_body(client: TestClient, model: str) -> None:
    body = chat_body(model, max_tokens=7)
    first = client.post(CHAT, json=body)
    second = client.post(CHAT, json=body)
    with TestClient(make_app()) as fresh:  # another process would say the same
        third = fresh.post(CHAT, json=body)
    assert first.status_code == 200, first.text
    assert first.content == second.content == third.content
    doc = first.json()
    assert doc["model"] == model
    assert doc["object"] == "chat.completion"
    assert doc["id"].startswith("chatcmpl-")
    assert len(doc["id"]) == len("chatcmpl-") + 24
    int(doc["id"].removeprefix("chatcmpl-"), 16)
    assert isinstance(doc["created"], int)
    assert doc["created"] > 1_600_000_000


def test_different_requests_give_different_completions(client: TestClient) -> None:
    a = client.post(CHAT, json=chat_body(max_tokens=12)).json()
    b = client.post(CHAT, json={**chat_body(max_tokens=12), "messages": [HELLO[0], HELLO[0]]})
    c = client.post(CHAT, json=chat_body("sim-other", max_tokens=12)).json()
    assert a["id"] != b.json()["id"] != c["id"]
    assert a["choices"][0]["message"]["content"] != c["choices"][0]["message"]["content"]
    assert set(a["choices"][0]["message"]["content"].split()) <= set(WORDS)


def test_ignored_fields_do_not_change_the_completion(client: TestClient) -> None:
    plain = client.post(CHAT, json=chat_body(max_tokens=5))
    noisy = client.post(
        CHAT,
        json=chat_body(
            max_tokens=5,
            temperature=0.7,
            top_p=0.1,
            user="someone",
            tools=[{"type": "function", "function": {"name": "f"}}],
            n=1,
            seed=4,
            whatever={"nested": True},
        ),
    )
    assert noisy.status_code == 200, noisy.text
    assert noisy.content == plain.content


def test_max_completion_tokens_is_max_tokens(client: TestClient) -> None:
    a = client.post(CHAT, json=chat_body(max_tokens=9))
    b = client.post(CHAT, json=chat_body(max_completion_tokens=9))
    c = client.post(CHAT, json=chat_body(max_tokens=9, max_completion_tokens=9))
    assert a.content == b.content == c.content


MESSAGE_CASES = [
    ("one user message", [{"role": "user", "content": "hello there"}], 8),
    ("empty content", [{"role": "user", "content": ""}], 6),
    ("null content", [{"role": "assistant", "content": None}], 6),
    (
        "text parts",
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a b"}, {"type": "text", "text": "c"}],
            }
        ],
        9,
    ),
    (
        "a conversation",
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "  spaced\tout\nwords  "},
            {"role": "assistant", "content": "ok"},
            {"role": "tool", "content": "42", "tool_call_id": "call_1"},
            {"role": "developer", "content": "be nice"},
        ],
        (3 + 4) + (3 + 4) + (1 + 4) + (1 + 4) + (2 + 4) + 2,
    ),
]


@pytest.mark.parametrize(
    ("messages", "prompt_tokens"),
    [(m, t) for _, m, t in MESSAGE_CASES],
    ids=[c[0] for c in MESSAGE_CASES],
)
@pytest.mark.parametrize("max_tokens", [None, 1, 40])
def test_usage_follows_the_tokenizer(
    client: TestClient, messages: list[dict[str, Any]], prompt_tokens: int, max_tokens: int | None
) -> None:
    body: dict[str, Any] = {"model": "sim-default", "messages": messages}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    doc = client.post(CHAT, json=body).json()
    completion = max_tokens or 16
    assert count_prompt_tokens(messages) == prompt_tokens
    assert doc["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    content = doc["choices"][0]["message"]["content"]
    assert len(content.split()) == completion
    assert doc["choices"][0]["finish_reason"] == "length"
    assert doc["choices"][0]["message"]["role"] == "assistant"


@pytest.mark.parametrize(
    ("messages", "max_tokens", "content"),
    [
        (HELLO, 5, "hello there hello there hello"),
        (HELLO, 1, "hello"),
        ([{"role": "user", "content": "   "}], 3, "echo echo echo"),
        ([{"role": "system", "content": "sys words"}], 2, "echo echo"),
        (
            [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "reply"},
                {"role": "user", "content": [{"type": "text", "text": "last one"}]},
            ],
            3,
            "last one last",
        ),
    ],
    ids=["cycled", "truncated", "no-words", "no-user-message", "last-user-message"],
)
def test_sim_echo_cycles_the_last_user_message(
    client: TestClient, messages: list[dict[str, Any]], max_tokens: int, content: str
) -> None:
    doc = client.post(
        CHAT, json={"model": "sim-echo", "messages": messages, "max_tokens": max_tokens}
    ).json()
    assert doc["choices"][0]["message"]["content"] == content


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 37, 4096])
def test_sim_bytes_counts_one_token_per_utf8_byte(client: TestClient, max_tokens: int) -> None:
    messages = [
        {"role": "system", "content": "Réponds en français."},
        {"role": "user", "content": "数える: def f(x): return x**2"},
    ]
    body = {"model": "sim-bytes", "messages": messages, "max_tokens": max_tokens}
    doc = client.post(CHAT, json=body).json()
    prompt = count_prompt_bytes(messages)
    # far more than the word count: what real tokenizers do to code and non-Latin text
    assert prompt == (6 + 22 + 4) + (4 + 32 + 4) + 2 > 2 * count_prompt_tokens(messages)
    content = doc["choices"][0]["message"]["content"]
    assert len(content.encode()) == max_tokens
    assert content == content.strip()
    assert doc["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": max_tokens,
        "total_tokens": prompt + max_tokens,
    }
    assert doc["choices"][0]["finish_reason"] == "length"
    assert client.post(CHAT, json=body).content == client.post(CHAT, json=body).content
    chunks = stream_of(client, {**body, "stream_options": {"include_usage": True}})
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert streamed == content
    assert chunks[-1]["usage"] == doc["usage"]


# -- streaming -------------------------------------------------------------------------------
@pytest.mark.happy
@pytest.mark.parametrize("model", ["sim-echo", "sim-default"])
def test_streaming_gives_the_same_content_and_usage(client: TestClient, model: str) -> None:
    body = chat_body(model, max_tokens=6)
    plain = client.post(CHAT, json=body).json()
    chunks = stream_of(client, {**body, "stream_options": {"include_usage": True}})
    assert {c["id"] for c in chunks} == {plain["id"]}
    assert {c["created"] for c in chunks} == {plain["created"]}
    assert {c["model"] for c in chunks} == {model}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    words = chunks[1:-2]
    assert len(words) == 6  # one chunk per word
    assert all(c["choices"][0]["finish_reason"] is None for c in words)
    text = "".join(c["choices"][0]["delta"]["content"] for c in words)
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-2]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == plain["usage"]


def test_streaming_without_include_usage_has_no_usage_chunk(client: TestClient) -> None:
    for options in (None, {"include_usage": False}):
        body = chat_body(max_tokens=3) | ({"stream_options": options} if options else {})
        chunks = stream_of(client, body)
        assert len(chunks) == 1 + 3 + 1
        assert all("usage" not in c for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_streaming_is_deterministic(client: TestClient) -> None:
    body = chat_body('sim-"quoted" \\ é', max_tokens=40, stream=True)
    first = client.post(CHAT, json=body)
    assert first.status_code == 200, first.text
    assert first.content == client.post(CHAT, json=body).content
    chunks = [json.loads(p) for p in sse_payloads(first.text)[:-1]]
    assert {c["model"] for c in chunks} == {body["model"]}


def test_streaming_handles_the_largest_request(client: TestClient) -> None:
    body = chat_body(max_tokens=32_768, stream=True, stream_options={"include_usage": True})
    chunks = [json.loads(p) for p in sse_payloads(client.post(CHAT, json=body).text)[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] == 32_768
    assert len(chunks) == 32_768 + 3


# -- behaviour by model name -----------------------------------------------------------------
FAILURES = [
    ("sim-fail-503", 503, "backend_unavailable"),
    ("sim-fail-500", 500, "backend_error"),
    ("gpt-4o", 404, "model_not_found"),
    ("sim-slow-abc", 400, "invalid_model"),
    ("sim-slow-60001", 400, "invalid_model"),
    ("sim-slow-", 400, "invalid_model"),
    ("sim-short-0", 400, "invalid_model"),
    ("sim-short-x", 400, "invalid_model"),
    ("sim-short-32769", 400, "invalid_model"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("model", "status", "code"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_models_answer_with_the_envelope(
    client: TestClient, model: str, status: int, code: str, stream: bool
) -> None:
    # For a streamed request the failure comes before the first byte: a JSON envelope.
    error = assert_envelope(client.post(CHAT, json=chat_body(model, stream=stream)), status, code)
    assert model in error["message"] or status == 400


@pytest.mark.parametrize("model", ["sim-slow-60", "sim-slow-60ms"])
async def test_sim_slow_waits_then_answers_normally(aclient: httpx.AsyncClient, model: str) -> None:
    started = time.monotonic()
    response = await aclient.post(CHAT, json=chat_body(model, max_tokens=4))
    assert time.monotonic() - started >= 0.06
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"][0]["message"]["content"].split()) == 4
    streamed = await aclient.post(CHAT, json=chat_body(model, max_tokens=4, stream=True))
    assert streamed.status_code == 200
    assert sse_payloads(streamed.text)[-1] == "[DONE]"


@pytest.mark.parametrize(("max_tokens", "words"), [(10, 3), (3, 3), (2, 2)])
def test_sim_short_stops_before_max_tokens_and_reports_what_it_said(
    client: TestClient, max_tokens: int, words: int
) -> None:
    body = chat_body("sim-short-3", max_tokens=max_tokens)
    doc = client.post(CHAT, json=body).json()
    content = doc["choices"][0]["message"]["content"]
    assert len(content.split()) == doc["usage"]["completion_tokens"] == words
    assert doc["choices"][0]["finish_reason"] == ("stop" if words < max_tokens else "length")
    chunks = stream_of(client, {**body, "stream_options": {"include_usage": True}})
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert streamed == content
    assert chunks[-1]["usage"] == doc["usage"]


async def test_sim_timeout_does_not_answer_within_a_client_timeout(
    aclient: httpx.AsyncClient,
) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(aclient.post(CHAT, json=chat_body("sim-timeout")), timeout=0.2)


async def test_sim_timeout_answers_after_the_configured_wait() -> None:
    app = make_app(sim_timeout_seconds=0.01)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://modelsim.test") as c:
        response = await c.post(CHAT, json=chat_body("sim-timeout", max_tokens=2))
    assert response.status_code == 200
    assert response.json()["usage"]["completion_tokens"] == 2


def test_sim_bad_json_answers_200_with_a_body_that_is_not_json(client: TestClient) -> None:
    response = client.post(CHAT, json=chat_body("sim-bad-json"))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    streamed = client.post(CHAT, json=chat_body("sim-bad-json", stream=True))
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    payloads = sse_payloads(streamed.text)
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[0])


def test_models_lists_the_fixed_behaviours(client: TestClient) -> None:
    doc = client.get("/v1/models").json()
    assert doc["object"] == "list"
    assert [m["id"] for m in doc["data"]] == list(LISTED_MODELS)
    assert doc["data"][0] == {
        "id": "sim-echo",
        "object": "model",
        "owned_by": "gatewright-modelsim",
        "created": 0,
    }
    for m in doc["data"]:  # every listed model is one modelsim serves (no 400/404)
        resolve(m["id"], timeout_seconds=30)


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "modelsim"}
    assert client.get("/readyz").json() == {"status": "ready", "service": "modelsim"}


# -- bad input -------------------------------------------------------------------------------
BAD_BODIES: list[tuple[str, Any, int]] = [
    ("not json", b"{nope", 400),
    # Hashed into the completion: a lone surrogate cannot be encoded, deep nesting recursed out.
    (
        "lone surrogate in a message",
        b'{"model": "sim-echo", "messages": [{"role": "user", "content": "\\ud800"}]}',
        400,
    ),
    ("lone surrogate in user", b'{"model": "sim-echo", "messages": [], "user": "\\udfff"}', 400),
    (
        "deeply nested",
        b'{"model": "sim-echo", "messages": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        400,
    ),
    ("NaN", b'{"model": "sim-echo", "messages": [], "temperature": NaN}', 400),
    ("text/plain", ("text/plain", b'{"model": "sim-echo", "messages": []}'), 415),
    ("json array", [1, 2], 422),
    ("empty object", {}, 422),
    ("no model", {"messages": HELLO}, 422),
    ("empty model", {"model": "", "messages": HELLO}, 422),
    ("model not a string", {"model": 5, "messages": HELLO}, 422),
    ("control char in model", {"model": "sim-\x00", "messages": HELLO}, 422),
    ("no messages", {"model": "sim-echo"}, 422),
    ("empty messages", {"model": "sim-echo", "messages": []}, 422),
    ("messages not a list", {"model": "sim-echo", "messages": "hi"}, 422),
    ("unknown role", {"model": "sim-echo", "messages": [{"role": "robot", "content": "x"}]}, 422),
    ("no role", {"model": "sim-echo", "messages": [{"content": "x"}]}, 422),
    ("content a number", {"model": "sim-echo", "messages": [{"role": "user", "content": 5}]}, 422),
    (
        "image part",
        {
            "model": "sim-echo",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        },
        422,
    ),
    ("max_tokens 0", chat_body(max_tokens=0), 422),
    ("max_tokens too big", chat_body(max_tokens=32_769), 422),
    ("max_tokens negative", chat_body(max_tokens=-1), 422),
    ("max_tokens a string", chat_body(max_tokens="5"), 422),
    ("max_tokens a float", chat_body(max_tokens=5.5), 422),
    ("max_tokens a bool", chat_body(max_tokens=True), 422),
    ("max_completion_tokens 0", chat_body(max_completion_tokens=0), 422),
    ("max token fields disagree", chat_body(max_tokens=3, max_completion_tokens=4), 422),
    ("stream a string", chat_body(stream="yes"), 422),
    ("stream_options not an object", chat_body(stream=True, stream_options=True), 422),
    ("include_usage a string", chat_body(stream=True, stream_options={"include_usage": "y"}), 422),
]


@pytest.mark.parametrize(
    ("body", "status"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_is_a_4xx_envelope(client: TestClient, body: Any, status: int) -> None:
    if isinstance(body, tuple):
        response = client.post(CHAT, content=body[1], headers={"Content-Type": body[0]})
    elif isinstance(body, bytes):
        response = client.post(CHAT, content=body, headers={"Content-Type": "application/json"})
    else:
        response = client.post(CHAT, json=body)
    assert_envelope(response, status)
    # Refused requests are observed too, with what could be read from them.
    seen = client.get("/v1/observations", params={"request_id": response.headers["x-request-id"]})
    assert [o["status"] for o in seen.json()["data"]] == [status]


def test_wrong_method_and_path_are_envelopes(client: TestClient) -> None:
    assert_envelope(client.get(CHAT), 405)
    assert_envelope(client.post("/v1/completions", json=chat_body()), 404)


# -- observations ----------------------------------------------------------------------------
def observations(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/observations", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@pytest.mark.audit
def test_observations_record_requests_with_secrets_redacted(client: TestClient) -> None:
    headers = {
        "X-Request-ID": "req-observed-1",
        "Authorization": "Bearer gwk_live_secret",
        "X-Api-Key": "plain-secret",
        "Cookie": "session=abc",
        "X-Custom": "gwk_leaked_in_a_custom_header",
        "X-Trace-Note": "visible",
    }
    client.post(CHAT, json=chat_body("sim-echo", max_tokens=3, stream=True), headers=headers)
    [seen] = observations(client, request_id="req-observed-1")
    assert seen["method"] == "POST"
    assert seen["path"] == CHAT
    assert seen["model"] == "sim-echo"
    assert seen["stream"] is True
    assert seen["max_tokens"] == 3
    assert seen["message_count"] == 1
    assert seen["status"] == 200
    assert seen["received_at"].endswith("Z")
    for name in ("authorization", "x-api-key", "cookie", "x-custom"):
        assert seen["headers"][name] == "***", name
    assert seen["headers"]["x-trace-note"] == "visible"
    assert seen["headers"]["x-request-id"] == "req-observed-1"
    assert "secret" not in json.dumps(seen)


def test_observations_filter_by_request_id_and_model(client: TestClient) -> None:
    client.post(CHAT, json=chat_body("sim-echo"), headers={"X-Request-ID": "req-a"})
    client.post(CHAT, json=chat_body("sim-fail-503"), headers={"X-Request-ID": "req-b"})
    client.post(CHAT, json=chat_body("sim-fail-503"), headers={"X-Request-ID": "req-b"})
    client.post(CHAT, json=chat_body("sim-echo"), headers={"X-Request-ID": "req-c"})
    assert [o["model"] for o in observations(client, request_id="req-a")] == ["sim-echo"]
    b = observations(client, request_id="req-b")
    assert [o["status"] for o in b] == [503, 503]
    assert b[0]["seq"] < b[1]["seq"]
    assert observations(client, request_id="req-none") == []  # zero reached the backend
    assert [o["request_id"] for o in observations(client, model="sim-echo")] == ["req-a", "req-c"]
    assert [o["request_id"] for o in observations(client, limit=2)] == ["req-b", "req-c"]
    assert observations(client, request_id="req-b", model="sim-echo") == []
    # Other endpoints are not observed.
    assert len(observations(client, limit=1000)) == 4


def test_observations_are_bounded_and_can_be_cleared() -> None:
    with TestClient(make_app(observations_max=3)) as client:
        for i in range(5):
            client.post(CHAT, json=chat_body(), headers={"X-Request-ID": f"req-{i}"})
        assert [o["request_id"] for o in observations(client)] == ["req-2", "req-3", "req-4"]
        assert client.delete("/v1/observations").status_code == 204
        assert observations(client) == []


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1"])
def test_observations_limit_is_validated(client: TestClient, limit: str) -> None:
    assert_envelope(client.get("/v1/observations", params={"limit": limit}), 422)


async def test_a_pending_request_is_observed_without_status(
    app: FastAPI, aclient: httpx.AsyncClient
) -> None:
    task = asyncio.create_task(
        aclient.post(CHAT, json=chat_body("sim-timeout"), headers={"X-Request-ID": "req-wait"})
    )
    deadline = time.monotonic() + 5
    seen: list[Any] = []
    while not seen:  # a bounded probe for the arrival, not a synchronization sleep
        assert time.monotonic() < deadline, "the pending request was never observed"
        await asyncio.sleep(0.005)
        seen = app.state.observations.query(request_id="req-wait")
    assert seen[0]["status"] is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert app.state.observations.query(request_id="req-wait")[0]["status"] == 499


# -- the clients against the real service (in process) ---------------------------------------
def test_sync_client_round_trip(client: TestClient) -> None:
    with Client("http://testserver", http_client=client, token="gwk_upstream") as c:
        done = c.chat.completions.create(
            model="sim-echo", messages=HELLO, max_tokens=3, request_id="req-rt-1"
        )
        assert isinstance(done, ChatCompletion)
        assert done.content == "hello there hello"
        assert done.request_id == "req-rt-1"
        chunks = list(
            c.chat.completions.stream(
                model="sim-echo", messages=HELLO, max_tokens=3, request_id="req-rt-2"
            )
        )
        assert all(isinstance(ch, ChatCompletionChunk) for ch in chunks)
        assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == (
            done.content
        )
        assert chunks[-1].usage == done.usage
        seen = c.observations.list(request_id="req-rt-1").data
        assert [o.headers["authorization"] for o in seen] == ["***"]
        assert [m.id for m in c.models.list().data] == list(LISTED_MODELS)
        c.observations.clear()
        assert c.observations.list().data == []


async def test_async_client_round_trip(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://modelsim.test", transport=transport) as c:
        done = await c.chat.completions.create(model="sim-default", messages=HELLO, max_tokens=5)
        chunks = [
            ch
            async for ch in c.chat.completions.stream(
                model="sim-default", messages=HELLO, max_tokens=5
            )
        ]
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == done.content
        assert chunks[-1].usage == done.usage
        assert done.usage is not None
        assert done.usage.prompt_tokens == count_prompt_tokens(HELLO)


# -- settings --------------------------------------------------------------------------------
def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWRIGHT_SIM_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("GATEWRIGHT_OBSERVATIONS_MAX", "7")
    monkeypatch.setenv("GATEWRIGHT_FD", "9")
    monkeypatch.setenv("GATEWRIGHT_ENVIRONMENT", "production")  # no service token needed
    settings = ModelsimSettings()
    assert settings.sim_timeout_seconds == 1.5
    assert settings.observations_max == 7
    assert settings.fd == 9


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWRIGHT_SIM_TIMEOUT_SECONDS", "301"), ("GATEWRIGHT_OBSERVATIONS_MAX", "0")],
)
def test_settings_refuse_out_of_range_values(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.removeprefix("GATEWRIGHT_").lower()):
        ModelsimSettings()


def test_a_refused_hostile_body_is_observed_and_the_observations_still_serve(
    client: TestClient,
) -> None:
    # Raw surrogate bytes and a lone surrogate escape in the model name: refused at the door,
    # recorded without the unreadable fields, and the listing stays a 200.
    for body in (
        b'{"model": "\xed\xa0\x80", "messages": []}',
        b'{"model": "\\ud800", "messages": []}',
    ):
        r = client.post(CHAT, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        seen = client.get("/v1/observations", params={"request_id": r.headers["x-request-id"]})
        assert seen.status_code == 200, seen.text
        assert [(o["status"], o["model"]) for o in seen.json()["data"]] == [(400, None)]
