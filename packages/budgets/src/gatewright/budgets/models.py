"""Wire models shared by the budgets client and the budgets service.

Money is integer micro-USD everywhere (1 USD = 1_000_000); amounts are strict integers on the wire,
so `"5"`, `5.0` and `true` are refused (422), never coerced. Request models forbid unknown fields,
so a typo in a field name is a 422 instead of a silently ignored value. Response models subclass
core `APIModel`: they ignore fields a newer provider adds and carry the `request_id` of the
response they came from. Times are timezone-aware UTC datetimes (RFC 3339 on the wire).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from gatewright.core import APIModel

Period = Literal["daily", "monthly", "total"]
"""How often a budget resets: at midnight UTC, on the first of the month (UTC), or never."""

PERIODS: tuple[Period, ...] = ("daily", "monthly", "total")

ReservationStatus = Literal["held", "committed", "released", "expired"]
"""`held` counts against the budget; the other three are final (no longer reserved)."""

RESERVATION_STATUSES: tuple[ReservationStatus, ...] = ("held", "committed", "released", "expired")

MAX_LIMIT_MICRO_USD = 10**15
"""Largest budget limit (one billion USD)."""
MAX_AMOUNT_MICRO_USD = 10**12
"""Largest single reservation or charge (one million USD)."""
MAX_TTL_SECONDS = 3600
"""Longest reservation `ttl_seconds` budgets accepts. Callers that hold reservations (the gateway's
`GATEWRIGHT_RESERVATION_TTL_SECONDS`) import this limit instead of restating it."""
DEFAULT_TTL_SECONDS = 300
"""The `ttl_seconds` of a reservation created without one."""

# IDs come from other services (orgs, keys) or callers (request IDs): printable, bounded.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE)]
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=8, max_length=200, pattern=r"^[A-Za-z0-9._:\-]+$")
]
LimitMicroUsd = Annotated[StrictInt, Field(ge=0, le=MAX_LIMIT_MICRO_USD)]
AmountMicroUsd = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT_MICRO_USD)]
ActualMicroUsd = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MICRO_USD)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- budgets ---------------------------------------------------------------------------------
class BudgetSet(_Request):
    """Body of `PUT .../budget`."""

    limit_micro_usd: LimitMicroUsd
    period: Period


class Budget(APIModel):
    """A limit on one org (`key_id` null) or one API key, with the current period's figures."""

    org_id: str
    key_id: str | None = None
    limit_micro_usd: int
    period: Period
    period_start: datetime
    spent_micro_usd: int
    reserved_micro_usd: int
    updated_at: datetime


# -- spend -----------------------------------------------------------------------------------
class KeySpend(APIModel):
    key_id: str
    spent_micro_usd: int
    reserved_micro_usd: int
    limit_micro_usd: int | None = None
    period: Period | None = None
    period_start: datetime | None = None


class Spend(APIModel):
    """An org's spend in its current period; with no budget set the limit and period are null
    (unlimited) and spend accumulates since the first charge."""

    org_id: str
    spent_micro_usd: int
    reserved_micro_usd: int
    limit_micro_usd: int | None = None
    period: Period | None = None
    period_start: datetime | None = None
    keys: list[KeySpend] = Field(default_factory=list)


# -- reservations ----------------------------------------------------------------------------
class ReservationCreate(_Request):
    """Body of `POST /v1/reservations`.

    `idempotency_key` makes a create safe to retry: it is unique per org and key, chosen by the
    caller for ONE logical reservation (the client makes a fresh one per call and reuses it
    across that call's retries). `request_id` is only the correlation label of the request the
    reservation pays for (audit events, logs); it is never an idempotency key (decision 8).
    """

    org_id: ExternalId
    key_id: ExternalId | None = None
    amount_micro_usd: AmountMicroUsd
    request_id: RequestId
    idempotency_key: IdempotencyKey
    ttl_seconds: Annotated[StrictInt, Field(ge=1, le=MAX_TTL_SECONDS)] = DEFAULT_TTL_SECONDS


class ReservationCommit(_Request):
    actual_micro_usd: ActualMicroUsd


class Reservation(APIModel):
    """A hold on budget for one request.

    The wire field `request_id` (the correlation label of the request it pays for) is
    `caller_request_id` in Python: `APIModel.request_id` is already the `X-Request-ID` of the
    response the model came from. `replayed` is true on the answer to a repeated create (the same
    `idempotency_key` while the reservation is still held): the caller's retry of a call whose
    first answer it lost, never a second reservation.
    """

    id: str
    org_id: str
    key_id: str | None = None
    amount_micro_usd: int
    caller_request_id: str = Field(alias="request_id")
    idempotency_key: str | None = None
    replayed: bool = False
    status: ReservationStatus
    actual_micro_usd: int | None = None
    expires_at: datetime
    created_at: datetime


class ReservationList(APIModel):
    data: list[Reservation]


__all__ = [
    "DEFAULT_TTL_SECONDS",
    "MAX_AMOUNT_MICRO_USD",
    "MAX_LIMIT_MICRO_USD",
    "MAX_TTL_SECONDS",
    "PERIODS",
    "RESERVATION_STATUSES",
    "Budget",
    "BudgetSet",
    "KeySpend",
    "Period",
    "Reservation",
    "ReservationCommit",
    "ReservationCreate",
    "ReservationList",
    "ReservationStatus",
    "Spend",
]
