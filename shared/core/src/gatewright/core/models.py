"""Base for wire models (tolerant of fields a newer provider adds, carrying the request ID), and
`UTCDateTime`, the type of every time a request sends.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
)

_RFC3339_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339(value: Any) -> Any:
    """On the wire a time is an RFC 3339 string: not a number, nor a string of one (pydantic
    would read either as seconds since 1970)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339_START.match(value):
        raise ValueError("must be an RFC 3339 time with its offset, like 2026-01-02T03:04:05Z")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:59:59-23:59 is in year 10000 in UTC, which no datetime holds.
        raise ValueError(
            f"{value.isoformat()} is outside the times this service can hold "
            "(years 1 to 9999 in UTC)"
        ) from None


UTCDateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]
"""An RFC 3339 time with its offset (not seconds since 1970), as UTC; one that UTC cannot hold
(years 1 to 9999) is a validation error, never an `OverflowError` in whatever compares or stores
it later."""


class APIModel(BaseModel):
    """A response or request model.

    Client models declare only the fields they use and ignore the rest, so a provider can add
    fields without breaking consumers. `request_id` is the `X-Request-ID` of the response the
    model was parsed from (empty for models built by hand).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    _request_id: str = PrivateAttr(default="")

    @property
    def request_id(self) -> str:
        return self._request_id


class OrgData(APIModel):
    """What a service keeps for one org (`GET /v1/orgs` of budgets and the gateway, decision
    16): `items` rows (ledgers and reservations, routes) that an org deletion must purge."""

    org_id: str
    items: int


class OrgDataList(APIModel):
    data: list[OrgData]


class OrgPurged(APIModel):
    """The answer of `DELETE /v1/orgs/{org_id}` on a service that keeps per-org data."""

    org_id: str
    removed: int
