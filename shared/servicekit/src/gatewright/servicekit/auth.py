"""Bearer tokens: extraction, service-token checks, and JWT verification against identity's JWKS.

`JWKSVerifier` fetches the public keys once and caches them for `cache_seconds`; an unknown `kid`
triggers one refetch, so a key rotation is picked up without waiting out the cache.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any

import httpx
import jwt
from fastapi import Request

from gatewright.core import shared_ssl_context
from gatewright.servicekit.errors import ServiceError

JWT_AUDIENCE = "gatewright"
JWT_ISSUER = "gatewright-identity"


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(
            401, "unauthenticated", "Missing bearer token: send 'Authorization: Bearer <token>'."
        )
    return token.strip()


def require_service_token(request: Request, expected: str) -> None:
    """Service-only endpoints: the caller must present the shared service token."""
    token = bearer_token(request)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ServiceError(401, "unauthenticated", "This endpoint is for Gatewright services only.")


def is_service_token(token: str, expected: str) -> bool:
    return hmac.compare_digest(token.encode(), expected.encode())


class JWKSVerifier:
    def __init__(self, jwks_url: str, *, cache_seconds: float = 300.0) -> None:
        self.jwks_url = jwks_url
        self.cache_seconds = cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        response = httpx.get(self.jwks_url, timeout=5.0, verify=shared_ssl_context())
        response.raise_for_status()
        keys = {}
        for jwk in response.json().get("keys", []):
            keys[jwk["kid"]] = jwt.PyJWK(jwk)
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _key(self, kid: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > self.cache_seconds
            if stale or kid not in self._keys:
                try:
                    self._refresh()
                except httpx.HTTPError as exc:
                    raise ServiceError(
                        503, "identity_unavailable", f"Cannot fetch signing keys: {exc}"
                    ) from exc
            return self._keys.get(kid)

    def verify(self, token: str) -> dict[str, Any]:
        return verify_jwt(token, self._key)


def verify_jwt(token: str, key_for: Any) -> dict[str, Any]:
    """Verify signature, expiry, audience and issuer; any failure is one 401."""
    try:
        header = jwt.get_unverified_header(token)
        key = key_for(header.get("kid", ""))
        if key is None:
            raise jwt.InvalidTokenError("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA", "ES256"],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
        )
    except jwt.ExpiredSignatureError as exc:
        raise ServiceError(
            401, "token_expired", "The access token has expired; log in again."
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise ServiceError(401, "unauthenticated", "The access token is not valid.") from exc
    return claims
