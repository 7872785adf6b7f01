"""Light core shared by every Gatewright client package (httpx + pydantic only)."""

from gatewright.core._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, REQUEST_ID_HEADER
from gatewright.core.client import (
    AsyncAPIClient,
    BaseClient,
    NotGiven,
    RetryPolicy,
    SyncAPIClient,
    new_request_id,
)
from gatewright.core.envelope import ErrorBody, ErrorEnvelope
from gatewright.core.errors import (
    APIConnectionError,
    APIStatusError,
    APIStreamError,
    APITimeoutError,
    AuthenticationError,
    BadRequest,
    BudgetExceeded,
    Conflict,
    GatewrightError,
    InternalServerError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
    make_status_error,
)
from gatewright.core.models import APIModel, UTCDateTime
from gatewright.core.resources import AsyncResource, Call, SyncResource, json_body, path_segment
from gatewright.core.streaming import SSE_DONE, AsyncStream, SSEDecoder, Stream

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "REQUEST_ID_HEADER",
    "SSE_DONE",
    "APIConnectionError",
    "APIModel",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AsyncAPIClient",
    "AsyncResource",
    "AsyncStream",
    "AuthenticationError",
    "BadRequest",
    "BaseClient",
    "BudgetExceeded",
    "Call",
    "Conflict",
    "ErrorBody",
    "ErrorEnvelope",
    "GatewrightError",
    "InternalServerError",
    "NotFound",
    "NotGiven",
    "PermissionDenied",
    "RateLimited",
    "RetryPolicy",
    "SSEDecoder",
    "ServiceUnavailable",
    "Stream",
    "SyncAPIClient",
    "SyncResource",
    "UTCDateTime",
    "ValidationFailed",
    "json_body",
    "make_status_error",
    "new_request_id",
    "path_segment",
]
