"""`GET /.well-known/jwks.json`: the public keys that verify identity's access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gatewright.identity.service.api.deps import Tokens
from gatewright.servicekit import ERROR_RESPONSES

router = APIRouter(prefix="/.well-known", tags=["auth"], responses=ERROR_RESPONSES)


@router.get("/jwks.json", operation_id="get_jwks")
def jwks(tokens: Tokens) -> dict[str, Any]:
    return tokens.jwks()
