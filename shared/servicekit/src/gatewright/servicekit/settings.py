"""Settings read from `GATEWRIGHT_*` environment variables; services subclass `ServiceSettings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWRIGHT_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    # A listening socket inherited from the launcher (no free-port race); wins over host/port.
    fd: int | None = None
    data_dir: Path = Path(".gatewright")
    database_url: str | None = None
    log_level: str = "INFO"
    # Shared secret that service-only endpoints (key verification, audit ingest) require.
    service_token: SecretStr = SecretStr("dev-service-token")
    identity_url: str = "http://127.0.0.1:8001"
    jwks_cache_seconds: float = Field(default=300.0, ge=0)
    # Where audit events are delivered (servicekit.audit); None keeps them in the outbox only.
    audit_url: str | None = None
    # Delivered outbox rows older than this are deleted (the audit service keeps the events).
    audit_outbox_retention_seconds: float = Field(default=86_400.0, ge=60)

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> ServiceSettings:
        if (
            self.environment != "development"
            and self.service_token.get_secret_value() == "dev-service-token"
        ):
            raise ValueError("GATEWRIGHT_SERVICE_TOKEN must be set outside development")
        return self

    def database_url_for(self, service: str) -> str:
        """PostgreSQL when GATEWRIGHT_DATABASE_URL says so, else a SQLite file per service."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"
