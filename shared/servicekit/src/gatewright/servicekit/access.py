"""Who is calling, and may they? The one way a service authenticates and authorizes a caller.

A caller is either another Gatewright service (or an operator) holding the shared service token,
a `ServiceCaller`, or a user holding an access token from identity, a `UserCaller`. The service
token passes every permission; a user's permission in an org is asked of identity
(`POST /v1/authz/check`, through the identity client package).

Two seams, both read from `app.state` and both overridable with `app.dependency_overrides`:

- `get_token_verifier` (`app.state.verifier`): verifies a user access token (in production
  servicekit's `JWKSVerifier` on `{identity_url}/.well-known/jwks.json`);
- `get_authorizer` / `get_async_authorizer` (`app.state.authorizer`): the permission check, an
  `IdentityAuthorizer` over the sync identity `Client` or an `AsyncIdentityAuthorizer` over the
  `AsyncClient` (both built with the service token and `request_id_factory=outbound_request_id`);
- `get_org_directory` (`app.state.orgs`): whether an org exists (`IdentityOrgDirectory`), for a
  service that keeps state per org; `require_org` raises 404 `org_not_found` otherwise.

The service token is compared with `app.state.settings.service_token` (a `ServiceSettings`).

Dependencies: `caller` (service token -> `ServiceCaller`, else a verified JWT whose `sub` names
a `UserCaller`; 401 otherwise) and `require_service` (the service token only), with their
`Annotated` aliases `CallerDep` and `Service`. Then `authorize` / `authorize_async` raise 403
`permission_denied` (message identity's reason, details `{role, permission, org_id}`) unless the
caller may; identity being unreachable or failing is 503 `identity_unavailable`. A service that
audits denials passes `on_denied`, called with the user and the 403 just before it is raised.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from gatewright.audit import ActorType
from gatewright.core import APIConnectionError, APIStatusError, NotFound
from gatewright.identity import AuthzDecision
from gatewright.identity import Client as IdentityClient
from gatewright.servicekit.auth import bearer_token, is_service_token
from gatewright.servicekit.correlation import outbound_request_id
from gatewright.servicekit.errors import ServiceError
from gatewright.servicekit.settings import ServiceSettings

SERVICE_NAME_HEADER = "X-Gatewright-Service"
_SERVICE_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")
UNAVAILABLE = "Cannot check permissions with identity"
UNAVAILABLE_ORGS = "Cannot check with identity that the org exists"
NO_SUBJECT = "The access token names no subject."


# -- callers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserCaller:
    """A user, authenticated by an access token from identity."""

    user_id: str


@dataclass(frozen=True)
class ServiceCaller:
    """Another Gatewright service (or an operator), authenticated by the shared service token."""


Caller = UserCaller | ServiceCaller


# -- seams -----------------------------------------------------------------------------------
class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token; raises a 401 `ServiceError` otherwise."""
        ...


@dataclass(frozen=True)
class Decision:
    """Identity's answer: allowed or not, the subject's role in the org, and why."""

    allowed: bool
    role: str
    reason: str


class Authorizer(Protocol):
    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        """May `subject` do `permission` in `org_id`? Raises a 503 `ServiceError` if unknown."""
        ...


class AsyncAuthorizer(Protocol):
    async def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        """May `subject` do `permission` in `org_id`? Raises a 503 `ServiceError` if unknown."""
        ...


class _AsyncAuthzAPI(Protocol):
    async def check(self, *, subject: str, org_id: str, permission: str) -> AuthzDecision: ...


class AsyncIdentityAPI(Protocol):
    """What `AsyncIdentityAuthorizer` needs: `gatewright.identity.AsyncClient` or a fake."""

    @property
    def authz(self) -> _AsyncAuthzAPI: ...


def service_identity(identity_url: str, settings: ServiceSettings) -> IdentityClient:
    """The identity client a service asks with (the sync one): its service token, and every
    request carrying the ID of the request being served (`outbound_request_id`), so one ID
    follows a call into identity. The caller closes it (at the end of its lifespan)."""
    return IdentityClient(
        identity_url.rstrip("/"),
        token=settings.service_token.get_secret_value(),
        request_id_factory=outbound_request_id,
    )


def _unavailable(prefix: str, exc: Exception) -> ServiceError:
    return ServiceError(503, "identity_unavailable", f"{prefix}: {exc}")


class IdentityAuthorizer:
    """`Authorizer` over identity's `POST /v1/authz/check` (the sync identity client).

    `unavailable` starts the 503 message when identity cannot answer."""

    def __init__(self, client: IdentityClient, *, unavailable: str = UNAVAILABLE) -> None:
        self._client = client
        self._unavailable = unavailable

    def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        try:
            d = self._client.authz.check(subject=subject, org_id=org_id, permission=permission)
        except (APIConnectionError, APIStatusError) as exc:
            raise _unavailable(self._unavailable, exc) from exc
        return Decision(allowed=d.allowed, role=d.role, reason=d.reason)


class AsyncIdentityAuthorizer:
    """`AsyncAuthorizer` over identity's `POST /v1/authz/check` (the async identity client)."""

    def __init__(self, client: AsyncIdentityAPI, *, unavailable: str = UNAVAILABLE) -> None:
        self._client = client
        self._unavailable = unavailable

    async def check(self, *, subject: str, org_id: str, permission: str) -> Decision:
        try:
            d = await self._client.authz.check(
                subject=subject, org_id=org_id, permission=permission
            )
        except (APIConnectionError, APIStatusError) as exc:
            raise _unavailable(self._unavailable, exc) from exc
        return Decision(allowed=d.allowed, role=d.role, reason=d.reason)


# -- orgs that exist -------------------------------------------------------------------------
class OrgDirectory(Protocol):
    def exists(self, org_id: str) -> bool:
        """Does identity know `org_id`? Raises a 503 `ServiceError` if it cannot say."""
        ...


class IdentityOrgDirectory:
    """`OrgDirectory` over identity's `GET /v1/orgs/{org_id}` with the service token, so a
    service never keeps state (a budget, a route) for an org that does not exist."""

    def __init__(self, client: IdentityClient, *, unavailable: str = UNAVAILABLE_ORGS) -> None:
        self._client = client
        self._unavailable = unavailable

    def exists(self, org_id: str) -> bool:
        try:
            self._client.orgs.get(org_id)
        except NotFound:
            return False
        except (APIConnectionError, APIStatusError) as exc:
            raise _unavailable(self._unavailable, exc) from exc
        return True


def org_not_found(org_id: str) -> ServiceError:
    """404 `org_not_found`: a service keeps nothing for an org identity does not know."""
    return ServiceError(
        404,
        "org_not_found",
        f"No org {org_id}: identity does not know it, so nothing is kept for it here.",
        details={"org_id": org_id},
    )


def require_org(directory: OrgDirectory, org_id: str) -> None:
    """404 `org_not_found` unless identity knows `org_id`."""
    if not directory.exists(org_id):
        raise org_not_found(org_id)


class _AsyncOrgsAPI(Protocol):
    async def get(self, org_id: str) -> Any: ...


class AsyncOrgsIdentityAPI(Protocol):
    """What `AsyncIdentityOrgDirectory` needs: `gatewright.identity.AsyncClient` or a fake."""

    @property
    def orgs(self) -> _AsyncOrgsAPI: ...


class AsyncIdentityOrgDirectory:
    """`OrgDirectory` for an async service: `exists` is awaited (`GET /v1/orgs/{org_id}`)."""

    def __init__(
        self, client: AsyncOrgsIdentityAPI, *, unavailable: str = UNAVAILABLE_ORGS
    ) -> None:
        self._client = client
        self._unavailable = unavailable

    async def exists(self, org_id: str) -> bool:
        try:
            await self._client.orgs.get(org_id)
        except NotFound:
            return False
        except (APIConnectionError, APIStatusError) as exc:
            raise _unavailable(self._unavailable, exc) from exc
        return True


def org_still_exists(org_id: str) -> ServiceError:
    """409 `org_exists`: a service purges an org's data only once identity no longer knows the
    org (decision 16), so a purge can never run ahead of the deletion or wipe a live org."""
    return ServiceError(
        409,
        "org_exists",
        f"Org {org_id} still exists: delete it in identity first, then purge its data here.",
        details={"org_id": org_id},
    )


def require_org_gone(directory: OrgDirectory, org_id: str) -> None:
    """409 `org_exists` while identity knows `org_id` (the guard of every purge)."""
    if directory.exists(org_id):
        raise org_still_exists(org_id)


async def get_org_directory(request: Request) -> OrgDirectory:
    directory: OrgDirectory = request.app.state.orgs
    return directory


async def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


async def get_authorizer(request: Request) -> Authorizer:
    authorizer: Authorizer = request.app.state.authorizer
    return authorizer


async def get_async_authorizer(request: Request) -> AsyncAuthorizer:
    authorizer: AsyncAuthorizer = request.app.state.authorizer
    return authorizer


def _service_token(request: Request) -> str:
    settings: ServiceSettings = request.app.state.settings
    return settings.service_token.get_secret_value()


Verifier = Annotated[TokenVerifier, Depends(get_token_verifier)]
AuthorizerDep = Annotated[Authorizer, Depends(get_authorizer)]
OrgDirectoryDep = Annotated[OrgDirectory, Depends(get_org_directory)]
AsyncAuthorizerDep = Annotated[AsyncAuthorizer, Depends(get_async_authorizer)]


# -- authentication --------------------------------------------------------------------------
def identify(request: Request, verifier: TokenVerifier, *, no_subject: str = NO_SUBJECT) -> Caller:
    """The caller behind the bearer token (401 `unauthenticated` without a valid one).

    Also kept on `request.state.caller`, the actor of a denial's audit event."""
    token = bearer_token(request)
    if is_service_token(token, _service_token(request)):
        who: Caller = ServiceCaller()
    else:
        claims = verifier.verify(token)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ServiceError(401, "unauthenticated", no_subject)
        who = UserCaller(user_id=subject)
    request.state.caller = who
    return who


def caller(request: Request, verifier: Verifier) -> Caller:
    """Dependency: the service token -> `ServiceCaller`, else the access token's `UserCaller`."""
    return identify(request, verifier)


async def require_service(request: Request) -> ServiceCaller:
    """Dependency: the service token only (401 `unauthenticated` otherwise)."""
    token = bearer_token(request)
    if not is_service_token(token, _service_token(request)):
        raise ServiceError(401, "unauthenticated", "This endpoint is for Gatewright services only.")
    return ServiceCaller()


CallerDep = Annotated[Caller, Depends(caller)]
Service = Annotated[ServiceCaller, Depends(require_service)]


# -- authorization ---------------------------------------------------------------------------
def _denial(
    decision: Decision, *, org_id: str, permission: str, explain: Callable[[Decision], str] | None
) -> ServiceError:
    return ServiceError(
        403,
        "permission_denied",
        explain(decision) if explain else decision.reason,
        details={"role": decision.role, "permission": permission, "org_id": org_id},
    )


def authorize(
    who: Caller,
    authorizer: Authorizer,
    *,
    org_id: str,
    permission: str,
    on_denied: Callable[[UserCaller, ServiceError], None] | None = None,
    explain: Callable[[Decision], str] | None = None,
) -> None:
    """Raise 403 `permission_denied` with identity's reason unless `who` may do `permission`.

    A service passes; a user is asked of identity. On a denial `on_denied(user, error)` runs
    before the error is raised; `explain(decision)` replaces the message (default the reason)."""
    if isinstance(who, ServiceCaller):
        return
    decision = authorizer.check(subject=who.user_id, org_id=org_id, permission=permission)
    if not decision.allowed:
        denial = _denial(decision, org_id=org_id, permission=permission, explain=explain)
        if on_denied is not None:
            on_denied(who, denial)
        raise denial


async def authorize_async(
    who: Caller,
    authorizer: AsyncAuthorizer,
    *,
    org_id: str,
    permission: str,
    on_denied: Callable[[UserCaller, ServiceError], Awaitable[None]] | None = None,
    explain: Callable[[Decision], str] | None = None,
) -> None:
    """`authorize` for an `AsyncAuthorizer` (and an awaited `on_denied`)."""
    if isinstance(who, ServiceCaller):
        return
    decision = await authorizer.check(subject=who.user_id, org_id=org_id, permission=permission)
    if not decision.allowed:
        denial = _denial(decision, org_id=org_id, permission=permission, explain=explain)
        if on_denied is not None:
            await on_denied(who, denial)
        raise denial


# -- audit actors ----------------------------------------------------------------------------
def service_name(request: Request) -> str:
    """The calling service's name, from `X-Gatewright-Service` ("service" when absent or odd).

    The service token is shared, so the name is what the caller says it is: it labels audit
    events (`actor.id`), it authorizes nothing."""
    name = request.headers.get(SERVICE_NAME_HEADER, "").strip().lower()
    return name if _SERVICE_NAME.match(name) else "service"


def actor(request: Request, who: Caller | None) -> tuple[ActorType, str | None]:
    """`(actor_type, actor_id)` of an audit event for this caller (None: anonymous)."""
    if isinstance(who, UserCaller):
        return "user", who.user_id
    if isinstance(who, ServiceCaller):
        return "service", service_name(request)
    return "anonymous", None
