"""Audit clients: `Client` (sync) and `AsyncClient` over one request builder.

`_EventsRequests` builds each call as a `Call` (method, path, body, query, response type);
`Events` and `AsyncEvents` only hand it to their client, so sync and async can never diverge.
Ingest bodies are `EventIn` models, already validated when the emitter built them; the service
is still the authority and its 422 arrives as `ValidationFailed`. Errors are core's exception
tree (`gatewright.core.errors`). Ingest is idempotent on the event `id`, so the client's retries
(connection errors, 408/429/5xx) can never duplicate an event; the same id with different
content is `Conflict` (409).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import httpx

from gatewright.audit.models import (
    ChainVerification,
    Event,
    EventIn,
    EventList,
    EventPage,
    Outcome,
)
from gatewright.core import (
    REQUEST_ID_HEADER,
    AsyncAPIClient,
    AsyncResource,
    Call,
    SyncAPIClient,
    SyncResource,
    json_body,
    path_segment,
)

T = TypeVar("T")


def _wire(event: EventIn) -> dict[str, Any]:
    return event.model_dump(mode="json")


def _tag(value: T, response: httpx.Response) -> T:
    """Give an `Event` (not an `APIModel`: its `request_id` is a field) the response's ID."""
    if isinstance(value, Event):
        value._response_request_id = response.headers.get(REQUEST_ID_HEADER, "")
    return value


# -- request builder (no I/O) ----------------------------------------------------------------
class _EventsRequests:
    @staticmethod
    def ingest(event: EventIn) -> Call[Event]:
        return Call("POST", "/v1/events", Event, _wire(event))

    @staticmethod
    def ingest_batch(events: Sequence[EventIn]) -> Call[EventList]:
        body = {"events": [_wire(event) for event in events]}
        return Call("POST", "/v1/events/batch", EventList, body)

    @staticmethod
    def list(
        org_id: str,
        *,
        request_id: str | None,
        action: str | None,
        actor: str | None,
        outcome: Outcome | None,
        since: datetime | str | None,
        until: datetime | str | None,
        limit: int | None,
        cursor: str | None,
    ) -> Call[EventPage]:
        params = json_body(
            request_id=request_id,
            action=action,
            actor=actor,
            outcome=outcome,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/events", EventPage, params=params)

    @staticmethod
    def by_request_id(request_id: str | Sequence[str], *, limit: int | None) -> Call[EventList]:
        ids = [request_id] if isinstance(request_id, str) else list(request_id)
        params = json_body(request_id=ids, limit=limit)
        return Call("GET", "/v1/events", EventList, params=params)

    @staticmethod
    def verify(org_id: str) -> Call[ChainVerification]:
        return Call("GET", f"/v1/orgs/{path_segment(org_id)}/events/verify", ChainVerification)


# -- resources -------------------------------------------------------------------------------
class Events(SyncResource):
    """Ingest (service token), query and verify (audit:read in the org, or the service token)."""

    def _send(self, call: Call[T]) -> T:
        response = self._client.send(call.method, call.path, json=call.json, params=call.params)
        return _tag(cast(T, self._client.parse(response, call.cast_to)), response)

    def ingest(self, event: EventIn) -> Event:
        """Append one event to its chain (201), or return the stored one for a repeated id."""
        return self._send(_EventsRequests.ingest(event))

    def ingest_batch(self, events: Sequence[EventIn]) -> EventList:
        """Append up to 100 events in order; each is idempotent like `ingest`."""
        return self._send(_EventsRequests.ingest_batch(events))

    def list(
        self,
        org_id: str,
        *,
        request_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        outcome: Outcome | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EventPage:
        """One page of the org's events, seq ascending (`actor` matches `actor.id`)."""
        return self._send(
            _EventsRequests.list(
                org_id,
                request_id=request_id,
                action=action,
                actor=actor,
                outcome=outcome,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        )

    def iterate(self, org_id: str, **filters: Any) -> Iterator[Event]:
        """Every matching event, following `next_cursor` page by page (filters as `list`)."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.list(org_id, cursor=cursor, **filters)
            yield from page.data
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def by_request_id(
        self, request_id: str | Sequence[str], *, limit: int | None = None
    ) -> EventList:
        """Events of every chain carrying this request ID, or any of several (at most
        `MAX_REQUEST_IDS`), oldest first (service token only)."""
        return self._send(_EventsRequests.by_request_id(request_id, limit=limit))

    def verify(self, org_id: str) -> ChainVerification:
        """Re-hash the org's chain on the service and report the first broken link."""
        return self._send(_EventsRequests.verify(org_id))


class AsyncEvents(AsyncResource):
    """Ingest (service token), query and verify (audit:read in the org, or the service token)."""

    async def _send(self, call: Call[T]) -> T:
        response = await self._client.send(
            call.method, call.path, json=call.json, params=call.params
        )
        return _tag(cast(T, self._client.parse(response, call.cast_to)), response)

    async def ingest(self, event: EventIn) -> Event:
        """Append one event to its chain (201), or return the stored one for a repeated id."""
        return await self._send(_EventsRequests.ingest(event))

    async def ingest_batch(self, events: Sequence[EventIn]) -> EventList:
        """Append up to 100 events in order; each is idempotent like `ingest`."""
        return await self._send(_EventsRequests.ingest_batch(events))

    async def list(
        self,
        org_id: str,
        *,
        request_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
        outcome: Outcome | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> EventPage:
        """One page of the org's events, seq ascending (`actor` matches `actor.id`)."""
        return await self._send(
            _EventsRequests.list(
                org_id,
                request_id=request_id,
                action=action,
                actor=actor,
                outcome=outcome,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        )

    async def iterate(self, org_id: str, **filters: Any) -> AsyncIterator[Event]:
        """Every matching event, following `next_cursor` page by page (filters as `list`)."""
        cursor = filters.pop("cursor", None)
        while True:
            page = await self.list(org_id, cursor=cursor, **filters)
            for event in page.data:
                yield event
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def by_request_id(
        self, request_id: str | Sequence[str], *, limit: int | None = None
    ) -> EventList:
        """Events of every chain carrying this request ID, or any of several (at most
        `MAX_REQUEST_IDS`), oldest first (service token only)."""
        return await self._send(_EventsRequests.by_request_id(request_id, limit=limit))

    async def verify(self, org_id: str) -> ChainVerification:
        """Re-hash the org's chain on the service and report the first broken link."""
        return await self._send(_EventsRequests.verify(org_id))


# -- clients ---------------------------------------------------------------------------------
class Client(SyncAPIClient):
    """Synchronous audit client.

    `Client(base_url, token=None, **core options)`; `token` is the service token (ingest, the
    cross-chain request-ID query, and everything else) or a user access token (JWT from identity)
    with `audit:read` in the org for `list`, `iterate` and `verify`.
    `client.with_options(token=...)` shares the connection pool.
    """

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.events = Events(self)


class AsyncClient(AsyncAPIClient):
    """Asynchronous audit client; the same resource as `Client`, awaited."""

    def __init__(self, base_url: str | httpx.URL, *, token: str | None = None, **kwargs: Any):
        super().__init__(base_url, token=token, **kwargs)
        self.events = AsyncEvents(self)
