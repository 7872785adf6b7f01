"""modelsim settings from `GATEWRIGHT_*` env vars.

Everything from servicekit's `ServiceSettings` (host, port, `GATEWRIGHT_FD`, log level, ...), plus:

- `GATEWRIGHT_SIM_TIMEOUT_SECONDS` (default 30, at most 300): how long `sim-timeout` waits
  before it answers; tests lower it to see the answer, a gateway test keeps it above its own
  backend timeout.
- `GATEWRIGHT_OBSERVATIONS_MAX` (default 10 000): size of the observation ring buffer; the
  oldest entries are dropped first.

modelsim has no auth, no database and no secrets, so unlike the other services it starts in
`production` without `GATEWRIGHT_SERVICE_TOKEN` (it never reads it).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from gatewright.servicekit import ServiceSettings


class ModelsimSettings(ServiceSettings):
    sim_timeout_seconds: float = Field(default=30.0, ge=0, le=300)
    observations_max: int = Field(default=10_000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> ModelsimSettings:
        # Replaces ServiceSettings' check of the service token, which modelsim never uses.
        return self
