"""Route dependencies as `Annotated` aliases: settings, DB, the gateway, callers.

`get_gateway` and servicekit's `get_token_verifier` / `get_async_authorizer` (reading
`app.state.verifier` / `app.state.authorizer`) are the seams tests and provider verification
override (`app.dependency_overrides`); identity and budgets themselves are passed to
`create_app`. Callers and permission checks are `gatewright.servicekit.access`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.engine.pipeline import Gateway
from gatewright.identity import KeyVerification
from gatewright.servicekit import ServiceError
from gatewright.servicekit.access import (
    AsyncAuthorizer,
    AsyncAuthorizerDep,
    Caller,
    Service,
    UserCaller,
    Verifier,
    actor,
    authorize_async,
    identify,
)
from gatewright.servicekit.audit import record_denial
from gatewright.servicekit.deps import DB, get_db

__all__ = [
    "DB",
    "ApiKey",
    "AsyncAuthorizerDep",
    "Caller",
    "CompletionKey",
    "GatewayDep",
    "Service",
    "ServiceOrUser",
    "SettingsDep",
    "actor",
    "api_key",
    "authorize",
    "completion_key",
    "get_db",
    "get_gateway",
    "get_settings",
    "service_or_user",
]


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def api_key(request: Request, gateway: GatewayDep) -> KeyVerification:
    """The caller's API key, verified through identity (cached briefly)."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ServiceError(
            401,
            "invalid_api_key",
            "Missing API key: send 'Authorization: Bearer gwk_...'.",
        )
    return await gateway.authenticate(secret.strip())


async def completion_key(request: Request, gateway: GatewayDep) -> KeyVerification:
    """`api_key` for the completions route: a refused key is audited as `completion.denied`
    (anonymous actor, no org); identity being down (503) is not a denial and is not."""
    try:
        return await api_key(request, gateway)
    except ServiceError as exc:
        if exc.status_code == 401:
            raise await gateway.denied(None, exc) from None
        raise


def service_or_user(request: Request, verifier: Verifier) -> Caller:
    """servicekit's `caller`, with the gateway's own 401 message for a token naming no user."""
    return identify(request, verifier, no_subject="The access token names no user.")


async def authorize(
    gateway: Gateway, authz: AsyncAuthorizer, caller: Caller, org_id: str, permission: str
) -> None:
    """A user must hold `permission` in `org_id` (asked of identity); a service always may.

    A denial is recorded as `authz.denied` (servicekit's `record_denial`, best effort) before
    the 403 is raised."""

    async def record(user: UserCaller, denial: ServiceError) -> None:
        await gateway.db.call(
            record_denial,
            gateway.audit,
            gateway.db,
            denial,
            actor_type="user",
            actor_id=user.user_id,
        )

    await authorize_async(
        caller,
        authz,
        org_id=org_id,
        permission=permission,
        on_denied=record,
        explain=lambda d: f"Role '{d.role}' may not '{permission}' in org {org_id}: {d.reason}",
    )


ApiKey = Annotated[KeyVerification, Depends(api_key)]
CompletionKey = Annotated[KeyVerification, Depends(completion_key)]
ServiceOrUser = Annotated[Caller, Depends(service_or_user)]
