"""The shared request machinery: a `Call` is built once and sent the same way, sync or async."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx

from gatewright.core import (
    APIModel,
    AsyncAPIClient,
    AsyncResource,
    Call,
    RetryPolicy,
    SyncAPIClient,
    SyncResource,
    json_body,
    path_segment,
)

BASE = "http://svc.test"
NO_WAIT = RetryPolicy(max_retries=0, initial_delay=0.0, max_delay=0.0)


class Thing(APIModel):
    id: str


class _ThingsRequests:
    @staticmethod
    def update(thing_id: str, *, name: str | None) -> Call[Thing]:
        return Call(
            "PATCH",
            f"/v1/things/{path_segment(thing_id)}",
            Thing,
            json_body(name=name),
            params={"dry_run": None, "v": 2},
            headers={"X-Extra": "1"},
            request_id="req_fixed",
        )


class Things(SyncResource):
    def update(self, thing_id: str, *, name: str | None = None) -> Thing:
        return self._send(_ThingsRequests.update(thing_id, name=name))


class AsyncThings(AsyncResource):
    async def update(self, thing_id: str, *, name: str | None = None) -> Thing:
        return await self._send(_ThingsRequests.update(thing_id, name=name))


def test_path_segment_is_one_segment() -> None:
    assert path_segment("abc") == "abc"
    assert path_segment("a/b?c#d") == "a%2Fb%3Fc%23d"
    assert path_segment("..") == ".."
    assert path_segment("a b") == "a%20b"


def test_json_body_drops_none_and_formats_datetimes() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = json_body(a=1, b=None, c=when, d=False, e=0, f="")
    assert body == {"a": 1, "c": "2026-01-02T03:04:05+00:00", "d": False, "e": 0, "f": ""}
    assert list(body) == ["a", "c", "d", "e", "f"]
    assert json_body() == {}


def test_call_defaults_and_is_frozen() -> None:
    call: Call[None] = Call("DELETE", "/v1/x", None)
    assert (call.json, call.params, call.headers, call.request_id) == (None, None, None, None)
    with pytest.raises(AttributeError):
        call.method = "GET"  # type: ignore[misc]


def _check(route: respx.Route) -> None:
    sent = route.calls.last.request
    assert sent.method == "PATCH"
    assert sent.url.raw_path == b"/v1/things/a%2Fb?v=2"
    assert json.loads(sent.content) == {"name": "n"}
    assert sent.headers["X-Extra"] == "1"
    assert sent.headers["X-Request-ID"] == "req_fixed"


@respx.mock
def test_sync_resource_sends_the_call() -> None:
    route = respx.patch(url__startswith=f"{BASE}/v1/things/").mock(
        return_value=httpx.Response(200, json={"id": "t1"})
    )
    with SyncAPIClient(BASE, retry=NO_WAIT) as client:
        thing = Things(client).update("a/b", name="n")
    assert thing == Thing(id="t1")
    _check(route)


@respx.mock
async def test_async_resource_sends_the_same_call() -> None:
    route = respx.patch(url__startswith=f"{BASE}/v1/things/").mock(
        return_value=httpx.Response(200, json={"id": "t1"})
    )
    async with AsyncAPIClient(BASE, retry=NO_WAIT) as client:
        thing = await AsyncThings(client).update("a/b", name="n")
    assert thing == Thing(id="t1")
    _check(route)


@respx.mock
def test_no_body_call_returns_none() -> None:
    respx.delete(f"{BASE}/v1/x").mock(return_value=httpx.Response(204))
    with SyncAPIClient(BASE, retry=NO_WAIT) as client:
        assert SyncResource(client)._send(Call("DELETE", "/v1/x", None)) is None


RAW = b'{"b":1,  "a":"\xe2\x99\xa5"}\n'  # spacing, order and UTF-8 as given: what was signed


@respx.mock
async def test_content_is_sent_byte_for_byte_by_both_clients() -> None:
    route = respx.post(f"{BASE}/v1/raw").mock(return_value=httpx.Response(204))
    call: Call[None] = Call(
        "POST", "/v1/raw", None, content=RAW, headers={"Content-Type": "application/json"}
    )
    with SyncAPIClient(BASE, retry=NO_WAIT) as client:
        SyncResource(client)._send(call)
    async with AsyncAPIClient(BASE, retry=NO_WAIT) as async_client:
        await AsyncResource(async_client)._send(call)
    assert [c.request.content for c in route.calls] == [RAW, RAW]
    assert {c.request.headers["Content-Type"] for c in route.calls} == {"application/json"}
