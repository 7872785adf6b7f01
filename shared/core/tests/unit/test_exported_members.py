"""The public API is what `__all__` says; a change to it is a deliberate, reviewed change."""

import gatewright.core as core


def test_all_is_pinned() -> None:
    assert sorted(core.__all__) == sorted(
        [
            "DEFAULT_MAX_RETRIES",
            "DEFAULT_TIMEOUT",
            "REQUEST_ID_HEADER",
            "APIConnectionError",
            "APIModel",
            "APIStatusError",
            "APITimeoutError",
            "AsyncAPIClient",
            "AsyncOrgDataResource",
            "OrgData",
            "OrgDataList",
            "OrgDataResource",
            "OrgPurged",
            "AuthenticationError",
            "BadRequest",
            "BaseClient",
            "BudgetExceeded",
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
            "UTCDateTime",
            "ServiceUnavailable",
            "SyncAPIClient",
            "ValidationFailed",
            "make_status_error",
            "new_request_id",
            "AsyncResource",
            "Call",
            "SyncResource",
            "json_body",
            "path_segment",
            "SSE_DONE",
            "APIStreamError",
            "AsyncStream",
            "SSEDecoder",
            "Stream",
            "shared_ssl_context",
        ]
    )
    for name in core.__all__:
        assert getattr(core, name) is not None
