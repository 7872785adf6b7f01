"""Server-sent events, once for every client: the decoder and the typed `Stream`/`AsyncStream`.

A client opens a stream with `SyncAPIClient.open_stream` / `AsyncAPIClient.open_stream` (the
request is sent, a non-2xx answer raises its class of the error tree at once) and wraps the
response in `Stream(response, Model)`: iterating it yields one `Model` per `data:` event, ends at
`data: [DONE]` (or the end of the body), and releases the connection however it ends. An event
that is an error envelope (`{"error": {...}}` with no `choices`, as the gateway sends when a
backend breaks mid-stream) raises `APIStreamError` with its code, message and request ID. Streams
are never retried: a stream that has started cannot be replayed without paying twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from gatewright.core._constants import REQUEST_ID_HEADER
from gatewright.core.errors import APIStreamError, connection_error
from gatewright.core.models import APIModel

T = TypeVar("T", bound=BaseModel)

SSE_DONE = "[DONE]"


class SSEDecoder:
    """Turns lines of an event stream into the `data` payload of each event."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """The event's payload when `line` ends an event (a blank line), else None."""
        if not line:
            if not self._data:
                return None
            payload, self._data = "\n".join(self._data), []
            return payload
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> str | None:
        """A last event that the stream ended without a blank line after."""
        return self.feed("")


class _StreamBase(Generic[T]):
    def __init__(self, response: httpx.Response, cast_to: type[T]) -> None:
        self.response = response
        self.cast_to = cast_to
        self.request_id = response.headers.get(REQUEST_ID_HEADER, "")

    def _event(self, payload: str) -> T:
        """One event's payload as `T`; an error event raises `APIStreamError`."""
        if payload.startswith("{") and '"error"' in payload:
            value: Any = json.loads(payload)
            if isinstance(value, dict) and "error" in value and "choices" not in value:
                error = value["error"] if isinstance(value["error"], dict) else {}
                raise APIStreamError(
                    f"the stream failed: {error.get('code')}: {error.get('message')}",
                    code=str(error.get("code") or "stream_failed"),
                    request_id=str(error.get("request_id") or self.request_id),
                    body=value,
                )
        item = self.cast_to.model_validate_json(payload)
        if isinstance(item, APIModel):
            item._request_id = self.request_id
        return item


class Stream(_StreamBase[T]):
    """Iterate (once) for `T`s; use as a context manager, or iterate to the end, so the
    connection is released."""

    def __iter__(self) -> Iterator[T]:
        decoder = SSEDecoder()
        try:
            for line in self.response.iter_lines():
                payload = decoder.feed(line)
                if payload == SSE_DONE:
                    return
                if payload is not None:
                    yield self._event(payload)
            if (payload := decoder.flush()) not in (None, SSE_DONE):
                yield self._event(payload)
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_StreamBase[T]):
    """The async twin of `Stream`."""

    async def __aiter__(self) -> AsyncIterator[T]:
        decoder = SSEDecoder()
        try:
            async for line in self.response.aiter_lines():
                payload = decoder.feed(line)
                if payload == SSE_DONE:
                    return
                if payload is not None:
                    yield self._event(payload)
            if (payload := decoder.flush()) not in (None, SSE_DONE):
                yield self._event(payload)
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["SSE_DONE", "AsyncStream", "SSEDecoder", "Stream"]
