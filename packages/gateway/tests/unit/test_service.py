"""The gateway service in-process: each numbered step of the completion path, streaming, the
route admin API, revocation, and a bad-input table (always a 4xx, never a charge)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from starlette.types import Message

from gatewright.gateway import DEFAULT_MAX_OUTPUT_TOKENS, prompt_token_bound
from gatewright.gateway.service.engine.responses import SettlingJSONResponse
from gatewright.modelsim import count_prompt_bytes

from gateway_fixtures import ORG, OTHER_ORG, SERVICE_TOKEN, World, eventually  # isort: skip

MESSAGES = [{"role": "user", "content": "one two three"}]
PROMPT = 9  # what the backend reports: 3 words + 4 per message + 2 per request
IN, OUT = 1_000_000, 2_000_000  # 1 and 2 micro-USD per token


def payload_of(**body: Any) -> dict[str, Any]:
    return {"model": "m", "messages": MESSAGES, **body}


def bound(**body: Any) -> int:
    """The prompt tokens the gateway reserves for `chat(world, secret, **body)` (decision 10)."""
    return prompt_token_bound(payload_of(**body))


def chat(world: World, secret: str, **body: Any) -> httpx.Response:
    with world.http(secret) as http:
        return http.post("/v1/chat/completions", json=payload_of(**body))


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- 1. the API key ----------------------------------------------------------------------------
def test_invalid_key_is_401_and_touches_nothing(world: World) -> None:
    world.route("m", "sim-echo")
    response = chat(world, "gwk_nope", max_tokens=2)
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_api_key"
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models"])
def test_a_key_longer_than_identity_reads_is_401_without_asking_identity(
    world: World, path: str
) -> None:
    """Found by the fuzz stage: it was a 503 identity_unavailable (identity's 422 passed on)."""
    world.route("m", "sim-echo")
    with world.http("gwk_" + "a" * 600) as http:
        if path == "/v1/models":
            response = http.get(path)
        else:
            response = http.post(path, json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 401, response.text
    assert error(response)["code"] == "invalid_api_key"
    assert world.identity.verify_calls == 0
    assert world.budgets.reservations.created == []


def test_missing_key_is_401(world: World) -> None:
    with world.http() as http:
        response = http.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 401
    assert error(response)["code"] == "invalid_api_key"


def test_key_is_cached_and_the_revocation_hook_evicts_it(world: World) -> None:
    world.route("m", "sim-echo")
    secret = world.key("gwk_cached", key_id="key_cached")
    assert chat(world, secret, max_tokens=1).status_code == 200
    assert chat(world, secret, max_tokens=1).status_code == 200
    assert world.identity.verify_calls == 1
    del world.identity.api_keys[secret]  # revoked in identity...
    assert chat(world, secret, max_tokens=1).status_code == 200  # ...still cached here
    with world.http(SERVICE_TOKEN) as http:
        hook = http.post(
            "/v1/internal/revoked-keys", json={"key_ids": ["key_cached"], "org_id": ORG}
        )
    assert hook.status_code == 200
    assert hook.json() == {"evicted": 1}
    assert chat(world, secret, max_tokens=1).status_code == 401


def test_revocation_hook_needs_the_service_token(world: World) -> None:
    with world.http("gwk_whatever") as http:
        response = http.post("/v1/internal/revoked-keys", json={"key_ids": ["k"]})
    assert response.status_code == 401


def test_revocation_hook_was_registered_at_startup(world: World) -> None:
    assert world.identity.revocation_hooks == ["http://gateway.test/v1/internal/revoked-keys"]


# -- 2. allow-list -----------------------------------------------------------------------------
def test_model_outside_the_allow_list_is_403(world: World) -> None:
    world.route("m", "sim-echo")
    secret = world.key(models=["other"])
    response = chat(world, secret, max_tokens=2)
    assert response.status_code == 403
    assert error(response)["code"] == "model_not_allowed"
    assert "'m'" in error(response)["message"]
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


def test_an_unknown_alias_is_404_even_for_an_allow_listed_key(world: World) -> None:
    # OpenAI's contract (and its SDK's NotFoundError): a model that does not exist is 404,
    # whatever the key may use; 403 is for an alias that exists and the key may not use.
    response = chat(world, world.key(models=["other"]), model="no-such-alias", max_tokens=1)
    assert response.status_code == 404
    assert error(response)["code"] == "model_not_found"
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


# -- 3. rate limit -----------------------------------------------------------------------------
def test_rate_limit_is_429_with_retry_after(world: World) -> None:
    world.route("m", "sim-echo")
    secret = world.key("gwk_rl", rpm=2, key_id="key_rl")
    assert chat(world, secret, max_tokens=1).status_code == 200
    assert chat(world, secret, max_tokens=1).status_code == 200
    response = chat(world, secret, max_tokens=1)
    assert response.status_code == 429
    assert error(response)["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(world.budgets.reservations.created) == 2


# -- 4. routing --------------------------------------------------------------------------------
def test_unknown_model_is_404(world: World) -> None:
    response = chat(world, world.key(), model="no-such-alias", max_tokens=1)
    assert response.status_code == 404
    assert error(response)["code"] == "model_not_found"
    assert world.budgets.reservations.created == []


def test_org_route_wins_over_global(world: World) -> None:
    world.route("shared", "sim-echo")
    world.route("shared", "sim-slow-1", org_id=ORG)
    response = chat(world, world.key(), model="shared", max_tokens=1)
    assert response.status_code == 200
    assert response.headers["X-Gatewright-Backend-Model"] == "sim-slow-1"
    other = chat(world, world.key("gwk_other", org_id=OTHER_ORG), model="shared", max_tokens=1)
    assert other.headers["X-Gatewright-Backend-Model"] == "sim-echo"


# -- 5. max_tokens and the estimate ------------------------------------------------------------
@pytest.mark.parametrize(("route_max", "sent"), [(None, DEFAULT_MAX_OUTPUT_TOKENS), (300, 300)])
def test_a_request_without_max_tokens_gets_the_routes_maximum_output(
    world: World, route_max: int | None, sent: int
) -> None:
    """An SDK user who never sets max_tokens gets a whole answer, not a silent 16-token cut."""
    world.route("m", "sim-echo", inp=IN, out=OUT, max_output_tokens=route_max)
    response = chat(world, world.key())
    assert response.status_code == 200
    assert world.backend_log.requests[0]["max_tokens"] == sent
    assert response.json()["usage"]["completion_tokens"] == sent
    assert world.budgets.reservations.created[0]["amount"] == bound() + sent * 2


def test_max_tokens_above_the_routes_maximum_output_is_400(world: World) -> None:
    world.route("m", "sim-echo", max_output_tokens=300)
    assert chat(world, world.key(), max_tokens=300).status_code == 200
    response = chat(world, world.key(), max_tokens=301)
    assert response.status_code == 400
    err = error(response)
    assert err["code"] == "invalid_request"
    assert "between 1 and 300" in err["message"]
    assert "max_output_tokens" in err["message"]
    assert err["details"] == {"max_tokens": 301, "max_output_tokens": 300}
    assert len(world.budgets.reservations.created) == 1  # the refused one reserved nothing


@pytest.mark.parametrize("value", [0, -1, DEFAULT_MAX_OUTPUT_TOKENS + 1, 10**12])
def test_max_tokens_out_of_range_is_400(world: World, value: int) -> None:
    world.route("m", "sim-echo")
    response = chat(world, world.key(), max_tokens=value)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"
    assert world.budgets.reservations.created == []


def test_estimate_rounds_up(world: World) -> None:
    world.route("m", "sim-echo", inp=1, out=1)
    assert chat(world, world.key(), max_tokens=1).status_code == 200
    assert world.budgets.reservations.created[0]["amount"] == 1  # ceil((bound + 1) / 1e6)
    eventually(lambda: world.budgets.reservations.committed)
    assert world.budgets.reservations.committed[0][1] == 1


def test_the_reservation_bounds_a_backend_that_counts_every_byte(world: World) -> None:
    """Real tokenizers count code and non-Latin text far above one token per word; the
    reservation holds what a one-token-per-byte backend charges, so an org never ends above
    its limit through a completion."""
    world.route("m", "sim-bytes", inp=IN, out=OUT)
    messages = [{"role": "user", "content": "東京の天気: print(f'{x!r:>10}') 🚀"}]
    response = chat(world, world.key(), messages=messages, max_tokens=5)
    assert response.status_code == 200
    charged = count_prompt_bytes(messages) + 5 * 2
    eventually(lambda: world.budgets.reservations.committed)
    assert world.budgets.reservations.committed == [("res_1", charged)]
    reserved = world.budgets.reservations.created[0]["amount"]
    assert charged <= reserved == bound(messages=messages, max_tokens=5) + 5 * 2


def test_n_choices_reserve_max_tokens_each(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    assert chat(world, world.key(), max_tokens=5, n=3).status_code == 200
    assert world.budgets.reservations.created[0]["amount"] == bound(max_tokens=5, n=3) + 3 * 10


@pytest.mark.parametrize("n", [0, 129, "2", 1.5])
def test_a_bad_n_is_400(world: World, n: object) -> None:
    world.route("m", "sim-echo")
    response = chat(world, world.key(), max_tokens=1, n=n)
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_request"
    assert world.budgets.reservations.created == []


# -- 6. budgets --------------------------------------------------------------------------------
def test_budget_denial_is_402_and_no_backend_is_called(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    world.budgets.reservations.limit = 5
    response = chat(world, world.key(), max_tokens=5)
    assert response.status_code == 402
    body = error(response)
    assert body["code"] == "budget_exceeded"
    assert "limit 5" in body["message"]
    assert body["details"]["requested_micro_usd"] == bound(max_tokens=5) + 10
    assert world.backend_log.requests == []


def test_reservation_carries_the_request_id(world: World) -> None:
    world.route("m", "sim-echo")
    with world.http(world.key()) as http:
        response = http.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": MESSAGES, "max_tokens": 1},
            headers={
                "X-Request-ID": "req_unit_123",
                "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
            },
        )
    assert response.status_code == 200
    assert world.budgets.reservations.created[0]["request_id"] == "req_unit_123"
    sent = world.backend_log.headers[0]
    assert sent["x-request-id"] == "req_unit_123"
    assert sent["traceparent"].startswith("00-" + "a" * 32)


# -- 7-8. backends, fallback, headers, commit --------------------------------------------------
def test_success_commits_usage_and_names_the_backend(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    response = chat(world, world.key(), max_tokens=5)
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "m"
    assert body["usage"] == {
        "prompt_tokens": PROMPT,
        "completion_tokens": 5,
        "total_tokens": PROMPT + 5,
    }
    assert response.headers["X-Gatewright-Backend"] == world.backend
    assert response.headers["X-Gatewright-Attempts"] == "1"
    assert world.backend_log.requests[0]["model"] == "sim-echo"
    eventually(lambda: world.budgets.reservations.committed)
    assert world.budgets.reservations.committed == [("res_1", PROMPT + 10)]
    assert world.budgets.reservations.released == []


@pytest.mark.parametrize(
    "first", ["sim-fail-503", "sim-fail-500", "sim-fail-429", "sim-bad-json", "sim-slow-2000"]
)
def test_fallback_charges_once_and_counts_attempts(world: World, first: str) -> None:
    world.route("m", [first, "sim-echo"], inp=IN, out=OUT, timeout=0.5)
    response = chat(world, world.key(), max_tokens=5)
    assert response.status_code == 200
    assert response.headers["X-Gatewright-Attempts"] == "2"
    assert response.headers["X-Gatewright-Backend-Model"] == "sim-echo"
    eventually(lambda: world.budgets.reservations.committed)
    assert world.budgets.reservations.committed == [("res_1", PROMPT + 10)]
    assert len(world.budgets.reservations.created) == 1


@pytest.mark.parametrize(
    ("refusal", "status"), [(400, 400), (422, 400), (404, 502), (401, 502), (403, 502)]
)
@pytest.mark.parametrize("stream", [False, True])
def test_a_backend_refusing_the_request_is_not_retried_elsewhere(
    world: World, refusal: int, status: int, stream: bool
) -> None:
    world.route("m", [f"sim-fail-{refusal}", "sim-echo"])
    response = chat(world, world.key(), max_tokens=2, stream=stream)
    assert response.status_code == status, response.text
    err = error(response)
    assert err["code"] == "backend_rejected"
    assert f"with {refusal}: " in err["message"]
    assert err["details"]["backend_status"] == refusal
    assert [a["outcome"] for a in err["details"]["attempts"]] == [f"status_{refusal}"]
    assert [r["model"] for r in world.backend_log.requests] == [f"sim-fail-{refusal}"]
    assert world.budgets.reservations.released == ["res_1"]
    assert world.budgets.reservations.committed == []


def test_connect_error_falls_back(world: World) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    path = "/v1/routes/m"
    body = {
        "backends": [{"url": dead, "model": "x"}, {"url": world.backend, "model": "sim-echo"}],
        "input_micro_usd_per_mtok": IN,
        "output_micro_usd_per_mtok": OUT,
    }
    with world.http(SERVICE_TOKEN) as http:
        assert http.put(path, json=body).status_code == 200
    response = chat(world, world.key(), max_tokens=1)
    assert response.status_code == 200
    assert response.headers["X-Gatewright-Attempts"] == "2"


# -- 9. everything failed ----------------------------------------------------------------------
def test_all_backends_failing_is_502_and_releases(world: World) -> None:
    world.route("m", ["sim-fail-503", "sim-bad-json"])
    response = chat(world, world.key(), max_tokens=1)
    assert response.status_code == 502
    body = error(response)
    assert body["code"] == "backends_failed"
    outcomes = [a["outcome"] for a in body["details"]["attempts"]]
    assert outcomes == ["status_503", "bad_response"]
    assert all(a["elapsed_ms"] >= 0 for a in body["details"]["attempts"])
    assert world.budgets.reservations.released == ["res_1"]
    assert world.budgets.reservations.committed == []


def test_all_backends_timing_out_is_504(world: World) -> None:
    world.route("m", ["sim-slow-1000", "sim-slow-1000"], timeout=0.2)
    response = chat(world, world.key(), max_tokens=1)
    assert response.status_code == 504
    assert error(response)["code"] == "backends_timeout"
    assert world.budgets.reservations.released == ["res_1"]


# -- streaming ---------------------------------------------------------------------------------
def _events(text: str) -> list[Any]:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_streamed_cost_equals_plain_cost(world: World) -> None:
    world.route("m", "sim-echo", inp=IN, out=OUT)
    secret = world.key()
    plain = chat(world, secret, max_tokens=7)
    streamed = chat(world, secret, max_tokens=7, stream=True)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["X-Gatewright-Attempts"] == "1"
    events = _events(streamed.text)
    assert events[-1] == "[DONE]"
    assert all("usage" not in e for e in events[:-1])  # the client did not ask for usage
    assert all(e["model"] == "m" for e in events[:-1])
    eventually(lambda: len(world.budgets.reservations.committed) == 2)
    committed = [amount for _, amount in world.budgets.reservations.committed]
    assert committed == [PROMPT + 14, PROMPT + 14]
    assert plain.json()["usage"]["completion_tokens"] == 7


def test_stream_with_include_usage_keeps_the_usage_chunk(world: World) -> None:
    world.route("m", "sim-echo")
    response = chat(
        world, world.key(), max_tokens=3, stream=True, stream_options={"include_usage": True}
    )
    usage = [e["usage"] for e in _events(response.text)[:-1] if e.get("usage")]
    assert usage == [{"prompt_tokens": PROMPT, "completion_tokens": 3, "total_tokens": PROMPT + 3}]


def test_stream_falls_back_before_the_first_byte(world: World) -> None:
    world.route("m", ["sim-fail-503", "sim-echo"])
    response = chat(world, world.key(), max_tokens=2, stream=True)
    assert response.status_code == 200
    assert response.headers["X-Gatewright-Attempts"] == "2"
    eventually(lambda: len(world.budgets.reservations.committed) == 1)


def test_stream_all_failing_is_502_and_releases(world: World) -> None:
    world.route("m", ["sim-fail-503"])
    response = chat(world, world.key(), max_tokens=2, stream=True)
    assert response.status_code == 502
    assert world.budgets.reservations.released == ["res_1"]


async def test_a_plain_answer_is_settled_even_when_the_client_hung_up() -> None:
    """The commit follows the answer; a send that fails (the client is gone) still settles."""
    settled: list[str] = []

    async def on_close() -> None:
        settled.append("committed")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("the client hung up")

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    response = SettlingJSONResponse(
        {"id": "chatcmpl-1"}, headers={}, on_close=on_close, deadline=time.monotonic() + 60
    )
    with pytest.raises(OSError, match="hung up"):
        await response({"type": "http"}, receive, send)
    assert settled == ["committed"]


def test_client_disconnect_mid_stream_bills_what_was_streamed(world: World) -> None:
    world.route("m", "sim-drip", inp=IN, out=OUT)
    payload = {"model": "m", "messages": MESSAGES, "max_tokens": 200, "stream": True}
    received = 0
    with (
        world.http(world.key()) as http,
        http.stream("POST", "/v1/chat/completions", json=payload) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                received += 1
                if received == 3:
                    break
    eventually(lambda: world.budgets.reservations.committed)
    ((_, amount),) = world.budgets.reservations.committed
    # The backend reported no usage: billed the bound of what was sent and streamed, one token
    # per byte (1 micro-USD per prompt token, 2 per completion token), never the whole hold.
    streamed_bytes, odd = divmod(amount - bound(max_tokens=200, stream=True), 2)
    assert odd == 0
    streamed = [len(" ".join(f"w{i}" for i in range(k))) for k in range(3, 200)]
    assert streamed_bytes in streamed
    assert amount < world.budgets.reservations.created[0]["amount"]
    assert world.budgets.reservations.released == []
    eventually(lambda: "sim-drip" in world.backend_log.stream_closed)  # upstream closed too


# -- /v1/models --------------------------------------------------------------------------------
def test_models_lists_org_and_global_aliases_filtered_by_the_allow_list(world: World) -> None:
    world.route("g-one", "sim-echo")
    world.route("o-one", "sim-echo", org_id=ORG)
    world.route("o-other", "sim-echo", org_id=OTHER_ORG)
    with world.http(world.key()) as http:
        ids = [m["id"] for m in http.get("/v1/models").json()["data"]]
    assert "g-one" in ids
    assert "o-one" in ids
    assert "o-other" not in ids
    with world.http(world.key("gwk_limited", models=["o-one"])) as http:
        assert [m["id"] for m in http.get("/v1/models").json()["data"]] == ["o-one"]


# -- route admin API ---------------------------------------------------------------------------
def test_route_crud_with_the_service_token(world: World) -> None:
    world.route("crud", "sim-echo", org_id=ORG)
    with world.http(SERVICE_TOKEN) as http:
        got = http.get(f"/v1/orgs/{ORG}/routes/crud").json()
        assert got["alias"] == "crud"
        assert got["org_id"] == ORG
        listed = http.get(f"/v1/orgs/{ORG}/routes").json()["data"]
        assert "crud" in [r["alias"] for r in listed]
        assert http.delete(f"/v1/orgs/{ORG}/routes/crud").status_code == 204
        assert http.get(f"/v1/orgs/{ORG}/routes/crud").status_code == 404
        assert http.delete(f"/v1/orgs/{ORG}/routes/crud").status_code == 404


def test_global_routes_need_the_service_token(world: World) -> None:
    with world.http(world.key()) as http:
        response = http.put("/v1/routes/x", json={})
    assert response.status_code == 401


BAD_ROUTES = [
    {},
    {"backends": [], "input_micro_usd_per_mtok": 1, "output_micro_usd_per_mtok": 1},
    {
        "backends": [{"url": "ftp://x.test", "model": "m"}],
        "input_micro_usd_per_mtok": 1,
        "output_micro_usd_per_mtok": 1,
    },
    {
        "backends": [{"url": "http://x.test", "model": "m", "timeout_seconds": 0}],
        "input_micro_usd_per_mtok": 1,
        "output_micro_usd_per_mtok": 1,
    },
    {
        "backends": [{"url": "http://x.test", "model": "m"}] * 6,
        "input_micro_usd_per_mtok": 1,
        "output_micro_usd_per_mtok": 1,
    },
    {
        "backends": [{"url": "http://x.test", "model": "m"}],
        "input_micro_usd_per_mtok": -1,
        "output_micro_usd_per_mtok": 1,
    },
    {
        "backends": [{"url": "http://x.test", "model": "m"}],
        "input_micro_usd_per_mtok": 10**9 + 1,
        "output_micro_usd_per_mtok": 1,
    },
    {
        "backends": [{"url": "http://x.test", "model": "m"}],
        "input_micro_usd_per_mtok": "1",
        "output_micro_usd_per_mtok": 1,
    },
]


@pytest.mark.parametrize("body", BAD_ROUTES)
def test_bad_routes_are_4xx(world: World, body: dict[str, Any]) -> None:
    with world.http(SERVICE_TOKEN) as http:
        response = http.put("/v1/routes/bad", json=body)
        assert 400 <= response.status_code < 500, response.text
        assert http.get("/v1/routes/bad").status_code == 404


@pytest.mark.parametrize("alias", ["a b", "x" * 101, "semi;colon", "%00"])
def test_bad_aliases_are_4xx(world: World, alias: str) -> None:
    with world.http(SERVICE_TOKEN) as http:
        response = http.put(f"/v1/routes/{alias}", json={})
    assert 400 <= response.status_code < 500


# -- bad completion input ----------------------------------------------------------------------
BAD_COMPLETIONS: list[Any] = [
    {"model": "m"},
    {"model": "m", "messages": []},
    {"model": "m", "messages": "hello"},
    {"model": 3, "messages": MESSAGES},
    {"messages": MESSAGES},
    {"model": "m", "messages": MESSAGES, "max_tokens": "5"},
    {"model": "m", "messages": MESSAGES, "max_tokens": 1.5},
    {"model": "m", "messages": MESSAGES, "stream": "yes"},
    {"model": "m", "messages": [{"content": "no role"}]},
    {"model": "m", "messages": MESSAGES, "max_tokens": 2, "max_completion_tokens": 3},
    ["not", "an", "object"],
    None,
]


@pytest.mark.parametrize("body", BAD_COMPLETIONS)
def test_bad_completions_are_400_and_free(world: World, body: Any) -> None:
    world.route("m", "sim-echo")
    with world.http(world.key()) as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert error(response)["type"] == "invalid_request_error"
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


# Each would crash a step on the way (encoding upstream, hashing, recursion) if it got in.
HOSTILE_COMPLETIONS = [
    b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}], "max_tokens": 1}',
    b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": "\\udc00"}',
    b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
    b'{"model": "m", "messages": ' + b"[" * 4000 + b"]" * 4000 + b"}",
    b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": '
    + b'{"a": ' * 200
    + b"1"
    + b"}" * 200
    + b"}",
]


@pytest.mark.parametrize(
    "raw", HOSTILE_COMPLETIONS, ids=["surrogate", "user", "nan", "deep", "deep-objects"]
)
def test_hostile_completions_are_400_and_free(world: World, raw: bytes) -> None:
    world.route("m", "sim-echo")
    with world.http(world.key()) as http:
        response = http.post(
            "/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert error(response)["code"] in ("invalid_json", "json_too_deep")
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_completion_not_sent_as_json_is_415_and_free(
    world: World, content_type: str | None
) -> None:
    world.route("m", "sim-echo")
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}'
    headers = {"Content-Type": content_type} if content_type else {}
    with world.http(world.key()) as http:
        response = http.post("/v1/chat/completions", content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert error(response)["code"] == "unsupported_media_type"
    assert world.budgets.reservations.created == []
    assert world.backend_log.requests == []


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b"nul\x00"])
def test_malformed_json_is_400(world: World, raw: bytes) -> None:
    with world.http(world.key()) as http:
        response = http.post(
            "/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert error(response)["code"] == "invalid_json"


# -- OpenAPI -----------------------------------------------------------------------------------
def test_openapi_describes_the_completion_body_the_route_validates(world: World) -> None:
    with world.http() as http:
        spec = http.get("/openapi.json").json()
    operation = spec["paths"]["/v1/chat/completions"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["model", "messages"]
    assert schema["additionalProperties"] is True  # fields it does not read pass through
    assert schema["properties"]["messages"]["items"]["required"] == ["role"]
    assert schema["properties"]["stream"]["type"] == "boolean"
    responses = operation["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    for status in ("400", "401", "402", "403", "404", "413", "415", "429", "502", "503", "504"):
        envelope = responses[status]["content"]["application/json"]["schema"]
        assert envelope == {"$ref": "#/components/schemas/ErrorEnvelope"}, status
