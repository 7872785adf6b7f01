"""Record every HTTP exchange a client makes, through httpx event hooks (never by wrapping).

    recorder = ExchangeRecorder(step=flow)
    client = SomeClient(**{"base_url": url, "event_hooks": recorder.sync_hooks()})

Each attempt (retries included) becomes one `Exchange`: method, URL, status, redacted request and
response headers, redacted body samples (~2 KB), elapsed ms, the `X-Request-ID`, the step it
belongs to and a `curl` line to replay it by hand (secrets masked). The request hook opens the
exchange and the response hook completes it, so an attempt that never got a response (connection
refused, timeout) is still recorded; it is marked failed when the same request ID is retried,
when a step fails with the connection error, or when the test ends.

Event-stream responses (`text/event-stream`) are not read in the hook, so streaming clients still
stream; their body is recorded as not sampled.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from gatewright.testkit.redact import redact_body, redact_headers, redact_text, redact_url

REQUEST_ID_HEADER = "x-request-id"
_CURL_SKIP_HEADERS = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent"}
)
NO_RESPONSE = "no response (connection failed or timed out)"


class StepSource(Protocol):
    """Anything with a `current` step (a `Flow`)."""

    @property
    def current(self) -> Any: ...


@dataclass
class Exchange:
    """One HTTP attempt, redacted."""

    seq: int
    method: str
    url: str
    request_id: str
    request_headers: dict[str, str]
    request_body: str
    started_at: str
    step_index: int | None = None
    step: str | None = None
    attempt: int = 1
    status: int | None = None
    reason: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float | None = None
    error: str | None = None
    curl: str = ""

    @property
    def completed(self) -> bool:
        return self.status is not None or self.error is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def one_line(self) -> str:
        outcome = str(self.status) if self.status is not None else (self.error or "pending")
        elapsed = f" in {self.elapsed_ms:.0f} ms" if self.elapsed_ms is not None else ""
        attempt = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return (
            f"{self.method} {self.url} -> {outcome}{elapsed} · request {self.request_id}{attempt}"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _request_body(request: httpx.Request) -> bytes | str:
    try:
        return request.content
    except httpx.RequestNotRead:
        return "<streaming request body, not sampled>"


def curl_line(method: str, url: str, headers: dict[str, str], body: str) -> str:
    """A shell-quoted curl command; pass already-redacted values."""
    parts = ["curl", "-sS", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        if name.lower() not in _CURL_SKIP_HEADERS:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body and not body.startswith("<"):
        parts += ["--data-raw", shlex.quote(body)]
    return " ".join(parts)


class ExchangeRecorder:
    """Collects `Exchange`s from httpx event hooks; thread- and task-safe."""

    def __init__(
        self,
        *,
        step: StepSource | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sample_limit: int = 2048,
    ) -> None:
        self.exchanges: list[Exchange] = []
        self._steps = step
        self._clock = clock
        self._limit = sample_limit
        self._open: dict[int, tuple[Exchange, float]] = {}
        self._lock = threading.Lock()

    # -- hooks ------------------------------------------------------------------------------
    def sync_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """Event hooks for a sync client (`httpx.Client` / `SyncAPIClient`)."""
        return {"request": [self.on_request], "response": [self.on_response]}

    def async_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """Event hooks for an async client (`httpx.AsyncClient` / `AsyncAPIClient`)."""
        return {"request": [self.aon_request], "response": [self.aon_response]}

    def on_request(self, request: httpx.Request) -> None:
        step = self._steps.current if self._steps is not None else None
        rid = request.headers.get(REQUEST_ID_HEADER, "")
        headers = redact_headers(request.headers.multi_items())
        body = redact_body(_request_body(request), self._limit)
        url = redact_url(str(request.url))
        with self._lock:
            attempt = 1
            if rid:
                for earlier, _ in list(self._open.values()):
                    if earlier.request_id == rid and not earlier.completed:
                        earlier.error = NO_RESPONSE  # a retry: the earlier attempt got nothing
                attempt += sum(1 for e in self.exchanges if rid and e.request_id == rid)
            exchange = Exchange(
                seq=len(self.exchanges) + 1,
                method=request.method,
                url=url,
                request_id=rid,
                request_headers=headers,
                request_body=body,
                started_at=_now(),
                step_index=getattr(step, "index", None),
                step=getattr(step, "label", None),
                attempt=attempt,
                curl=curl_line(request.method, url, headers, body),
            )
            self.exchanges.append(exchange)
            self._open[id(request)] = (exchange, self._clock())

    def on_response(self, response: httpx.Response) -> None:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
        self._complete(response)

    async def aon_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx.Response) -> None:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            await response.aread()
        self._complete(response)

    def _complete(self, response: httpx.Response) -> None:
        with self._lock:
            found = self._open.pop(id(response.request), None)
        if found is None:  # a request this recorder did not see (hooks added late)
            self.on_request(response.request)
            with self._lock:
                found = self._open.pop(id(response.request))
        exchange, started = found
        exchange.elapsed_ms = round((self._clock() - started) * 1000, 1)
        exchange.status = response.status_code
        exchange.reason = response.reason_phrase
        exchange.response_headers = redact_headers(response.headers.multi_items())
        if response.is_stream_consumed or hasattr(response, "_content"):
            exchange.response_body = redact_body(response.content, self._limit)
        else:
            exchange.response_body = "<stream, not sampled>"
        if not exchange.request_id:
            exchange.request_id = response.headers.get(REQUEST_ID_HEADER, "")

    # -- failures ---------------------------------------------------------------------------
    def note_exception(self, exc: BaseException) -> None:
        """Attach a transport failure to the exchange it ended (called when a step fails)."""
        try:
            request = getattr(exc, "request", None)
        except RuntimeError:  # httpx errors raise when no request was attached
            request = None
        if not isinstance(request, httpx.Request):
            return
        cause = exc.__cause__ or exc
        message = redact_text(f"{type(cause).__name__}: {cause}")
        with self._lock:
            found = self._open.pop(id(request), None)
            if found is not None:
                found[0].error = message
                return
            rid = request.headers.get(REQUEST_ID_HEADER, "")
            for exchange in reversed(self.exchanges):
                if rid and exchange.request_id == rid and exchange.status is None:
                    exchange.error = message
                    return

    def finish(self) -> None:
        """Mark attempts still waiting for a response as failed (call at the end of a test)."""
        with self._lock:
            for exchange, _ in self._open.values():
                if exchange.error is None:
                    exchange.error = NO_RESPONSE
            self._open.clear()

    # -- queries ----------------------------------------------------------------------------
    def for_step(self, step_index: int | None) -> list[Exchange]:
        return [e for e in self.exchanges if e.step_index == step_index]

    @property
    def request_ids(self) -> list[str]:
        """Distinct request IDs in order of first use."""
        return list(dict.fromkeys(e.request_id for e in self.exchanges if e.request_id))

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.exchanges]
