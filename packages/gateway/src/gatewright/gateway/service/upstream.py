"""Calls to model backends: one attempt at a time, each classified into one outcome.

An attempt either returns a usable answer or raises `AttemptFailed` with the outcome the gateway
reports in `details.attempts`: `connect_error`, `timeout`, `status_<code>` (any non-2xx) or
`bad_response` (a body that is not a chat completion with integer usage).

PLATFORM.md §5: the gateway falls back on connect errors, timeouts and 5xx. Also on 408 and 429
(the backend is busy, not the request wrong) and on a malformed success (a broken backend, like
a 5xx). Any other 4xx is the backend refusing this request (`AttemptFailed.refused`): another
backend would most likely refuse it too, so the caller stops there.

What the gateway needs from a backend is pinned by the consumer pact
`contracts/gateway-modelsim.json` (see `tests/contract/test_consumer_backend.py`), which drives
exactly these functions.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

CHAT_PATH = "/v1/chat/completions"
DONE = "[DONE]"


@dataclass(frozen=True)
class Target:
    """One backend of a route: base URL, the model name it knows, and a whole-attempt timeout."""

    url: str
    model: str
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Attempt:
    backend: str
    model: str
    outcome: str
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "outcome": self.outcome,
            "elapsed_ms": self.elapsed_ms,
        }


TRANSIENT_4XX = frozenset({408, 429})


class AttemptFailed(Exception):
    """One backend attempt failed; `outcome` is what the gateway reports for it, and `status`
    the backend's HTTP status when it answered one."""

    def __init__(self, outcome: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(f"{outcome}: {detail}" if detail else outcome)
        self.outcome = outcome
        self.detail = detail
        self.status = status

    @property
    def refused(self) -> bool:
        """The backend refused this request (a 4xx other than 408/429): do not fall back."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and (self.status not in TRANSIENT_4XX)
        )


def _status_failure(response: httpx.Response) -> AttemptFailed:
    status = response.status_code
    return AttemptFailed(f"status_{status}", response.text[:200], status=status)


def chat_url(base_url: str) -> str:
    return base_url.rstrip("/") + CHAT_PATH


def parse_usage(value: Any) -> Usage | None:
    """Integer, non-negative `prompt_tokens` and `completion_tokens`, else None."""
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    for n in (prompt, completion):
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            return None
    assert isinstance(prompt, int)
    assert isinstance(completion, int)
    return Usage(prompt, completion)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _classify(exc: BaseException) -> AttemptFailed:
    if isinstance(exc, AttemptFailed):
        return exc
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return AttemptFailed("timeout", repr(exc))
    return AttemptFailed("connect_error", repr(exc))


async def complete(
    http: httpx.AsyncClient,
    target: Target,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
) -> tuple[dict[str, Any], Usage]:
    """POST one unstreamed completion to `target`; the parsed body and its usage."""
    body = {**payload, "model": target.model}
    try:
        async with asyncio.timeout(target.timeout_seconds):
            response = await http.post(
                chat_url(target.url),
                json=body,
                headers=dict(headers),
                timeout=target.timeout_seconds,
            )
    except (TimeoutError, httpx.TransportError) as exc:
        raise _classify(exc) from exc
    if not response.is_success:
        raise _status_failure(response)
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        raise AttemptFailed("bad_response", "the body is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise AttemptFailed("bad_response", "the body is not a chat completion")
    usage = parse_usage(data.get("usage"))
    if usage is None:
        raise AttemptFailed("bad_response", "the body has no integer usage")
    return data, usage


@dataclass
class UpstreamStream:
    """An open streamed completion whose first chunk has already arrived (so it is usable)."""

    response: httpx.Response
    first: dict[str, Any]
    events: AsyncIterator[str]
    done: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        """Every chunk, the first one included, until `[DONE]` or the end of the body.

        A chunk that is not a JSON object raises `AttemptFailed("bad_response")`.
        """
        yield self.first
        async for data in self.events:
            if data == DONE:
                self.done = True
                return
            yield _chunk(data)

    async def aclose(self) -> None:
        await self.response.aclose()


def _chunk(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise AttemptFailed("bad_response", "a stream chunk is not JSON") from exc
    if not isinstance(value, dict):
        raise AttemptFailed("bad_response", "a stream chunk is not an object")
    return value


async def sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The `data` of each server-sent event (multi-line data joined by newlines)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
    if lines:
        yield "\n".join(lines)


async def open_stream(
    http: httpx.AsyncClient,
    target: Target,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
) -> UpstreamStream:
    """Start a streamed completion and wait for its first chunk (within the timeout).

    Anything that goes wrong before the first chunk raises `AttemptFailed`, so the caller can
    still fall back: nothing has been sent to its own client yet.
    """
    body = {**payload, "model": target.model, "stream": True}
    options = dict(body.get("stream_options") or {})
    options["include_usage"] = True
    body["stream_options"] = options
    request = http.build_request(
        "POST",
        chat_url(target.url),
        json=body,
        headers=dict(headers),
        timeout=target.timeout_seconds,
    )
    response: httpx.Response | None = None
    try:
        async with asyncio.timeout(target.timeout_seconds):
            response = await http.send(request, stream=True)
            if not response.is_success:
                await response.aread()
                raise _status_failure(response)
            events = sse_data(response)
            first = await anext(events, None)
            if first is None or first == DONE:
                raise AttemptFailed("bad_response", "the stream ended before its first chunk")
            return UpstreamStream(response, _chunk(first), events)
    except BaseException as exc:
        if response is not None:
            await response.aclose()
        if isinstance(exc, AttemptFailed | TimeoutError | httpx.TransportError):
            raise _classify(exc) from exc
        raise


__all__ = [
    "Attempt",
    "AttemptFailed",
    "Target",
    "UpstreamStream",
    "Usage",
    "chat_url",
    "complete",
    "open_stream",
    "parse_usage",
    "sse_data",
]
