"""Route dependencies as `Annotated` aliases: settings, DB, clock, path IDs; the caller and its
permission come from `gatewright.servicekit.access` (re-exported here).

The seams `get_token_verifier` and `get_authorizer` (servicekit's, reading `app.state.verifier`
and `app.state.authorizer`) are overridable with `app.dependency_overrides`; the provider
contract test accepts the pact's example tokens through them.

The service token is accepted on every route (operators, gitops): it passes every permission.
A 403 is recorded as `authz.denied` by the app's error handler (`events.record_denial`), with
the caller `caller` keeps on `request.state.caller`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gatewright.budgets.service.config import BudgetsSettings
from gatewright.servicekit.access import (
    AuthorizerDep,
    Caller,
    CallerDep,
    Decision,
    OrgDirectoryDep,
    Service,
    actor,
    authorize,
    get_authorizer,
    get_org_directory,
    get_token_verifier,
    require_org,
)
from gatewright.servicekit.deps import DB, Now, get_clock, get_db, id_path, now

__all__ = [
    "DB",
    "AuthorizerDep",
    "Caller",
    "CallerDep",
    "Decision",
    "KeyId",
    "Now",
    "OrgDirectoryDep",
    "OrgId",
    "ReservationId",
    "Service",
    "SettingsDep",
    "actor",
    "authorize",
    "get_authorizer",
    "get_clock",
    "get_db",
    "get_org_directory",
    "get_settings",
    "get_token_verifier",
    "now",
    "require_org",
]


async def get_settings(request: Request) -> BudgetsSettings:
    settings: BudgetsSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[BudgetsSettings, Depends(get_settings)]


# Path parameters: IDs, bounded and printable (servicekit's one rule); a reservation's ID is
# longer than identity's (it holds the caller's request ID).
OrgId = Annotated[str, id_path()]
KeyId = Annotated[str, id_path()]
ReservationId = Annotated[str, id_path(max_length=200)]
