"""Route dependencies as `Annotated` aliases: settings, DB, clock, the scheduler, and who may
manage which Application.

Who may (`Manager`, an `Access`): the service token and **platform admins** manage every
Application; a user holding `gitops:manage` in an Application's org (identity's matrix: owner,
admin) manages that one (decision 15). A platform-wide Application (no `org_id`) is for the
service token and platform admins only. Two seams, overridable with `app.dependency_overrides`:

- `get_caller_check` (`app.state.caller_check`): who a user's token belongs to and whether they
  are a platform admin, by asking identity (`GET /v1/users/me` with that token: identity verifies
  it);
- servicekit's `get_authorizer` (`app.state.authorizer`): identity's `POST /v1/authz/check`
  (with the service token), asked once per org per request.

A refusal is 403 `permission_denied` (details role, permission `gitops:manage`, org_id), recorded
as servicekit's `authz.denied` by the app's error observer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Path, Request

from gatewright.core import APIConnectionError, APIStatusError, AuthenticationError, NotFound
from gatewright.gitops.models import SLUG_PATTERN
from gatewright.gitops.service.config import GitopsSettings
from gatewright.gitops.service.scheduler import Scheduler
from gatewright.identity import Client as IdentityClient
from gatewright.servicekit import ServiceError, outbound_request_id
from gatewright.servicekit.access import (
    Authorizer,
    AuthorizerDep,
    Decision,
    ServiceCaller,
    UserCaller,
)
from gatewright.servicekit.auth import bearer_token, is_service_token
from gatewright.servicekit.deps import DB, Now, get_clock, get_db, now

__all__ = [
    "DB",
    "PERMISSION",
    "Access",
    "AppName",
    "CallerCheck",
    "IdentityCallerCheck",
    "IdentityOrgNames",
    "Manager",
    "ManagerCaller",
    "Now",
    "OrgNames",
    "OrgNamesDep",
    "SchedulerDep",
    "SettingsDep",
    "Who",
    "get_caller_check",
    "get_clock",
    "get_db",
    "get_org_names",
    "get_scheduler",
    "get_settings",
    "manager",
    "now",
]


PERMISSION = "gitops:manage"


@dataclass(frozen=True)
class Who:
    """A user behind an access token, as identity says."""

    user_id: str
    is_platform_admin: bool


class CallerCheck(Protocol):
    def whoami(self, token: str) -> Who:
        """The user behind `token`; 401/503 `ServiceError` when it is not valid or identity
        cannot say."""
        ...


class IdentityCallerCheck:
    """`CallerCheck` over identity's `GET /v1/users/me`, called with the user's own token."""

    def __init__(self, identity_url: str) -> None:
        self.identity_url = identity_url

    def whoami(self, token: str) -> Who:
        with IdentityClient(
            self.identity_url, token=token, request_id_factory=outbound_request_id
        ) as identity:
            try:
                me = identity.users.me()
            except AuthenticationError as exc:
                raise ServiceError(401, "unauthenticated", exc.message) from exc
            except (APIConnectionError, APIStatusError) as exc:
                raise ServiceError(
                    503, "identity_unavailable", f"Cannot ask identity who is calling: {exc}"
                ) from exc
            return Who(me.id, me.is_platform_admin)


@dataclass(frozen=True)
class ManagerCaller:
    """Who manages Applications: a service (the service token; `user_id` None), a platform
    admin, or another user (`user_id`): the actor of the audit events."""

    user_id: str | None
    is_platform_admin: bool = False

    @property
    def manages_all(self) -> bool:
        return self.user_id is None or self.is_platform_admin


@dataclass
class Access:
    """The caller of one request and what they may manage (identity asked once per org)."""

    who: ManagerCaller
    authorizer: Authorizer
    _decided: dict[str, Decision] = field(default_factory=dict)

    @property
    def user_id(self) -> str | None:
        return self.who.user_id

    def _decision(self, org_id: str) -> Decision:
        assert self.who.user_id is not None
        if org_id not in self._decided:
            self._decided[org_id] = self.authorizer.check(
                subject=self.who.user_id, org_id=org_id, permission=PERMISSION
            )
        return self._decided[org_id]

    def may(self, org_id: str | None) -> bool:
        """May the caller manage an Application of `org_id` (None: a platform-wide one)?"""
        if self.who.manages_all:
            return True
        return org_id is not None and self._decision(org_id).allowed

    def require(self, org_id: str | None) -> None:
        """403 `permission_denied` unless the caller may manage an Application of `org_id`."""
        if self.may(org_id):
            return
        if org_id is None:
            raise ServiceError(
                403,
                "permission_denied",
                "A platform-wide Application (no org_id) is managed by platform admins and the "
                "service token only; give it the org_id of an org where you hold "
                f"'{PERMISSION}'.",
                details={"role": None, "permission": PERMISSION, "org_id": None},
            )
        decision = self._decision(org_id)
        raise ServiceError(
            403,
            "permission_denied",
            decision.reason,
            details={"role": decision.role, "permission": PERMISSION, "org_id": org_id},
        )


class OrgNames(Protocol):
    def name_of(self, org_id: str) -> str | None:
        """The org's name, None when identity knows no such org; 503 `ServiceError` when it
        cannot say."""
        ...


class IdentityOrgNames:
    """`OrgNames` over identity's `GET /v1/orgs/{org_id}` (the service token client)."""

    def __init__(self, client: IdentityClient) -> None:
        self._client = client

    def name_of(self, org_id: str) -> str | None:
        try:
            return self._client.orgs.get(org_id).name
        except NotFound:
            return None
        except (APIConnectionError, APIStatusError) as exc:
            raise ServiceError(
                503, "identity_unavailable", f"Cannot read org {org_id} from identity: {exc}"
            ) from exc


async def get_settings(request: Request) -> GitopsSettings:
    settings: GitopsSettings = request.app.state.settings
    return settings


async def get_scheduler(request: Request) -> Scheduler | None:
    scheduler: Scheduler | None = request.app.state.scheduler
    return scheduler


async def get_org_names(request: Request) -> OrgNames:
    names: OrgNames = request.app.state.org_names
    return names


async def get_caller_check(request: Request) -> CallerCheck:
    check: CallerCheck = request.app.state.caller_check
    return check


def manager(
    request: Request,
    settings: Annotated[GitopsSettings, Depends(get_settings)],
    callers: Annotated[CallerCheck, Depends(get_caller_check)],
    authorizer: AuthorizerDep,
) -> Access:
    """Dependency: the service token, or a user's access token (401 otherwise); what they may
    manage is asked per Application (`Access.require`)."""
    token = bearer_token(request)
    if is_service_token(token, settings.service_token.get_secret_value()):
        request.state.caller = ServiceCaller()
        return Access(ManagerCaller(None), authorizer)
    who = callers.whoami(token)
    request.state.caller = UserCaller(who.user_id)
    return Access(ManagerCaller(who.user_id, who.is_platform_admin), authorizer)


SettingsDep = Annotated[GitopsSettings, Depends(get_settings)]
SchedulerDep = Annotated[Scheduler | None, Depends(get_scheduler)]
Manager = Annotated[Access, Depends(manager)]
OrgNamesDep = Annotated[OrgNames, Depends(get_org_names)]
AppName = Annotated[
    str, Path(min_length=1, max_length=63, pattern=SLUG_PATTERN, description="A slug.")
]
