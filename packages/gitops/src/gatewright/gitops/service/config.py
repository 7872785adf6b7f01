"""Gitops settings from `GATEWRIGHT_*` env vars (on top of servicekit's `ServiceSettings`, which
carries `GATEWRIGHT_IDENTITY_URL` and `GATEWRIGHT_SERVICE_TOKEN`).

- `GATEWRIGHT_BUDGETS_URL` (default `http://127.0.0.1:8002`), `GATEWRIGHT_GATEWAY_URL`
  (default `http://127.0.0.1:8003`): where live budgets and routes are read and applied.
- `GATEWRIGHT_RECONCILE_LOOP` (default true): run the background scheduler (polls, refreshes).
  The provider contract test turns it off so that a status it seeded stays as it is.
- `GATEWRIGHT_MAX_PARALLEL_RECONCILES` (default 4): different Applications reconcile in
  parallel up to this many; one Application never overlaps itself.
- `GATEWRIGHT_GIT_TIMEOUT_SECONDS` (default 60): a fetch that takes longer fails the reconcile.
- `GATEWRIGHT_LEASE_SECONDS` (default 300): how long the per-Application lease a reconcile
  takes in the database lasts (`store.acquire_lease`): replicas over one database never
  reconcile one Application at once. Keep it above the longest reconcile: one that outlives
  its lease may overlap another replica's.
- `GATEWRIGHT_MAX_MANIFEST_BYTES` (default 1 MiB per file), `GATEWRIGHT_MAX_MANIFEST_FILES` (500).
- `GATEWRIGHT_WEBHOOK_SECRET` (default unset): the secret GitHub signs deliveries with and GitLab
  sends as its token (`POST /v1/hooks/git`; printable ASCII, as a header carries it). Unset (or
  empty), webhooks are refused with 503
  `webhooks_not_configured`; it lives only in the environment (never stored, never logged).

The cache clones live under `GATEWRIGHT_DATA_DIR/gitops-repos/`, one per repository URL.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from gatewright.servicekit import ServiceSettings


class GitopsSettings(ServiceSettings):
    budgets_url: str = "http://127.0.0.1:8002"
    gateway_url: str = "http://127.0.0.1:8003"
    reconcile_loop: bool = True
    max_parallel_reconciles: int = Field(default=4, ge=1, le=64)
    git_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    lease_seconds: float = Field(default=300.0, ge=1, le=86_400)
    max_manifest_bytes: int = Field(default=1 << 20, ge=1024)
    max_manifest_files: int = Field(default=500, ge=1)
    webhook_secret: SecretStr | None = None

    @field_validator("webhook_secret")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty variable (`GATEWRIGHT_WEBHOOK_SECRET=`) must not become a secret anyone knows.
        if value is None or not value.get_secret_value():
            return None
        # GitLab sends the secret itself in a header, which carries printable ASCII only.
        if not all(" " < c <= "~" for c in value.get_secret_value()):
            raise ValueError("the webhook secret must be printable ASCII without spaces")
        return value

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "gitops-repos"
