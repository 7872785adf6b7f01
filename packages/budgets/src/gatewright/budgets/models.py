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
DEFAULT_TTL_SECONDS = 300

# IDs come from other services (orgs, keys) or callers (request IDs): printable, bounded.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE)]
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
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
    org_id: ExternalId
    key_id: ExternalId | None = None
    amount_micro_usd: AmountMicroUsd
    request_id: RequestId
    ttl_seconds: Annotated[StrictInt, Field(ge=1, le=MAX_TTL_SECONDS)] = DEFAULT_TTL_SECONDS


class ReservationCommit(_Request):
    actual_micro_usd: ActualMicroUsd


class Reservation(APIModel):
    """A hold on budget for one request.

    The wire field `request_id` (the caller's idempotency key) is `caller_request_id` in Python:
    `APIModel.request_id` is already the `X-Request-ID` of the response the model came from.
    """

    id: str
    org_id: str
    key_id: str | None = None
    amount_micro_usd: int
    caller_request_id: str = Field(alias="request_id")
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
