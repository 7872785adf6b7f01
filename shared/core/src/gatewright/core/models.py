"""Base for wire models (tolerant of fields a newer provider adds, carrying the request ID), and
`UTCDateTime`, the type of every time a request sends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, PrivateAttr


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:59:59-23:59 is in year 10000 in UTC, which no datetime holds.
        raise ValueError(
            f"{value.isoformat()} is outside the times this service can hold "
            "(years 1 to 9999 in UTC)"
        ) from None


UTCDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An RFC 3339 time with its offset, as UTC; one that UTC cannot hold (years 1 to 9999) is a
validation error, never an `OverflowError` in whatever compares or stores it later."""


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
