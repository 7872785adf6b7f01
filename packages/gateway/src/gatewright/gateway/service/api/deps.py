"""Route dependencies as `Annotated` aliases: settings, DB, the gateway, callers.

`get_gateway` and `get_token_verifier` are the seams tests and provider verification override
(`app.dependency_overrides`); identity and budgets themselves are passed to `create_app`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gatewright.audit import ActorType
from gatewright.core import APIConnectionError, APIStatusError
from gatewright.gateway.service.config import GatewaySettings
from gatewright.gateway.service.engine import Gateway
from gatewright.identity import KeyVerification
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.auth import bearer_token, is_service_token

log = logging.getLogger("gatewright.gateway.authz")
SERVICE_NAME_HEADER = "X-Gatewright-Service"
_SERVICE_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token; raises a 401 `ServiceError` otherwise."""
        ...


@dataclass(frozen=True)
class Principal:
    user_id: str


@dataclass(frozen=True)
class ServiceCaller:
    """Another Gatewright service (or an operator) holding the shared service token."""


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.jwks
    return verifier


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
DB = Annotated[Database, Depends(get_db)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
Verifier = Annotated[TokenVerifier, Depends(get_token_verifier)]


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


def require_service(request: Request, settings: SettingsDep) -> ServiceCaller:
    token = bearer_token(request)
    if not is_service_token(token, settings.service_token.get_secret_value()):
        raise ServiceError(401, "unauthenticated", "This endpoint is for Gatewright services only.")
    return ServiceCaller()


def service_or_user(
    request: Request, settings: SettingsDep, verifier: Verifier
) -> ServiceCaller | Principal:
    token = bearer_token(request)
    if is_service_token(token, settings.service_token.get_secret_value()):
        return ServiceCaller()
    claims = verifier.verify(token)
    user_id = str(claims.get("sub", ""))
    if not user_id:
        raise ServiceError(401, "unauthenticated", "The access token names no user.")
    return Principal(user_id)


async def authorize(
    gateway: Gateway, caller: ServiceCaller | Principal, org_id: str, permission: str
) -> None:
    """A user must hold `permission` in `org_id` (asked of identity); a service always may."""
    if isinstance(caller, ServiceCaller):
        return
    try:
        decision = await gateway.identity.authz.check(
            subject=caller.user_id, org_id=org_id, permission=permission
        )
    except (APIConnectionError, APIStatusError) as exc:
        raise ServiceError(
            503, "identity_unavailable", f"Cannot check permissions right now: {exc}"
        ) from exc
    if not decision.allowed:
        message = (
            f"Role '{decision.role}' may not '{permission}' in org {org_id}: {decision.reason}"
        )
        try:
            await run_in_threadpool(
                gateway.audit.record_now,
                gateway.db,
                org_id=org_id,
                actor_type="user",
                actor_id=caller.user_id,
                action="authz.denied",
                outcome="denied",
                reason=message,
                target_type="org",
                target_id=org_id,
                details={"role": decision.role, "permission": permission},
            )
        except Exception:
            log.exception("cannot record the authz.denied audit event")
        raise ServiceError(
            403,
            "permission_denied",
            message,
            details={"role": decision.role, "permission": permission, "org_id": org_id},
        )


def actor(request: Request, caller: ServiceCaller | Principal) -> tuple[ActorType, str]:
    """`(actor_type, actor_id)` of an audit event: the user, or the service by the name it gives
    in `X-Gatewright-Service` ("service" when absent; a label, never an authorization)."""
    if isinstance(caller, Principal):
        return "user", caller.user_id
    name = request.headers.get(SERVICE_NAME_HEADER, "").strip().lower()
    return "service", name if _SERVICE_NAME.match(name) else "service"


ApiKey = Annotated[KeyVerification, Depends(api_key)]
CompletionKey = Annotated[KeyVerification, Depends(completion_key)]
Service = Annotated[ServiceCaller, Depends(require_service)]
ServiceOrUser = Annotated[ServiceCaller | Principal, Depends(service_or_user)]
