"""Route dependencies as `Annotated` aliases: settings, DB, clock, path IDs; the caller and its
permission come from `gatewright.servicekit.access` (re-exported here).

The seams `get_token_verifier` and `get_authorizer` (servicekit's, reading `app.state.verifier`
and `app.state.authorizer`) are overridable with `app.dependency_overrides`; the provider
contract test accepts the pact's example tokens through them.

The service token is accepted on every route (services, operators, the harness): it passes every
permission, and it alone may ingest, read the platform chain, or search every chain by request ID.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gatewright.audit.service.config import AuditSettings
from gatewright.servicekit.access import (
    AuthorizerDep,
    Caller,
    CallerDep,
    Decision,
    Service,
    ServiceCaller,
    authorize,
    get_authorizer,
    get_token_verifier,
)
from gatewright.servicekit.deps import DB, Now, get_clock, get_db, id_path, now

__all__ = [
    "DB",
    "AuthorizerDep",
    "Caller",
    "CallerDep",
    "Decision",
    "Now",
    "OrgId",
    "Service",
    "ServiceCaller",
    "SettingsDep",
    "authorize",
    "get_authorizer",
    "get_clock",
    "get_db",
    "get_settings",
    "get_token_verifier",
    "now",
]


async def get_settings(request: Request) -> AuditSettings:
    settings: AuditSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[AuditSettings, Depends(get_settings)]


# Path parameters: IDs from other services, bounded and printable (servicekit's one rule).
OrgId = Annotated[str, id_path()]
