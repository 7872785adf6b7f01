"""Gateway clients: `Client` (sync) and `AsyncClient` over one request builder per resource.

Each resource has a `_*Requests` builder whose methods return a `Call` (method, path, body,
response type). `Foo` and `AsyncFoo` only hand that call to their client, so sync and async never
diverge. The token is an API key (`gwk_...`) for completions and models, or a user access token /
the service token for routes. Errors are core's exception tree (`gatewright.core.errors`).

Streams are not retried (a retried stream could bill twice); plain completions follow core's
retry policy, which never retries 402.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from gatewright.core import (
    AsyncAPIClient,
    AsyncOrgDataResource,
    AsyncResource,
    AsyncStream,
    Call,
    OrgDataResource,
    Stream,
    SyncAPIClient,
    SyncResource,
    path_segment,
)
from gatewright.gateway.models import (
    Backend,
    ChatCompletion,
    ChatCompletionChunk,
    ModelList,
    Route,
    RouteList,
    Usage,
)

BACKEND_HEADER = "X-Gatewright-Backend"
BACKEND_MODEL_HEADER = "X-Gatewright-Backend-Model"
ATTEMPTS_HEADER = "X-Gatewright-Attempts"


def _route_path(alias: str, org_id: str | None) -> str:
    if org_id is None:
        return f"/v1/routes/{path_segment(alias)}"
    return f"/v1/orgs/{path_segment(org_id)}/routes/{path_segment(alias)}"


def _completion_body(
    model: str, messages: Sequence[Any], max_tokens: int | None, extra: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": list(messages), **extra}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


def _served(completion: ChatCompletion, response: httpx.Response) -> ChatCompletion:
    completion._served_by = response.headers.get(BACKEND_HEADER, "")
    completion._served_model = response.headers.get(BACKEND_MODEL_HEADER, "")
    attempts = response.headers.get(ATTEMPTS_HEADER, "")
    completion._attempts = int(attempts) if attempts.isdigit() else 0
    return completion


# -- request builders (no I/O) ----------------------------------------------------------------
class _CompletionsRequests:
    @staticmethod
    def create(body: dict[str, Any]) -> Call[ChatCompletion]:
        return Call("POST", "/v1/chat/completions", ChatCompletion, body)


class _ModelsRequests:
    @staticmethod
    def list() -> Call[ModelList]:
        return Call("GET", "/v1/models", ModelList)


class _RoutesRequests:
    @staticmethod
    def put(
        alias: str,
        *,
        backends: Sequence[Backend | dict[str, Any]],
        input_micro_usd_per_mtok: int,
        output_micro_usd_per_mtok: int,
        max_output_tokens: int | None,
        org_id: str | None,
    ) -> Call[Route]:
        body: dict[str, Any] = {
            "backends": [
                b.model_dump(mode="json") if isinstance(b, Backend) else dict(b) for b in backends
            ],
            "input_micro_usd_per_mtok": input_micro_usd_per_mtok,
            "output_micro_usd_per_mtok": output_micro_usd_per_mtok,
        }
        # Left out when not given: the gateway applies its documented default, so a client
        # never restates it.
        if max_output_tokens is not None:
            body["max_output_tokens"] = max_output_tokens
        return Call("PUT", _route_path(alias, org_id), Route, body)

    @staticmethod
    def get(alias: str, org_id: str | None) -> Call[Route]:
        return Call("GET", _route_path(alias, org_id), Route)

    @staticmethod
    def list(org_id: str) -> Call[RouteList]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/routes", RouteList)

    @staticmethod
    def delete(alias: str, org_id: str | None) -> Call[None]:
        return Call("DELETE", _route_path(alias, org_id), None)


# -- streams ---------------------------------------------------------------------------------
class _ServedStream:
    """What the gateway's stream headers say, and the usage once its chunk arrived."""

    response: httpx.Response
    usage: Usage | None

    def _served(self) -> None:
        headers = self.response.headers
        self.served_by = headers.get(BACKEND_HEADER, "")
        self.served_model = headers.get(BACKEND_MODEL_HEADER, "")
        attempts = headers.get(ATTEMPTS_HEADER, "")
        self.attempts = int(attempts) if attempts.isdigit() else 0
        self.usage = None

    def _noted(self, chunk: ChatCompletionChunk) -> ChatCompletionChunk:
        if chunk.usage is not None:
            self.usage = chunk.usage
        return chunk


class ChatCompletionStream(_ServedStream, Stream[ChatCompletionChunk]):
    """Iterate for `ChatCompletionChunk`s; `.usage` holds the final usage once it arrived. An
    error event mid-stream raises `APIStreamError`. Use as a context manager (or iterate to the
    end) so the connection is released."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response, ChatCompletionChunk)
        self._served()

    def _event(self, payload: str) -> ChatCompletionChunk:
        return self._noted(super()._event(payload))


class AsyncChatCompletionStream(_ServedStream, AsyncStream[ChatCompletionChunk]):
    """The async twin of `ChatCompletionStream`."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response, ChatCompletionChunk)
        self._served()

    def _event(self, payload: str) -> ChatCompletionChunk:
        return self._noted(super()._event(payload))


# -- senders ---------------------------------------------------------------------------------
# -- resources -------------------------------------------------------------------------------
class Completions(SyncResource):
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Any],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        """One unstreamed completion; `.served_by`, `.attempts`, `.request_id` from headers."""
        call = _CompletionsRequests.create(_completion_body(model, messages, max_tokens, extra))
        response = self._client.send(call.method, call.path, json=call.json)
        return _served(self._client.parse(response, ChatCompletion), response)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Any],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> ChatCompletionStream:
        """A streamed completion (usage included): iterate it for chunks, then read `.usage`."""
        extra = {**extra, "stream": True, "stream_options": {"include_usage": True}}
        body = _completion_body(model, messages, max_tokens, extra)
        response = self._client.open_stream("POST", "/v1/chat/completions", json=body)
        return ChatCompletionStream(response)


class AsyncCompletions(AsyncResource):
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Any],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        call = _CompletionsRequests.create(_completion_body(model, messages, max_tokens, extra))
        response = await self._client.send(call.method, call.path, json=call.json)
        return _served(self._client.parse(response, ChatCompletion), response)

    async def stream(
        self,
        *,
        model: str,
        messages: Sequence[Any],
        max_tokens: int | None = None,
        **extra: Any,
    ) -> AsyncChatCompletionStream:
        extra = {**extra, "stream": True, "stream_options": {"include_usage": True}}
        body = _completion_body(model, messages, max_tokens, extra)
        response = await self._client.open_stream("POST", "/v1/chat/completions", json=body)
        return AsyncChatCompletionStream(response)


class Chat:
    def __init__(self, client: SyncAPIClient) -> None:
        self.completions = Completions(client)


class AsyncChat:
    def __init__(self, client: AsyncAPIClient) -> None:
        self.completions = AsyncCompletions(client)


class Models(SyncResource):
    def list(self) -> ModelList:
        """The model aliases this API key may use."""
        return self._send(_ModelsRequests.list())


class AsyncModels(AsyncResource):
    async def list(self) -> ModelList:
        return await self._send(_ModelsRequests.list())


class Routes(SyncResource):
    """The route table: org routes (`org_id=`) or global ones (service token only).

    `max_output_tokens` (optional) is the route's largest `max_tokens`, sent upstream when a
    request sets none (default `DEFAULT_MAX_OUTPUT_TOKENS`)."""

    def put(
        self,
        alias: str,
        *,
        backends: Sequence[Backend | dict[str, Any]],
        input_micro_usd_per_mtok: int,
        output_micro_usd_per_mtok: int,
        max_output_tokens: int | None = None,
        org_id: str | None = None,
    ) -> Route:
        return self._send(
            _RoutesRequests.put(
                alias,
                backends=backends,
                input_micro_usd_per_mtok=input_micro_usd_per_mtok,
                output_micro_usd_per_mtok=output_micro_usd_per_mtok,
                max_output_tokens=max_output_tokens,
                org_id=org_id,
            )
        )

    def get(self, alias: str, org_id: str | None = None) -> Route:
        return self._send(_RoutesRequests.get(alias, org_id))

    def list(self, org_id: str) -> RouteList:
        return self._send(_RoutesRequests.list(org_id))

    def delete(self, alias: str, org_id: str | None = None) -> None:
        self._send(_RoutesRequests.delete(alias, org_id))


class AsyncRoutes(AsyncResource):
    async def put(
        self,
        alias: str,
        *,
        backends: Sequence[Backend | dict[str, Any]],
        input_micro_usd_per_mtok: int,
        output_micro_usd_per_mtok: int,
        max_output_tokens: int | None = None,
        org_id: str | None = None,
    ) -> Route:
        return await self._send(
            _RoutesRequests.put(
                alias,
                backends=backends,
                input_micro_usd_per_mtok=input_micro_usd_per_mtok,
                output_micro_usd_per_mtok=output_micro_usd_per_mtok,
                max_output_tokens=max_output_tokens,
                org_id=org_id,
            )
        )

    async def get(self, alias: str, org_id: str | None = None) -> Route:
        return await self._send(_RoutesRequests.get(alias, org_id))

    async def list(self, org_id: str) -> RouteList:
        return await self._send(_RoutesRequests.list(org_id))

    async def delete(self, alias: str, org_id: str | None = None) -> None:
        await self._send(_RoutesRequests.delete(alias, org_id))


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous gateway client: `chat.completions`, `models`, `routes`.

    `Client(base_url, token=None, **core options)`; `token` is an API key for completions and
    models, or an access token / the service token for routes.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.chat = Chat(self)
        self.models = Models(self)
        self.routes = Routes(self)
        # The orgs the gateway keeps routes for, and their purge (service token; decision 16).
        self.orgs = OrgDataResource(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous gateway client; the same resources as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)
        self.routes = AsyncRoutes(self)
        self.orgs = AsyncOrgDataResource(self)
