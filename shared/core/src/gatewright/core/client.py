"""Sync and async client bases over one shared request builder.

`BaseClient` does every piece of non-I/O work (URL, headers, request ID, idempotency key, retry
decisions, response parsing); `SyncAPIClient` and `AsyncAPIClient` only send and sleep. Service
client packages subclass these and add typed methods.

Retry policy (one, documented here): retry connection errors and statuses 408/429/5xx up to
`max_retries` times; honour `Retry-After` (seconds or HTTP date) up to `max_retry_after`, else
exponential backoff with jitter; never retry 402 (a budget denial is an answer, not a fault).
One logical call keeps one `X-Request-ID` and, for POST, one `Idempotency-Key` across its retries.

Every httpx client these bases build verifies TLS with one SSL context per process
(`shared_ssl_context`): building one loads the CA bundle, about 16 ms of CPU, which a program
that makes a client per task (a test harness makes hundreds) would otherwise pay each time.
"""

from __future__ import annotations

import email.utils
import functools
import random
import secrets
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx
from pydantic import TypeAdapter

from gatewright.core._constants import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    IDEMPOTENCY_KEY_HEADER,
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    REQUEST_ID_HEADER,
    RETRYABLE_STATUSES,
)
from gatewright.core.errors import APIConnectionError, connection_error, make_status_error
from gatewright.core.models import APIModel

T = TypeVar("T")

EventHook = Callable[..., Any]


class NotGiven:
    """Sentinel for "use the client's default", distinct from an explicit `None`."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


def new_request_id() -> str:
    """A fresh opaque request ID; the harness swaps this for a greppable one."""
    return f"req_{secrets.token_hex(12)}"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_RETRY_DELAY
    max_delay: float = MAX_RETRY_DELAY
    max_retry_after: float = MAX_RETRY_AFTER
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None to stop now."""
        if attempt > self.max_retries:
            return None
        if response is not None:
            if response.status_code not in self.retry_statuses:
                return None
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return retry_after if retry_after <= self.max_retry_after else None
        backoff: float = min(self.max_delay, self.initial_delay * 2.0 ** (attempt - 1))
        return backoff * (0.75 + random.random() * 0.5)


class BaseClient:
    """Configuration and every non-I/O step of a call."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        token: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        request_id_factory: Callable[[], str] = new_request_id,
        event_hooks: Mapping[str, list[EventHook]] | None = None,
    ) -> None:
        self.base_url = httpx.URL(str(base_url).rstrip("/") + "/")
        self.token = token
        self.timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT))
        )
        self.retry = retry or RetryPolicy()
        self.default_headers = dict(headers or {})
        self.request_id_factory = request_id_factory
        self.event_hooks = {k: list(v) for k, v in (event_hooks or {}).items()}

    # -- request building -------------------------------------------------------------------
    def _headers(
        self, *, method: str, request_id: str | None, extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.default_headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers[REQUEST_ID_HEADER] = request_id or self.request_id_factory()
        if method == "POST":
            headers[IDEMPOTENCY_KEY_HEADER] = f"idem_{secrets.token_hex(12)}"
        headers.update(extra or {})
        return headers

    def _url(self, path: str) -> httpx.URL:
        return self.base_url.join(path.lstrip("/"))

    # -- response handling ------------------------------------------------------------------
    @staticmethod
    def parse(response: httpx.Response, cast_to: Any) -> Any:
        """A successful response's body as `cast_to`, carrying the response's request ID."""
        if cast_to is None:
            return None
        if response.status_code == 204 or not response.content:
            data: Any = None
        else:
            data = response.json()
        value = TypeAdapter(cast_to).validate_python(data)
        if isinstance(value, APIModel):
            value._request_id = response.headers.get(REQUEST_ID_HEADER, "")
        return value

    @staticmethod
    def _connection_error(exc: httpx.TransportError) -> APIConnectionError:
        return connection_error(exc)

    def _copy_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "token": self.token,
            "timeout": self.timeout,
            "retry": self.retry,
            "headers": self.default_headers,
            "request_id_factory": self.request_id_factory,
            "event_hooks": self.event_hooks,
        }


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (its CA bundle, `SSL_CERT_FILE`/`SSL_CERT_DIR` when
    set), built once per process and shared by every client: an `SSLContext` is safe to share
    between connections and threads. Pass it as `verify=` to an httpx client of your own."""
    return httpx.create_ssl_context()


class SyncAPIClient(BaseClient):
    """Sends with an `httpx.Client`; typed service clients subclass it."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=self.timeout,
            transport=transport,
            event_hooks=self.event_hooks,
            verify=shared_ssl_context(),
        )

    def with_options(self, *, token: str | NotGiven | None = NOT_GIVEN, **changes: Any) -> Self:
        """A client like this one (sharing its connection pool) with some settings changed."""
        kwargs = self._copy_kwargs() | changes
        if not isinstance(token, NotGiven):
            kwargs["token"] = token
        clone = type(self)(http_client=self._http, **kwargs)
        clone._owns_http = False
        return clone

    def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: Any = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Any:
        response = self.send(
            method,
            path,
            json=json,
            content=content,
            params=params,
            headers=headers,
            request_id=request_id,
        )
        return self.parse(response, cast_to)

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """Send with retries; return the successful response or raise the mapped error.

        `content` is sent byte for byte instead of `json` (a body that is signed)."""
        all_headers = self._headers(method=method, request_id=request_id, extra=headers)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(
                    method,
                    self._url(path),
                    json=json,
                    content=content,
                    params=params,
                    headers=all_headers,
                )
            except httpx.TransportError as exc:
                wait = self.retry.delay(attempt, None)
                if wait is None:
                    raise self._connection_error(exc) from exc
                time.sleep(wait)  # retry backoff, not synchronization
                continue
            if response.is_success:
                return response
            wait = self.retry.delay(attempt, response)
            if wait is None:
                raise make_status_error(response)
            time.sleep(wait)  # retry backoff, not synchronization

    def open_stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """Send once (a stream is never retried) and return the open response of a 2xx, for a
        `streaming.Stream` to read; any other answer raises its class of the error tree."""
        headers = self._headers(
            method=method, request_id=request_id, extra={"Accept": "text/event-stream"}
        )
        try:
            request = self._http.build_request(method, self._url(path), json=json, headers=headers)
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        if not response.is_success:
            response.read()
            response.close()
            raise make_status_error(response)
        return response

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAPIClient(BaseClient):
    """Sends with an `httpx.AsyncClient`; typed service clients subclass it."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=self.timeout,
            transport=transport,
            event_hooks=self.event_hooks,
            verify=shared_ssl_context(),
        )

    def with_options(self, *, token: str | NotGiven | None = NOT_GIVEN, **changes: Any) -> Self:
        """A client like this one (sharing its connection pool) with some settings changed."""
        kwargs = self._copy_kwargs() | changes
        if not isinstance(token, NotGiven):
            kwargs["token"] = token
        clone = type(self)(http_client=self._http, **kwargs)
        clone._owns_http = False
        return clone

    async def request(
        self,
        method: str,
        path: str,
        *,
        cast_to: Any = None,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Any:
        response = await self.send(
            method,
            path,
            json=json,
            content=content,
            params=params,
            headers=headers,
            request_id=request_id,
        )
        return self.parse(response, cast_to)

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        import asyncio

        all_headers = self._headers(method=method, request_id=request_id, extra=headers)
        params = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    method,
                    self._url(path),
                    json=json,
                    content=content,
                    params=params,
                    headers=all_headers,
                )
            except httpx.TransportError as exc:
                wait = self.retry.delay(attempt, None)
                if wait is None:
                    raise self._connection_error(exc) from exc
                await asyncio.sleep(wait)  # retry backoff, not synchronization
                continue
            if response.is_success:
                return response
            wait = self.retry.delay(attempt, response)
            if wait is None:
                raise make_status_error(response)
            await asyncio.sleep(wait)  # retry backoff, not synchronization

    async def open_stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """The async twin of `SyncAPIClient.open_stream`."""
        headers = self._headers(
            method=method, request_id=request_id, extra={"Accept": "text/event-stream"}
        )
        try:
            request = self._http.build_request(method, self._url(path), json=json, headers=headers)
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        if not response.is_success:
            await response.aread()
            await response.aclose()
            raise make_status_error(response)
        return response

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "NOT_GIVEN",
    "AsyncAPIClient",
    "BaseClient",
    "NotGiven",
    "RetryPolicy",
    "SyncAPIClient",
    "new_request_id",
    "parse_retry_after",
]
