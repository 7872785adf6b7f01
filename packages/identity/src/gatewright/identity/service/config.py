"""Identity settings from `GATEWRIGHT_*` env vars; unsafe defaults refused outside development.

On top of `ServiceSettings`:

- `GATEWRIGHT_BOOTSTRAP_ADMIN_EMAIL` (default `admin@gatewright.test`)
- `GATEWRIGHT_BOOTSTRAP_ADMIN_PASSWORD` (development default `dev-admin-password`; must be set
  to something else when `GATEWRIGHT_ENVIRONMENT=production`)
- `GATEWRIGHT_ACCESS_TOKEN_TTL_SECONDS` (default 900)
- `GATEWRIGHT_INVITATION_TTL_SECONDS` (default 7 days)
- `GATEWRIGHT_ARGON2_TIME_COST` / `GATEWRIGHT_ARGON2_MEMORY_KIB` (argon2id cost; tests lower them)
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from gatewright.identity.models import MAX_INVITATION_TTL_SECONDS
from gatewright.servicekit import ServiceSettings

DEV_ADMIN_PASSWORD = "dev-admin-password"  # noqa: S105 - refused outside development


class IdentitySettings(ServiceSettings):
    bootstrap_admin_email: str = Field(
        default="admin@gatewright.test", min_length=3, max_length=254
    )
    bootstrap_admin_password: SecretStr = SecretStr(DEV_ADMIN_PASSWORD)
    access_token_ttl_seconds: int = Field(default=900, ge=1, le=86_400)
    invitation_ttl_seconds: int = Field(default=7 * 86_400, ge=1, le=MAX_INVITATION_TTL_SECONDS)
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65_536, ge=64, le=4_194_304)

    @model_validator(mode="after")
    def _refuse_dev_admin_password(self) -> IdentitySettings:
        password = self.bootstrap_admin_password.get_secret_value()
        if self.environment != "development" and password == DEV_ADMIN_PASSWORD:
            raise ValueError("GATEWRIGHT_BOOTSTRAP_ADMIN_PASSWORD must be set outside development")
        if len(password) < 8:
            raise ValueError("GATEWRIGHT_BOOTSTRAP_ADMIN_PASSWORD must have at least 8 characters")
        return self
