"""The one error envelope, for every failure a service can produce.

Handlers are registered on Starlette's `HTTPException` (FastAPI raises its own 400 for an
unparseable body as that class, and a handler on FastAPI's subclass would miss it), on
`RequestValidationError`, and on `ServiceError`, which route code raises. Unexpected exceptions
are caught by the correlation middleware, which answers with a 500 envelope and logs the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from gatewright.core.envelope import ErrorBody, ErrorEnvelope
from gatewright.servicekit.correlation import current_request_id

log = logging.getLogger("gatewright.servicekit.errors")

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "budget_exceeded_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

DEFAULT_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthenticated",
    402: "budget_exceeded",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class ServiceError(Exception):
    """Raised by route code; becomes the error envelope with this status and code."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorEnvelope(
        error=ErrorBody(
            type=ERROR_TYPES.get(status_code, "api_error"),
            code=code,
            message=message,
            request_id=current_request_id(),
            details=details or {},
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    """The envelope written straight to ASGI, for middleware that answers before any route."""
    body = (
        ErrorEnvelope(
            error=ErrorBody(
                type=ERROR_TYPES.get(status, "api_error"),
                code=code,
                message=message,
                request_id=current_request_id(),
                details={},
            )
        )
        .model_dump_json()
        .encode()
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Invalid request: " + "; ".join(parts) + more


# Called with every ServiceError before its envelope goes out (e.g. to audit a denial); it runs
# in the thread pool, and its own failure is logged, never turned into a second error.
ErrorObserver = Callable[[Request, ServiceError], None]


def _service_error_handler(
    observer: ErrorObserver | None,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        if observer is not None:
            try:
                await run_in_threadpool(observer, request, exc)
            except Exception:
                log.exception("the error observer failed for %s %s", exc.status_code, exc.code)
        return error_response(
            exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
        )

    return on_service_error


async def _on_http_exception(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = DEFAULT_CODES.get(status, "error")
    if status == 404:
        message = "No such endpoint: check the method and path."
    elif status == 405:
        message = "This endpoint does not accept that HTTP method."
    else:
        message = str(exc.detail) if exc.detail else "Request failed."
    return error_response(status, code, message, headers=dict(exc.headers or {}))


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [dict(e) for e in exc.errors()]
    # Drop the raw input from details: it may hold a password.
    safe = [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            400,
            "invalid_json",
            "The request body is not valid JSON.",
            details={"errors": safe},
        )
    return error_response(
        422, "validation_failed", _validation_message(errors), details={"errors": safe}
    )


def install_error_handlers(app: FastAPI, *, observer: ErrorObserver | None = None) -> None:
    app.add_exception_handler(ServiceError, _service_error_handler(observer))
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


# Documented on every operation so schema-driven fuzzers check the envelope too.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed request (for example a body that is not JSON)."),
    401: _doc("Missing or invalid credentials."),
    403: _doc("Authenticated but not allowed."),
    404: _doc("Unknown resource."),
    409: _doc("Conflicts with the current state."),
    413: _doc("Request body too large."),
    415: _doc("Request body that is not JSON (its Content-Type)."),
    422: _doc("Well-formed but invalid request."),
    500: _doc("Unexpected server error (a bug)."),
}

# Documented, in addition, on every operation that asks another service before it answers
# (identity's key verification or authorization check, say).
DEPENDENCY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _doc("A service this one depends on cannot answer right now (retry later)."),
}
