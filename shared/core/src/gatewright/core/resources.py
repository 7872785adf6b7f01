"""Request machinery shared by every client package: build a `Call` once, send it sync or async.

Each client resource has a `_*Requests` builder whose static methods return a `Call` (method,
path, response type, body, query, headers, request ID) and do no I/O. The resource classes,
`Foo(SyncResource)` and `AsyncFoo(AsyncResource)`, only hand that call to their client with
`_send`, so the sync and the async API can never diverge: a change to a path or a body is made
once, in the builder. Bodies are plain dicts built with `json_body` (optional fields left out);
IDs go into paths through `path_segment`, so a caller's value is always exactly one segment.

A resource that needs the raw response (streams, response headers) may override `_send` or call
`self._client.send` itself; the `Call` is still what describes the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

from gatewright.core.client import AsyncAPIClient, SyncAPIClient

T = TypeVar("T")


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, fully built: what both the sync and the async client send.

    `cast_to` is the response model (`None` for no body). `params` entries that are `None`
    are dropped by the client; `headers` are added to the client's own.
    """

    method: str
    path: str
    cast_to: type[T] | None
    json: dict[str, Any] | None = None
    # Raw bytes sent as they are (a body that is signed, such as a webhook's), instead of json.
    content: bytes | None = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    request_id: str | None = None


def path_segment(value: str) -> str:
    """An ID as one path segment (never lets a caller's value add path segments)."""
    return quote(value, safe="")


def json_body(**fields: Any) -> dict[str, Any]:
    """A JSON body (or query) without the optional fields the caller left out (`None`).

    Datetimes become ISO 8601 strings; every other value is kept as given, in argument order.
    """
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class SyncResource:
    """Base of a synchronous resource: holds the client and sends a `Call` through it."""

    def __init__(self, client: SyncAPIClient) -> None:
        self._client = client

    def _send(self, call: Call[T]) -> T:
        result = self._client.request(
            call.method,
            call.path,
            cast_to=call.cast_to,
            json=call.json,
            content=call.content,
            params=call.params,
            headers=call.headers,
            request_id=call.request_id,
        )
        return cast(T, result)


class AsyncResource:
    """Base of an asynchronous resource: the same as `SyncResource`, awaited."""

    def __init__(self, client: AsyncAPIClient) -> None:
        self._client = client

    async def _send(self, call: Call[T]) -> T:
        result = await self._client.request(
            call.method,
            call.path,
            cast_to=call.cast_to,
            json=call.json,
            content=call.content,
            params=call.params,
            headers=call.headers,
            request_id=call.request_id,
        )
        return cast(T, result)
