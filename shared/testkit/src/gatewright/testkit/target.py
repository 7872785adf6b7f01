"""`Target`: where the services under test are, and the credentials the tests use.

Three sources, first match wins:

1. a target file: `--gw-target path` or `GATEWRIGHT_TARGET_FILE` (TOML or JSON):

       [services]
       identity = "https://identity.staging.example"
       [admin]
       email = "admin@example.com"
       password_env = "STAGING_ADMIN_PASSWORD"   # the secret itself stays in the environment
       # top level:
       service_token_env = "STAGING_SERVICE_TOKEN"
       webhook_secret_env = "STAGING_WEBHOOK_SECRET"   # gitops's GATEWRIGHT_WEBHOOK_SECRET

2. env vars: `GATEWRIGHT_<SERVICE>_URL` for each needed service, plus `GATEWRIGHT_ADMIN_EMAIL`,
   `GATEWRIGHT_ADMIN_PASSWORD`, `GATEWRIGHT_SERVICE_TOKEN`, `GATEWRIGHT_WEBHOOK_SECRET`;
3. otherwise the plugin starts a `LocalStack` and builds the target from it.

Secrets live only in memory (and travel to xdist workers inside `workerinput`): `public_dict()`
is what artifacts and reports show.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatewright.testkit.redact import register_secret

TARGET_FILE_ENV = "GATEWRIGHT_TARGET_FILE"
ADMIN_EMAIL_ENV = "GATEWRIGHT_ADMIN_EMAIL"
ADMIN_PASSWORD_ENV = "GATEWRIGHT_ADMIN_PASSWORD"  # noqa: S105  # a variable name
SERVICE_TOKEN_ENV = "GATEWRIGHT_SERVICE_TOKEN"  # noqa: S105  # a variable name
WEBHOOK_SECRET_ENV = "GATEWRIGHT_WEBHOOK_SECRET"  # noqa: S105  # a variable name


class TargetError(Exception):
    """The target is incomplete or unreadable."""


def service_url_env(service: str) -> str:
    """`identity` -> `GATEWRIGHT_IDENTITY_URL`."""
    return f"GATEWRIGHT_{service.upper().replace('-', '_')}_URL"


@dataclass
class Target:
    """Base URLs per service plus credentials."""

    services: dict[str, str]
    admin_email: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    service_token: str | None = field(default=None, repr=False)
    # The secret gitops checks webhook deliveries with (GitHub's signature key, GitLab's token).
    webhook_secret: str | None = field(default=None, repr=False)
    source: str = "local"
    # Local stacks only: each service's data directory (SQLite files), for flows that must
    # look beneath the API, e.g. tampering with a stored audit event.
    data_dirs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.services = {name: url.rstrip("/") for name, url in self.services.items()}
        self.register_secrets()

    def register_secrets(self) -> None:
        register_secret(self.admin_password)
        register_secret(self.service_token)
        register_secret(self.webhook_secret)

    def url(self, service: str) -> str:
        try:
            return self.services[service]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            raise TargetError(
                f"the target ({self.source}) has no URL for service {service!r} "
                f"(it has: {known}); set {service_url_env(service)} or add it to the target file"
            ) from None

    def missing(self, services: Iterable[str]) -> list[str]:
        return [s for s in services if s not in self.services]

    def public_dict(self) -> dict[str, Any]:
        """Safe to print and to write to artifacts: no secrets."""
        return {
            "source": self.source,
            "services": dict(self.services),
            "admin_email": self.admin_email,
            "admin_password": "***" if self.admin_password else None,
            "service_token": "***" if self.service_token else None,
            "webhook_secret": "***" if self.webhook_secret else None,
            "data_dirs": dict(self.data_dirs),
        }

    def to_json(self, *, include_secrets: bool = False) -> str:
        """JSON; with `include_secrets` only for handing to a worker process in memory."""
        data = self.public_dict()
        if include_secrets:
            data["admin_password"] = self.admin_password
            data["service_token"] = self.service_token
            data["webhook_secret"] = self.webhook_secret
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Target:
        data = json.loads(text)
        return cls(
            services=dict(data["services"]),
            admin_email=data.get("admin_email"),
            admin_password=data.get("admin_password"),
            service_token=data.get("service_token"),
            webhook_secret=data.get("webhook_secret"),
            source=data.get("source", "json"),
            data_dirs=dict(data.get("data_dirs") or {}),
        )

    @classmethod
    def from_file(cls, path: str | Path, environ: Mapping[str, str] | None = None) -> Target:
        """Read a TOML (`.toml`) or JSON target file; secrets come from the env vars it names."""
        env = os.environ if environ is None else environ
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
            data: dict[str, Any] = tomllib.loads(raw) if path.suffix == ".toml" else json.loads(raw)
        except (OSError, ValueError) as exc:
            raise TargetError(f"cannot read target file {path}: {exc}") from exc
        services = data.get("services")
        if not isinstance(services, dict) or not services:
            raise TargetError(f"target file {path} has no [services] table")
        admin = data.get("admin") or {}

        def secret(var: object, what: str) -> str | None:
            if not var:
                return None
            value = env.get(str(var))
            if not value:
                raise TargetError(f"target file {path} reads {what} from ${var}, which is unset")
            return value

        return cls(
            services={str(k): str(v) for k, v in services.items()},
            admin_email=admin.get("email"),
            admin_password=secret(admin.get("password_env"), "the admin password"),
            service_token=secret(data.get("service_token_env"), "the service token"),
            webhook_secret=secret(data.get("webhook_secret_env"), "the webhook secret"),
            source=f"file {path}",
        )

    @classmethod
    def from_env(
        cls, services: Iterable[str], environ: Mapping[str, str] | None = None
    ) -> Target | None:
        """A target from `GATEWRIGHT_<SERVICE>_URL` vars, or None when none of them is set."""
        env = os.environ if environ is None else environ
        wanted = list(services)
        found = {s: env[service_url_env(s)] for s in wanted if env.get(service_url_env(s))}
        if not found:
            return None
        missing = [service_url_env(s) for s in wanted if s not in found]
        if missing:
            raise TargetError(
                f"some service URLs are set in the environment but not {', '.join(missing)}"
            )
        return cls(
            services=found,
            admin_email=env.get(ADMIN_EMAIL_ENV) or None,
            admin_password=env.get(ADMIN_PASSWORD_ENV) or None,
            service_token=env.get(SERVICE_TOKEN_ENV) or None,
            webhook_secret=env.get(WEBHOOK_SECRET_ENV) or None,
            source="environment",
        )
