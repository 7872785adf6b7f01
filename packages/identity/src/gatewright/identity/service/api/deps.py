"""Route dependencies as `Annotated` aliases: settings, DB, token verifier, the caller.

`get_token_verifier` is the seam for access-token verification: the provider contract test
overrides it (`app.dependency_overrides`) to accept the fixed example tokens a pact carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request

from gatewright.identity.service import store
from gatewright.identity.service.config import IdentitySettings
from gatewright.identity.service.passwords import Passwords
from gatewright.identity.service.tokens import TokenIssuer
from gatewright.servicekit import Database, ServiceError
from gatewright.servicekit.auth import bearer_token, is_service_token
from gatewright.servicekit.deps import DB as DB
from gatewright.servicekit.deps import get_db as get_db


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token; raises a 401 `ServiceError` otherwise."""
        ...


@dataclass(frozen=True)
class Principal:
    """An authenticated user."""

    user_id: str
    email: str
    is_platform_admin: bool


@dataclass(frozen=True)
class ServiceCaller:
    """Another Gatewright service, authenticated by the shared service token."""


async def get_settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.settings
    return settings


async def get_tokens(request: Request) -> TokenIssuer:
    tokens: TokenIssuer = request.app.state.tokens
    return tokens


async def get_token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.tokens
    return verifier


async def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


SettingsDep = Annotated[IdentitySettings, Depends(get_settings)]
Tokens = Annotated[TokenIssuer, Depends(get_tokens)]
Verifier = Annotated[TokenVerifier, Depends(get_token_verifier)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


def _principal(token: str, verifier: TokenVerifier, db: Database) -> Principal:
    claims = verifier.verify(token)
    user_id = str(claims.get("sub", ""))
    with db.session() as s:
        user = store.get_user(s, user_id=user_id)
    if user is None:
        raise ServiceError(401, "unauthenticated", "The access token names an unknown user.")
    return Principal(user.id, user.email, user.is_platform_admin)


def current_user(request: Request, verifier: Verifier, db: DB) -> Principal:
    principal = _principal(bearer_token(request), verifier, db)
    request.state.principal = principal  # the actor of an `authz.denied` event
    return principal


async def require_service(request: Request, settings: SettingsDep) -> ServiceCaller:
    token = bearer_token(request)
    if not is_service_token(token, settings.service_token.get_secret_value()):
        raise ServiceError(401, "unauthenticated", "This endpoint is for Gatewright services only.")
    return ServiceCaller()


def service_or_user(
    request: Request, settings: SettingsDep, verifier: Verifier, db: DB
) -> ServiceCaller | Principal:
    token = bearer_token(request)
    if is_service_token(token, settings.service_token.get_secret_value()):
        return ServiceCaller()
    principal = _principal(token, verifier, db)
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
Service = Annotated[ServiceCaller, Depends(require_service)]
ServiceOrUser = Annotated[ServiceCaller | Principal, Depends(service_or_user)]
