"""Observations: a bounded in-memory ring buffer of the requests that reached chat completions.

`ObservedRoute` records a request when it arrives (status null) and fills in the status when the
answer starts, whatever produced it: the handler, a `ServiceError`, FastAPI's own validation
(400 for a body that is not JSON, 422 otherwise), or a client that went away (499). Fields are
read leniently from the raw body, so even a request modelsim refused shows what was sent.
Headers are stored lower-cased, with secret-looking ones (by name or by value) replaced by `***`.

Everything runs on the event loop (async handlers only), so the buffer needs no lock.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatewright.servicekit import ServiceError, current_request_id
from gatewright.servicekit.requestbody import BodyRejected, parse_json

REDACTED = "***"
_SECRET_NAME = re.compile(
    r"auth|token|secret|passw|cookie|session|credential|signature|api[-_]?key", re.IGNORECASE
)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic|digest)\s|^\s*(gwk_|sk-)", re.IGNORECASE)
CLIENT_CLOSED = 499


def redact_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        if _SECRET_NAME.search(name) or _SECRET_VALUE.search(text):
            text = REDACTED
        out[name] = f"{out[name]}, {text}" if name in out and text != REDACTED else text
    return out


@dataclass
class Entry:
    seq: int
    request_id: str
    method: str
    path: str
    model: str | None
    stream: bool | None
    max_tokens: int | None
    message_count: int | None
    headers: dict[str, str]
    received_at: datetime
    status: int | None = None


def _summary(body: bytes) -> dict[str, Any]:
    """model / stream / max_tokens / message_count from a body that may be anything."""
    # servicekit's own check: a body it refused (a lone surrogate, deep nesting, NaN) yields no
    # fields, so nothing that cannot be served back is ever stored.
    try:
        doc = parse_json(body)
    except BodyRejected:
        doc = None
    if not isinstance(doc, dict):
        return {"model": None, "stream": None, "max_tokens": None, "message_count": None}
    model, stream, messages = doc.get("model"), doc.get("stream", False), doc.get("messages")
    max_tokens = doc.get("max_tokens", doc.get("max_completion_tokens"))
    return {
        "model": model[:256] if isinstance(model, str) else None,
        "stream": stream if isinstance(stream, bool) else None,
        "max_tokens": max_tokens
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
        else None,
        "message_count": len(messages) if isinstance(messages, list) else None,
    }


class ObservationStore:
    def __init__(self, max_entries: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._seq = 0

    def record(self, request: Request, body: bytes) -> Entry:
        self._seq += 1
        entry = Entry(
            seq=self._seq,
            request_id=current_request_id(),
            method=request.method,
            path=request.url.path,
            headers=redact_headers(request.headers.raw),
            received_at=datetime.now(UTC),
            **_summary(body),
        )
        self._entries.append(entry)
        return entry

    def record_rejected(self, request: Request, body: bytes, status: int) -> None:
        """A request servicekit's body check refused before any route saw it."""
        self.record(request, body).status = status

    def query(
        self, *, request_id: str | None = None, model: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The most recent `limit` entries that match, oldest first."""
        found: list[Entry] = []
        for entry in reversed(self._entries):
            if len(found) >= limit:
                break
            if request_id is not None and entry.request_id != request_id:
                continue
            if model is not None and entry.model != model:
                continue
            found.append(entry)
        return [asdict(e) for e in reversed(found)]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def status_of(exc: BaseException) -> int:
    """The status the error handlers will answer `exc` with (see servicekit.errors)."""
    if isinstance(exc, ServiceError | StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 400 if any(e.get("type") == "json_invalid" for e in exc.errors()) else 422
    if isinstance(exc, asyncio.CancelledError):
        return CLIENT_CLOSED
    return 500


class ObservedRoute(APIRoute):
    """An `APIRoute` that records every request it receives in the app's `ObservationStore`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def observed(request: Request) -> Response:
            store: ObservationStore = request.app.state.observations
            entry = store.record(request, await request.body())
            try:
                response = await handler(request)
            except BaseException as exc:
                entry.status = status_of(exc)
                raise
            entry.status = response.status_code
            return response

        return observed
