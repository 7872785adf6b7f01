"""Server-sent events: one decoder and one typed stream for every client, sync and async."""

from __future__ import annotations

import httpx
import pytest

from gatewright.core import (
    APIConnectionError,
    APIStreamError,
    AsyncAPIClient,
    AsyncStream,
    NotFound,
    SSEDecoder,
    Stream,
    SyncAPIClient,
)
from gatewright.core.chat import ChatCompletionChunk

CHUNK = '{"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]}'
ERROR = '{"error": {"code": "backend_stream_failed", "message": "broke", "request_id": "r-9"}}'


def _sse(*payloads: str, done: bool = True) -> bytes:
    events = [f"data: {p}\n\n" for p in payloads] + (["data: [DONE]\n\n"] if done else [])
    return "".join(events).encode()


def _transport(body: bytes, status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream"
        headers = {"content-type": "text/event-stream", "x-request-id": "r-1"}
        if status != 200:
            body_ = b'{"error": {"code": "not_found", "message": "no", "request_id": "r-1"}}'
            return httpx.Response(status, content=body_, headers={"x-request-id": "r-1"})
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handler)


def test_the_decoder_joins_data_lines_and_skips_comments() -> None:
    d = SSEDecoder()
    assert [d.feed(x) for x in (": keep-alive", "data: a", "data: b", "event: x", "")] == [
        None,
        None,
        None,
        None,
        "a\nb",
    ]
    assert d.feed("data: tail") is None
    assert d.flush() == "tail"


def test_a_stream_yields_typed_events_until_done_with_the_request_id() -> None:
    with SyncAPIClient("http://svc", transport=_transport(_sse(CHUNK, CHUNK))) as client:
        response = client.open_stream("POST", "/v1/chat/completions", json={})
        chunks = list(Stream(response, ChatCompletionChunk))
    assert [c.choices[0].delta.content for c in chunks] == ["hi", "hi"]
    assert {c.request_id for c in chunks} == {"r-1"}
    assert response.is_closed


def test_a_stream_without_done_still_yields_its_last_event() -> None:
    with SyncAPIClient("http://svc", transport=_transport(b"data: " + CHUNK.encode())) as c:
        assert len(list(Stream(c.open_stream("POST", "/x"), ChatCompletionChunk))) == 1


def test_an_error_event_mid_stream_is_an_api_stream_error() -> None:
    with SyncAPIClient("http://svc", transport=_transport(_sse(CHUNK, ERROR))) as client:
        stream = Stream(client.open_stream("POST", "/x"), ChatCompletionChunk)
        events = iter(stream)
        first = next(events)
        with pytest.raises(APIStreamError) as info:
            next(events)
    assert first.choices[0].delta.content == "hi"
    assert (info.value.code, info.value.request_id) == ("backend_stream_failed", "r-9")
    assert stream.response.is_closed


def test_a_refused_stream_raises_its_status_class_before_any_event() -> None:
    client = SyncAPIClient("http://svc", transport=_transport(b"", 404))
    with client, pytest.raises(NotFound):
        client.open_stream("POST", "/x")


def test_no_answer_is_a_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = SyncAPIClient("http://svc", transport=httpx.MockTransport(refuse))
    with client, pytest.raises(APIConnectionError):
        client.open_stream("POST", "/x")


async def test_the_async_stream_is_the_same() -> None:
    transport = _transport(_sse(CHUNK, ERROR))
    async with AsyncAPIClient("http://svc", transport=transport) as client:
        response = await client.open_stream("POST", "/x")
        events = AsyncStream(response, ChatCompletionChunk).__aiter__()
        first = await anext(events)
        with pytest.raises(APIStreamError):
            await anext(events)
    assert first.choices[0].delta.content == "hi"
    assert response.is_closed
