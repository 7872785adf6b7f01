"""`UTCDateTime`: request times are RFC 3339 strings, read as UTC; those UTC cannot hold and
numbers are a validation error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from gatewright.core import UTCDateTime


class Stamp(BaseModel):
    at: UTCDateTime


def test_a_time_with_an_offset_becomes_utc() -> None:
    stamp = Stamp.model_validate({"at": "2026-01-02T03:04:05+02:00"})
    assert stamp.at == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert stamp.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "edge",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+00:01"],
)
def test_a_time_outside_what_utc_can_hold_is_a_validation_error(edge: str) -> None:
    """Found by the fuzz stage: these were an OverflowError (a 500) in audit and identity."""
    with pytest.raises(ValidationError, match="outside the times this service can hold"):
        Stamp.model_validate({"at": edge})


@pytest.mark.parametrize("edge", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_the_edges_of_the_calendar_in_utc_are_fine(edge: str) -> None:
    assert Stamp.model_validate({"at": edge}).at.tzinfo is not None


@pytest.mark.parametrize("number", [0.5, 1700000000, "1700000000", "0.5", True, "now"])
def test_seconds_since_1970_are_not_a_time_on_the_wire(number: object) -> None:
    """Found by the fuzz stage (Schemathesis' negative data): audit took `until=0.5`."""
    with pytest.raises(ValidationError, match="RFC 3339"):
        Stamp.model_validate({"at": number})


def test_a_time_without_an_offset_is_still_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Stamp.model_validate({"at": "2026-01-02T03:04:05"})
    assert Stamp(at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5)))).at.hour == 5
