"""modelsim clients: `Client` (sync) and `AsyncClient` over one request builder per resource.

Each resource has a `_*Requests` builder whose methods return a `Call` (method, path, body,
query, response type). `Foo` and `AsyncFoo` only hand that call to their client, so sync and
async can never diverge. Errors are core's exception tree (`gatewright.core.errors`): a
`sim-fail-503` answer is `ServiceUnavailable`, `sim-fail-500` is `InternalServerError`, an
unknown model is `NotFound`. A 200 whose body is not JSON (`sim-bad-json`) raises `ValueError`.

Streaming (`chat.completions.stream`) parses server-sent events into `ChatCompletionChunk`s and
stops at `data: [DONE]`. The request is sent when iteration starts, and it is not retried (a
stream that has started cannot be replayed); `create` uses core's retry policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx

from gatewright.core import (
    AsyncAPIClient,
    AsyncResource,
    AsyncStream,
    Call,
    Stream,
    SyncAPIClient,
    SyncResource,
)
from gatewright.modelsim.models import (
    ChatCompletion,
    ChatCompletionChunk,
    ModelList,
    ObservationList,
)

Messages = Sequence[Mapping[str, Any]]


# -- request builders (no I/O) ----------------------------------------------------------------
class _CompletionsRequests:
    @staticmethod
    def create(
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None,
        extra: dict[str, Any],
        request_id: str | None,
    ) -> Call[ChatCompletion]:
        body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages]}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        body.update(extra)
        return Call("POST", "/v1/chat/completions", ChatCompletion, body, request_id=request_id)

    @staticmethod
    def stream(
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None,
        extra: dict[str, Any],
        request_id: str | None,
    ) -> Call[ChatCompletionChunk]:
        """Like `create` with `stream: true`; asks for the usage chunk unless told otherwise."""
        extra = {"stream_options": {"include_usage": True}} | extra | {"stream": True}
        call = _CompletionsRequests.create(
            model=model, messages=messages, max_tokens=max_tokens, extra=extra, request_id=None
        )
        return Call(call.method, call.path, ChatCompletionChunk, call.json, request_id=request_id)


class _ModelsRequests:
    @staticmethod
    def list() -> Call[ModelList]:
        return Call("GET", "/v1/models", ModelList)


class _ObservationsRequests:
    @staticmethod
    def list(
        *, request_id: str | None, model: str | None, limit: int | None
    ) -> Call[ObservationList]:
        params = {"request_id": request_id, "model": model, "limit": limit}
        return Call("GET", "/v1/observations", ObservationList, params=params)

    @staticmethod
    def clear() -> Call[None]:
        return Call("DELETE", "/v1/observations", None)


# -- resources -------------------------------------------------------------------------------
class Completions(SyncResource):
    def _stream(self, call: Call[ChatCompletionChunk]) -> Iterator[ChatCompletionChunk]:
        # A generator: the request goes out when iteration starts.
        response = self._client.open_stream(
            call.method, call.path, json=call.json, request_id=call.request_id
        )
        yield from Stream(response, ChatCompletionChunk)

    def create(
        self,
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None = None,
        request_id: str | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        """`POST /v1/chat/completions`; `extra` fields go into the body as they are.

        `request_id` sets `X-Request-ID` (else the client's factory makes one), which is what
        `observations.list(request_id=...)` filters on.
        """
        call = _CompletionsRequests.create(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            extra=extra,
            request_id=request_id,
        )
        return self._send(call)

    def stream(
        self,
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None = None,
        request_id: str | None = None,
        **extra: Any,
    ) -> Iterator[ChatCompletionChunk]:
        """The same request with `stream: true` (and `stream_options.include_usage: true` unless
        `extra` says otherwise): an iterator of chunks, ending before `data: [DONE]`."""
        call = _CompletionsRequests.stream(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            extra=extra,
            request_id=request_id,
        )
        return self._stream(call)


class AsyncCompletions(AsyncResource):
    async def _stream(self, call: Call[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        response = await self._client.open_stream(
            call.method, call.path, json=call.json, request_id=call.request_id
        )
        async for chunk in AsyncStream(response, ChatCompletionChunk):
            yield chunk

    async def create(
        self,
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None = None,
        request_id: str | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        """`POST /v1/chat/completions`; `extra` fields go into the body as they are."""
        call = _CompletionsRequests.create(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            extra=extra,
            request_id=request_id,
        )
        return await self._send(call)

    def stream(
        self,
        *,
        model: str,
        messages: Messages,
        max_tokens: int | None = None,
        request_id: str | None = None,
        **extra: Any,
    ) -> AsyncIterator[ChatCompletionChunk]:
        """An async iterator of chunks (`async for chunk in ...stream(...)`), no await needed."""
        call = _CompletionsRequests.stream(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            extra=extra,
            request_id=request_id,
        )
        return self._stream(call)


class Chat:
    def __init__(self, client: SyncAPIClient) -> None:
        self.completions = Completions(client)


class AsyncChat:
    def __init__(self, client: AsyncAPIClient) -> None:
        self.completions = AsyncCompletions(client)


class Models(SyncResource):
    def list(self) -> ModelList:
        """`GET /v1/models`: the fixed behaviours modelsim offers."""
        return self._send(_ModelsRequests.list())


class AsyncModels(AsyncResource):
    async def list(self) -> ModelList:
        """`GET /v1/models`: the fixed behaviours modelsim offers."""
        return await self._send(_ModelsRequests.list())


class Observations(SyncResource):
    def list(
        self, *, request_id: str | None = None, model: str | None = None, limit: int | None = None
    ) -> ObservationList:
        """The most recent matching requests (oldest first), `limit` 1..1000 (default 100)."""
        return self._send(
            _ObservationsRequests.list(request_id=request_id, model=model, limit=limit)
        )

    def clear(self) -> None:
        """Forget every observation (tests only: it affects everyone using this modelsim)."""
        self._send(_ObservationsRequests.clear())


class AsyncObservations(AsyncResource):
    async def list(
        self, *, request_id: str | None = None, model: str | None = None, limit: int | None = None
    ) -> ObservationList:
        """The most recent matching requests (oldest first), `limit` 1..1000 (default 100)."""
        return await self._send(
            _ObservationsRequests.list(request_id=request_id, model=model, limit=limit)
        )

    async def clear(self) -> None:
        """Forget every observation (tests only: it affects everyone using this modelsim)."""
        await self._send(_ObservationsRequests.clear())


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous modelsim client.

    `Client(base_url, token=None, **core options)`. modelsim needs no token; one given is sent
    as `Authorization: Bearer ...` (modelsim redacts it in observations), as a gateway would.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.chat = Chat(self)
        self.models = Models(self)
        self.observations = Observations(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous modelsim client; the same resources as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)
        self.observations = AsyncObservations(self)
