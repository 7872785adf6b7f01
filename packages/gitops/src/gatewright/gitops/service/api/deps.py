"""Route dependencies as `Annotated` aliases: settings, DB, clock, the scheduler, and who may
manage Applications.

Applications are platform-wide (one may manage many orgs), so managing them is not an org
permission: the service token or a **platform admin** may (`Manager`). A user's token is checked
by asking identity who it is (`GET /v1/users/me` with that token, through the identity client):
identity verifies the token, and says whether the user is a platform admin. That check is the
seam `get_admin_check` (`app.state.admin_check`), overridable with `app.dependency_overrides`.
A per-org `gitops:manage` permission in identity's matrix is for when Applications belong to
orgs (a later slice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Path, Request

from gatewright.core import APIConnectionError, APIStatusError, AuthenticationError
from gatewright.gitops.models import SLUG_PATTERN
from gatewright.gitops.service.config import GitopsSettings
from gatewright.gitops.service.scheduler import Scheduler
from gatewright.identity import Client as IdentityClient
from gatewright.servicekit import ServiceError, outbound_request_id
from gatewright.servicekit.auth import bearer_token, is_service_token
from gatewright.servicekit.deps import DB, Now, get_clock, get_db, now

__all__ = [
    "DB",
    "AdminCheck",
    "AppName",
    "IdentityAdminCheck",
    "Manager",
    "ManagerCaller",
    "Now",
    "SchedulerDep",
    "SettingsDep",
    "get_admin_check",
    "get_clock",
    "get_db",
    "get_scheduler",
    "get_settings",
    "manager",
    "now",
]


class AdminCheck(Protocol):
    def platform_admin(self, token: str) -> str | None:
        """The user ID behind `token` if that user is a platform admin, else None; 401/503
        `ServiceError` when the token is not valid or identity cannot say."""
        ...


class IdentityAdminCheck:
    """`AdminCheck` over identity's `GET /v1/users/me`, called with the user's own token."""

    def __init__(self, identity_url: str) -> None:
        self.identity_url = identity_url

    def platform_admin(self, token: str) -> str | None:
        with IdentityClient(
            self.identity_url, token=token, request_id_factory=outbound_request_id
        ) as identity:
            try:
                me = identity.users.me()
                return me.id if me.is_platform_admin else None
            except AuthenticationError as exc:
                raise ServiceError(401, "unauthenticated", exc.message) from exc
            except (APIConnectionError, APIStatusError) as exc:
                raise ServiceError(
                    503, "identity_unavailable", f"Cannot ask identity who is calling: {exc}"
                ) from exc


@dataclass(frozen=True)
class ManagerCaller:
    """Who manages Applications: a service (the service token; `user_id` None) or a platform
    admin (`user_id`), the actor of the audit events."""

    user_id: str | None


async def get_settings(request: Request) -> GitopsSettings:
    settings: GitopsSettings = request.app.state.settings
    return settings


async def get_scheduler(request: Request) -> Scheduler | None:
    scheduler: Scheduler | None = request.app.state.scheduler
    return scheduler


async def get_admin_check(request: Request) -> AdminCheck:
    check: AdminCheck = request.app.state.admin_check
    return check


def manager(
    request: Request,
    settings: Annotated[GitopsSettings, Depends(get_settings)],
    admins: Annotated[AdminCheck, Depends(get_admin_check)],
) -> ManagerCaller:
    """Dependency: the service token, or a platform admin's access token (403 otherwise)."""
    token = bearer_token(request)
    if is_service_token(token, settings.service_token.get_secret_value()):
        return ManagerCaller(None)
    user_id = admins.platform_admin(token)
    if user_id is None:
        raise ServiceError(
            403,
            "permission_denied",
            "Managing Applications needs a platform admin or the service token.",
            details={"permission": "gitops:manage"},
        )
    return ManagerCaller(user_id)


SettingsDep = Annotated[GitopsSettings, Depends(get_settings)]
SchedulerDep = Annotated[Scheduler | None, Depends(get_scheduler)]
Manager = Annotated[ManagerCaller, Depends(manager)]
AppName = Annotated[
    str, Path(min_length=1, max_length=63, pattern=SLUG_PATTERN, description="A slug.")
]
