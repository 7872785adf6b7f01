"""Gateway settings from `GATEWRIGHT_*` env vars (on top of servicekit's `ServiceSettings`).

- `GATEWRIGHT_BUDGETS_URL` (default `http://127.0.0.1:8002`)
- `GATEWRIGHT_KEY_CACHE_SECONDS` (default 5): how long a verified API key is trusted without
  asking identity again; a backstop, since identity's revocation hook evicts keys at once
- `GATEWRIGHT_ROUTE_CACHE_SECONDS` (default 2): route lookups cached per replica; writes through
  this replica evict at once
- `GATEWRIGHT_PUBLIC_URL` (optional): how identity reaches this gateway for the revocation hook;
  `python -m gatewright.gateway` derives it from an inherited socket when unset
- `GATEWRIGHT_DEFAULT_MAX_TOKENS` (16) and `GATEWRIGHT_MAX_TOKENS_LIMIT` (32768)
- `GATEWRIGHT_REGISTER_REVOCATION_HOOK` (default true)
"""

from __future__ import annotations

from pydantic import Field

from gatewright.servicekit import ServiceSettings


class GatewaySettings(ServiceSettings):
    budgets_url: str = "http://127.0.0.1:8002"
    key_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    route_cache_seconds: float = Field(default=2.0, ge=0, le=3600)
    public_url: str | None = None
    default_max_tokens: int = Field(default=16, ge=1)
    max_tokens_limit: int = Field(default=32_768, ge=1)
    register_revocation_hook: bool = True
    reservation_ttl_seconds: int = Field(default=600, ge=1, le=86_400)
