"""The exception tree every Gatewright client raises.

```
GatewrightError
├── APIConnectionError             the request never got an answer
│   └── APITimeoutError
├── APIStreamError                 a stream that had started sent an error event instead
└── APIStatusError                 the service answered with an error envelope
    ├── BadRequest                 400 invalid_request
    ├── AuthenticationError        401 unauthenticated
    ├── BudgetExceeded             402 budget_exceeded (carries limit/spent/reserved/requested)
    ├── PermissionDenied           403 permission_denied
    ├── NotFound                   404 not_found
    ├── Conflict                   409 conflict
    ├── ValidationFailed           422 validation_failed
    ├── RateLimited                429 rate_limited (carries retry_after)
    ├── InternalServerError        500 and any other 5xx not below
    └── ServiceUnavailable         502 / 503 / 504 backend or dependency failures
```

`make_status_error` is the one place that maps a response to its class.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from gatewright.core._constants import REQUEST_ID_HEADER


class GatewrightError(Exception):
    """Base of every error a Gatewright client raises."""


class APIConnectionError(GatewrightError):
    """No response: connection refused, reset, DNS failure, or a timeout."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStreamError(GatewrightError):
    """A stream answered 200, then sent an error event (e.g. its backend broke mid-way): what
    was streamed before it stands; `code`, `message` and `request_id` say what happened."""

    def __init__(self, message: str, *, code: str, request_id: str, body: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.body = body


def connection_error(exc: httpx.TransportError) -> APIConnectionError:
    """The error tree's class for a request that got no answer (a timeout is its own)."""
    request = getattr(exc, "_request", None)
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    target = f" to {request.method} {request.url}" if request is not None else ""
    return cls(f"no response{target}: {exc!r}", request=request)


class APIStatusError(GatewrightError):
    """The service answered with a non-2xx status and (usually) the error envelope."""

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str,
        request_id: str,
        body: Any,
        details: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        self.details = details or {}
        self.response = response

    def __str__(self) -> str:
        rid = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.status_code} {self.code}: {self.message}{rid}"


class BadRequest(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class BudgetExceeded(APIStatusError):
    """402: the spend limit would be exceeded. Never retried."""

    @property
    def limit_micro_usd(self) -> int | None:
        return _int_or_none(self.details.get("limit_micro_usd"))

    @property
    def spent_micro_usd(self) -> int | None:
        return _int_or_none(self.details.get("spent_micro_usd"))

    @property
    def reserved_micro_usd(self) -> int | None:
        return _int_or_none(self.details.get("reserved_micro_usd"))

    @property
    def requested_micro_usd(self) -> int | None:
        return _int_or_none(self.details.get("requested_micro_usd"))


class PermissionDenied(APIStatusError):
    pass


class NotFound(APIStatusError):
    pass


class Conflict(APIStatusError):
    pass


class ValidationFailed(APIStatusError):
    pass


class RateLimited(APIStatusError):
    @property
    def retry_after(self) -> float | None:
        if self.response is None:
            return None
        from gatewright.core.client import parse_retry_after

        return parse_retry_after(self.response.headers.get("Retry-After"))


class InternalServerError(APIStatusError):
    pass


class ServiceUnavailable(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequest,
    401: AuthenticationError,
    402: BudgetExceeded,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
    502: ServiceUnavailable,
    503: ServiceUnavailable,
    504: ServiceUnavailable,
}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error response, reading the envelope when there is one."""
    status = response.status_code
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        body = response.text if response.is_stream_consumed or not response.is_closed else ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "unknown")
        message = str(error.get("message") or response.reason_phrase)
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        request_id = str(error.get("request_id") or response.headers.get(REQUEST_ID_HEADER, ""))
    else:
        code = "unknown"
        message = f"HTTP {status} {response.reason_phrase}".strip()
        details = {}
        request_id = response.headers.get(REQUEST_ID_HEADER, "")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    return cls(
        message,
        status_code=status,
        code=code,
        request_id=request_id,
        body=body,
        details=details,
        response=response,
    )
