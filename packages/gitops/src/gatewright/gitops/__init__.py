"""Gatewright gitops client: `Client` / `AsyncClient`, wire models, and pact names.

The service lives in `gatewright.gitops.service` and needs the `[service]` extra; nothing here
imports it, FastAPI, servicekit or GitPython.
"""

from gatewright.gitops._client import (
    DEFAULT_WAIT_TIMEOUT,
    Applications,
    AsyncApplications,
    AsyncClient,
    AsyncHooks,
    Client,
    Hooks,
    SyncFailed,
    SyncTimeout,
    WaitError,
)
from gatewright.gitops._hooks import (
    github_push_payload,
    gitlab_push_payload,
    sign_github,
    verify_github_signature,
)
from gatewright.gitops.contract import (
    CONSUMER,
    PROVIDER,
    STATE_APPLICATION_EXISTS,
    STATE_SERVICE_TOKEN,
    STATE_WEBHOOK_SECRET,
)
from gatewright.gitops.models import (
    HEALTH_STATUSES,
    KINDS,
    SYNC_STATUSES,
    Application,
    ApplicationList,
    ApplicationStatus,
    Condition,
    FieldDiff,
    HealthStatus,
    HookResult,
    InventoryEntry,
    Kind,
    Operation,
    RefreshAccepted,
    ResourceStatus,
    SyncPolicy,
    SyncStatus,
)

__all__ = [
    "CONSUMER",
    "DEFAULT_WAIT_TIMEOUT",
    "HEALTH_STATUSES",
    "KINDS",
    "PROVIDER",
    "STATE_APPLICATION_EXISTS",
    "STATE_SERVICE_TOKEN",
    "STATE_WEBHOOK_SECRET",
    "SYNC_STATUSES",
    "Application",
    "ApplicationList",
    "ApplicationStatus",
    "Applications",
    "AsyncApplications",
    "AsyncClient",
    "AsyncHooks",
    "Client",
    "Condition",
    "FieldDiff",
    "HealthStatus",
    "HookResult",
    "Hooks",
    "InventoryEntry",
    "Kind",
    "Operation",
    "RefreshAccepted",
    "ResourceStatus",
    "SyncFailed",
    "SyncPolicy",
    "SyncStatus",
    "SyncTimeout",
    "WaitError",
    "github_push_payload",
    "gitlab_push_payload",
    "sign_github",
    "verify_github_signature",
]
