"""Gateway settings from `GATEWRIGHT_*` env vars (on top of servicekit's `ServiceSettings`).

- `GATEWRIGHT_BUDGETS_URL` (default `http://127.0.0.1:8002`)
- `GATEWRIGHT_KEY_CACHE_SECONDS` (default 5): how long a verified API key is trusted without
  asking identity again; a backstop, since identity's revocation hook evicts keys at once
- `GATEWRIGHT_ROUTE_CACHE_SECONDS` (default 2): route lookups cached per replica; writes through
  this replica evict at once
- `GATEWRIGHT_PUBLIC_URL` (optional): how identity reaches this gateway for the revocation hook;
  `python -m gatewright.gateway` derives it from an inherited socket when unset
- `GATEWRIGHT_REGISTER_REVOCATION_HOOK` (default true)
- `GATEWRIGHT_RESERVATION_TTL_SECONDS` (default 600, at most budgets'
  `gatewright.budgets.MAX_TTL_SECONDS`): how long a completion's budget reservation lives, and so
  how long a completion may run (decision 10: the gateway stops a completion before its
  reservation would lapse)

A request's default and largest `max_tokens` are per route (`max_output_tokens`, decision 10),
not settings.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gatewright.budgets import MAX_TTL_SECONDS
from gatewright.servicekit import ServiceSettings

# The commit of a completion must reach budgets before its reservation lapses; this much of the
# TTL (at most) is kept for it (the budgets client's own timeout is 5 s, plus one retry).
COMMIT_MARGIN_SECONDS = 10.0


class GatewaySettings(ServiceSettings):
    budgets_url: str = "http://127.0.0.1:8002"
    key_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    route_cache_seconds: float = Field(default=2.0, ge=0, le=3600)
    public_url: str | None = None
    register_revocation_hook: bool = True
    reservation_ttl_seconds: int = Field(default=600, ge=1)

    @field_validator("reservation_ttl_seconds")
    @classmethod
    def _budgets_accepts_the_ttl(cls, value: int) -> int:
        # Budgets refuses a longer reservation (422), which the gateway can only report as 503
        # on every completion: refuse to start instead, naming both sides of the limit.
        if value > MAX_TTL_SECONDS:
            raise ValueError(
                f"GATEWRIGHT_RESERVATION_TTL_SECONDS is {value}, but budgets refuses reservations "
                f"longer than gatewright.budgets.MAX_TTL_SECONDS ({MAX_TTL_SECONDS} s): every "
                f"completion would fail with 503 budgets_unavailable; set it to at most "
                f"{MAX_TTL_SECONDS}"
            )
        return value

    @property
    def completion_seconds(self) -> float:
        """How long a completion may take from its reservation to its commit: the reservation
        TTL less the time its commit needs (a tenth of the TTL, at most 10 s)."""
        ttl = float(self.reservation_ttl_seconds)
        return ttl - min(COMMIT_MARGIN_SECONDS, ttl / 10)
