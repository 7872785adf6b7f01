"""Audit settings from `GATEWRIGHT_*` env vars; unsafe defaults refused outside development.

On top of `ServiceSettings` (which carries `GATEWRIGHT_DATABASE_URL`, `GATEWRIGHT_DATA_DIR`,
`GATEWRIGHT_IDENTITY_URL`, `GATEWRIGHT_SERVICE_TOKEN` and `GATEWRIGHT_JWKS_CACHE_SECONDS`):

- `GATEWRIGHT_MAX_BODY_BYTES` (default 2 MiB): the largest request body; a full batch of 100
  events with 16 KiB of details each fits. Larger bodies get 413 before they are parsed.
- `GATEWRIGHT_VERIFY_BATCH` (default 1000): rows read per round trip when verifying a chain.

The clock is not a setting: `create_app(settings, clock=...)` takes one (it stamps
`received_at`), so tests can pin time.
"""

from __future__ import annotations

from pydantic import Field

from gatewright.servicekit import ServiceSettings


class AuditSettings(ServiceSettings):
    max_body_bytes: int = Field(default=2 << 20, ge=64 << 10, le=64 << 20)
    verify_batch: int = Field(default=1000, ge=1, le=100_000)
