"""Route dependencies as `Annotated` aliases: settings, DB, clock, the caller and its permission.

Two seams, both read from `app.state` and both overridable with `app.dependency_overrides`:

- `get_token_verifier`: verifies a user access token (default: servicekit's `JWKSVerifier` on
  `{identity_url}/.well-known/jwks.json`); the provider contract test accepts the pact's example
  tokens through it.
- `get_authorizer`: the permission check (default: identity's `authz.check` through the identity
  client package, with the service token and the current request ID).

The service token is accepted on every route (operators, gitops): it passes every permission.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Path, Request

from gatewright.audit import ActorType
from gatewright.budgets.service.config import BudgetsSettings
from gatewright.core import APIConnectionError, APIStatusError
from gatewright.identity import Client as IdentityClient
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.auth import bearer_token, is_service_token

SERVICE_NAME_HEADER = "X-Gatewright-Service"


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token; raises a 401 `ServiceError` otherwise."""
        ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    role: str
    reason: str


class Authorizer(Protocol):
    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        """May `subject` do `permission` in `org_id`? Raises a 503 `ServiceError` if unknown."""
        ...


class IdentityAuthorizer:
    """`Authorizer` over identity's `POST /v1/authz/check` (the identity client package)."""

    def __init__(self, client: IdentityClient) -> None:
        self._client = client

    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        try:
            d = self._client.authz.check(subject=subject, org_id=org_id, permission=permission)
        except (APIConnectionError, APIStatusError) as exc:
            raise ServiceError(
                503,
                "identity_unavailable",
                f"Cannot check permissions with identity: {exc}",
            ) from exc
        return Decision(allowed=d.allowed, role=d.role, reason=d.reason)


@dataclass(frozen=True)
class UserCaller:
    """A user, authenticated by an access token from identity."""

    user_id: str


@dataclass(frozen=True)
class ServiceCaller:
    """Another Gatewright service (or an operator), authenticated by the shared service token."""


Caller = UserCaller | ServiceCaller


def get_settings(request: Request) -> BudgetsSettings:
    settings: BudgetsSettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


def get_authorizer(request: Request) -> Authorizer:
    authorizer: Authorizer = request.app.state.authorizer
    return authorizer


def now(clock: Annotated[Callable[[], datetime], Depends(get_clock)]) -> datetime:
    return clock()


SettingsDep = Annotated[BudgetsSettings, Depends(get_settings)]
DB = Annotated[Database, Depends(get_db)]
Now = Annotated[datetime, Depends(now)]
Verifier = Annotated[TokenVerifier, Depends(get_token_verifier)]
AuthorizerDep = Annotated[Authorizer, Depends(get_authorizer)]


def caller(request: Request, settings: SettingsDep, verifier: Verifier) -> Caller:
    token = bearer_token(request)
    if is_service_token(token, settings.service_token.get_secret_value()):
        who: Caller = ServiceCaller()
    else:
        claims = verifier.verify(token)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ServiceError(401, "unauthenticated", "The access token names no subject.")
        who = UserCaller(user_id=subject)
    request.state.caller = who  # the actor of an `authz.denied` audit event
    return who


def require_service(request: Request, settings: SettingsDep) -> ServiceCaller:
    token = bearer_token(request)
    if not is_service_token(token, settings.service_token.get_secret_value()):
        raise ServiceError(401, "unauthenticated", "This endpoint is for Gatewright services only.")
    return ServiceCaller()


CallerDep = Annotated[Caller, Depends(caller)]
Service = Annotated[ServiceCaller, Depends(require_service)]


def authorize(who: Caller, authorizer: Authorizer, *, org_id: str, permission: str) -> None:
    """Raise 403 `permission_denied` with identity's reason unless `who` may do `permission`."""
    if isinstance(who, ServiceCaller):
        return
    decision = authorizer.check(subject=who.user_id, org_id=org_id, permission=permission)
    if not decision.allowed:
        raise ServiceError(
            403,
            "permission_denied",
            decision.reason,
            details={"role": decision.role, "permission": permission, "org_id": org_id},
        )


# Path parameters: IDs from other services, bounded and printable (identity's own limits).
_ID = r"^[^\x00-\x1f\x7f/]+$"
OrgId = Annotated[str, Path(min_length=1, max_length=100, pattern=_ID)]
KeyId = Annotated[str, Path(min_length=1, max_length=100, pattern=_ID)]
ReservationId = Annotated[str, Path(min_length=1, max_length=200, pattern=_ID)]


_SERVICE_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")


def service_name(request: Request) -> str:
    """The calling service's name, from `X-Gatewright-Service` ("service" when absent or odd).

    The service token is shared, so the name is what the caller says it is: it labels audit
    events (`actor.id`), it authorizes nothing."""
    name = request.headers.get(SERVICE_NAME_HEADER, "").strip().lower()
    return name if _SERVICE_NAME.match(name) else "service"


def actor(request: Request, who: Caller | None) -> tuple[ActorType, str | None]:
    """`(actor_type, actor_id)` of an audit event for this caller."""
    if isinstance(who, UserCaller):
        return "user", who.user_id
    if isinstance(who, ServiceCaller):
        return "service", service_name(request)
    return "anonymous", None
