"""Status → exception mapping, read from the error envelope."""

import httpx
import pytest

from gatewright.core import errors


def envelope(code: str, message: str, **details: object) -> dict[str, object]:
    return {
        "error": {
            "type": "x",
            "code": code,
            "message": message,
            "request_id": "req_1",
            "details": details,
        }
    }


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequest),
        (401, errors.AuthenticationError),
        (402, errors.BudgetExceeded),
        (403, errors.PermissionDenied),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (422, errors.ValidationFailed),
        (429, errors.RateLimited),
        (500, errors.InternalServerError),
        (501, errors.InternalServerError),
        (502, errors.ServiceUnavailable),
        (503, errors.ServiceUnavailable),
        (504, errors.ServiceUnavailable),
        (418, errors.APIStatusError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[errors.APIStatusError]) -> None:
    exc = errors.make_status_error(httpx.Response(status, json=envelope("some_code", "Nope.")))
    assert type(exc) is cls
    assert exc.status_code == status
    assert exc.code == "some_code"
    assert exc.message == "Nope."
    assert exc.request_id == "req_1"
    assert "req_1" in str(exc)


def test_budget_exceeded_exposes_figures() -> None:
    body = envelope(
        "budget_exceeded",
        "Org org_1 would exceed its limit.",
        limit_micro_usd=100,
        spent_micro_usd=90,
        reserved_micro_usd=5,
        requested_micro_usd=10,
    )
    exc = errors.make_status_error(httpx.Response(402, json=body))
    assert isinstance(exc, errors.BudgetExceeded)
    assert (exc.limit_micro_usd, exc.spent_micro_usd) == (100, 90)
    assert (exc.reserved_micro_usd, exc.requested_micro_usd) == (5, 10)


def test_non_envelope_body_still_maps() -> None:
    response = httpx.Response(503, text="upstream down", headers={"X-Request-ID": "req_9"})
    exc = errors.make_status_error(response)
    assert isinstance(exc, errors.ServiceUnavailable)
    assert exc.code == "unknown"
    assert exc.request_id == "req_9"
    assert exc.body == "upstream down"


def test_rate_limited_reads_retry_after() -> None:
    response = httpx.Response(
        429, json=envelope("rate_limited", "Slow down."), headers={"Retry-After": "3"}
    )
    exc = errors.make_status_error(response)
    assert isinstance(exc, errors.RateLimited)
    assert exc.retry_after == 3.0
