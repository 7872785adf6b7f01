"""Budgets settings from `GATEWRIGHT_*` env vars; unsafe defaults refused outside development.

On top of `ServiceSettings` (which carries `GATEWRIGHT_IDENTITY_URL`, `GATEWRIGHT_SERVICE_TOKEN`
and `GATEWRIGHT_JWKS_CACHE_SECONDS`):

- `GATEWRIGHT_SWEEP_INTERVAL_SECONDS` (default 5): how often expired reservations are swept.
- `GATEWRIGHT_SWEEP_BATCH` (default 500): at most this many reservations expired per sweep.
- `GATEWRIGHT_RESERVATION_LIST_MAX` (default 1000): the largest `limit` a list accepts.

The clock is not a setting: `create_app(settings, clock=...)` takes one, so tests can move time.
"""

from __future__ import annotations

from pydantic import Field

from gatewright.servicekit import ServiceSettings


class BudgetsSettings(ServiceSettings):
    sweep_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    sweep_batch: int = Field(default=500, ge=1, le=100_000)
    reservation_list_max: int = Field(default=1000, ge=1, le=10_000)
