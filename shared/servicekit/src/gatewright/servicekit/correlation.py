"""One correlation middleware: request IDs, traceparent, access log, last-resort 500.

Every request gets an `X-Request-ID` (the caller's, when it sends a sane one, else a new one);
it is echoed on the response, stored in a context variable for log lines, audit events and
outbound calls, and `traceparent` is continued (or started) the same way. Written as plain ASGI
so that streaming responses pass through untouched and the cost per request stays small.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewright.core._constants import REQUEST_ID_HEADER, TRACEPARENT_HEADER

log = logging.getLogger("gatewright.access")
errlog = logging.getLogger("gatewright.servicekit.errors")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_traceparent: contextvars.ContextVar[str] = contextvars.ContextVar("traceparent", default="")

# IDs are echoed into headers and logs: accept only short printable tokens.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def current_request_id() -> str:
    """The request ID of the request being served ('' outside one)."""
    return _request_id.get()


@contextlib.contextmanager
def request_id_scope(request_id: str) -> Iterator[None]:
    """Work no request carries (a background job, e.g. a gitops reconcile) under its own
    request ID: its log lines and audit events carry it, as a request's would."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


def current_traceparent() -> str:
    return _traceparent.get()


def outbound_request_id() -> str:
    """For service clients' `request_id_factory`: forward the current ID, or mint one."""
    return _request_id.get() or f"req_{secrets.token_hex(12)}"


def outbound_headers() -> dict[str, str]:
    """Headers that carry the current correlation onto an outbound call."""
    headers = {}
    if rid := _request_id.get():
        headers[REQUEST_ID_HEADER] = rid
    if tp := _traceparent.get():
        m = _TRACEPARENT.match(tp)
        if m:
            headers[TRACEPARENT_HEADER] = f"00-{m.group(1)}-{secrets.token_hex(8)}-{m.group(3)}"
    return headers


def _continue_trace(incoming: str | None) -> str:
    if incoming and (m := _TRACEPARENT.match(incoming.strip().lower())):
        return f"00-{m.group(1)}-{secrets.token_hex(8)}-{m.group(3)}"
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class CorrelationMiddleware:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SANE_ID.match(incoming) else f"req_{secrets.token_hex(12)}"
        rid_token = _request_id.set(request_id)
        tp_token = _traceparent.set(_continue_trace(headers.get("traceparent")))
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            errlog.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            if not state["started"]:
                # errors imports this module (the request ID), so not at the top.
                from gatewright.servicekit.errors import send_error

                await send_error(
                    send_wrapper,
                    500,
                    "internal_error",
                    "The service failed unexpectedly; quote the request ID when reporting it.",
                )
        finally:
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                state["status"],
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": state["status"],
                    "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            _request_id.reset(rid_token)
            _traceparent.reset(tp_token)
