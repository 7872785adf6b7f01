"""The client base: headers, request IDs, parsing, and the one retry policy, on both clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from gatewright.core import APIModel, AsyncAPIClient, RetryPolicy, SyncAPIClient, errors
from gatewright.core.client import parse_retry_after

BASE = "http://svc.test"
NO_WAIT = RetryPolicy(max_retries=2, initial_delay=0.0, max_delay=0.0)


class Thing(APIModel):
    id: str


Call = Callable[..., Awaitable[Any]]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Call:
    """Run one request through the sync or the async client; the same case covers both."""
    kind = request.param

    async def run(method: str, path: str, **kwargs: Any) -> Any:
        client_kwargs = kwargs.pop("client_kwargs", {})
        client_kwargs.setdefault("retry", NO_WAIT)
        if kind == "sync":
            with SyncAPIClient(BASE, **client_kwargs) as c:
                return c.request(method, path, **kwargs)
        async with AsyncAPIClient(BASE, **client_kwargs) as ac:
            return await ac.request(method, path, **kwargs)

    return run


@respx.mock
async def test_parses_model_and_keeps_request_id(call: Call) -> None:
    route = respx.get(f"{BASE}/v1/things/1").mock(
        return_value=httpx.Response(
            200, json={"id": "t1", "extra": 1}, headers={"X-Request-ID": "req_a"}
        )
    )
    thing = await call("GET", "/v1/things/1", cast_to=Thing, client_kwargs={"token": "tok"})
    assert thing.id == "t1"
    assert thing.request_id == "req_a"
    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok"
    assert sent.headers["X-Request-ID"]


@respx.mock
async def test_request_id_factory_and_explicit_id(call: Call) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(204))
    await call("GET", "/x", client_kwargs={"request_id_factory": lambda: "run1-gw0-abc-1"})
    assert route.calls.last.request.headers["X-Request-ID"] == "run1-gw0-abc-1"
    await call("GET", "/x", request_id="mine")
    assert route.calls.last.request.headers["X-Request-ID"] == "mine"


@respx.mock
async def test_retries_keep_request_id_and_idempotency_key(call: Call) -> None:
    route = respx.post(f"{BASE}/x").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(503),
            httpx.Response(200, json={"id": "ok"}),
        ]
    )
    thing = await call("POST", "/x", json={}, cast_to=Thing)
    assert thing.id == "ok"
    assert route.call_count == 3
    ids = {c.request.headers["X-Request-ID"] for c in route.calls}
    keys = {c.request.headers["Idempotency-Key"] for c in route.calls}
    assert len(ids) == 1
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (402, False),
        (400, False),
        (409, False),
        (404, False),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
@respx.mock
async def test_which_statuses_are_retried(call: Call, status: int, retried: bool) -> None:
    route = respx.get(f"{BASE}/x").mock(return_value=httpx.Response(status, json={}))
    with pytest.raises(errors.APIStatusError) as info:
        await call("GET", "/x")
    assert info.value.status_code == status
    assert route.call_count == (3 if retried else 1)


@respx.mock
async def test_retry_after_beyond_cap_gives_up_at_once(call: Call) -> None:
    route = respx.get(f"{BASE}/x").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "3600"})
    )
    with pytest.raises(errors.RateLimited):
        await call("GET", "/x")
    assert route.call_count == 1


@respx.mock
async def test_connection_errors_retry_then_raise(call: Call) -> None:
    route = respx.get(f"{BASE}/x").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(errors.APIConnectionError):
        await call("GET", "/x")
    assert route.call_count == 3


@respx.mock
async def test_timeouts_raise_timeout_error(call: Call) -> None:
    respx.get(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.APITimeoutError):
        await call("GET", "/x", client_kwargs={"retry": RetryPolicy(max_retries=0)})


@respx.mock
def test_event_hooks_see_every_attempt_sync() -> None:
    respx.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503), httpx.Response(204)])
    seen: list[int] = []
    hooks = {"response": [lambda r: seen.append(r.status_code)]}
    with SyncAPIClient(BASE, retry=NO_WAIT, event_hooks=hooks) as c:
        c.request("GET", "/x")
    assert seen == [503, 204]


@respx.mock
async def test_event_hooks_see_every_attempt_async() -> None:
    respx.get(f"{BASE}/x").mock(side_effect=[httpx.Response(503), httpx.Response(204)])
    seen: list[int] = []

    async def on_response(response: httpx.Response) -> None:
        seen.append(response.status_code)

    async with AsyncAPIClient(BASE, retry=NO_WAIT, event_hooks={"response": [on_response]}) as c:
        await c.request("GET", "/x")
    assert seen == [503, 204]


def test_with_options_shares_pool_and_changes_token() -> None:
    with SyncAPIClient(BASE, token="a") as c:
        d = c.with_options(token="b")
        assert d._http is c._http
        assert (c.token, d.token) == ("a", "b")
        assert c.with_options(token=None).token is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("2", 2.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.1, max_delay=1.0)
    delays = [policy.delay(n, None) for n in range(1, 8)]
    assert all(d is not None for d in delays)
    assert delays[0] is not None
    assert delays[0] <= 0.125
    assert all(d is not None and d <= 1.25 for d in delays)
    assert policy.delay(11, None) is None
