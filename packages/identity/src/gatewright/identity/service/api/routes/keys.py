"""API keys: issue (secret shown once, stored as SHA-256), list, revoke, verify (service-only).

There is no cache in identity: a revoked, expired or deleted key fails verification on the very
next call. Verification failures are one 401 `invalid_api_key` whose message says why (unknown,
revoked, expired) without echoing the secret.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request, Response

from gatewright.identity.models import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    KeyVerification,
    KeyVerifyRequest,
    RevocationHookCreate,
)
from gatewright.identity.service import events, store
from gatewright.identity.service.api.access import authorize
from gatewright.identity.service.api.deps import DB, CurrentUser, Service
from gatewright.identity.service.revocations import notify_revoked
from gatewright.servicekit import ERROR_RESPONSES, ServiceError

log = logging.getLogger("gatewright.identity.keys")
router = APIRouter(tags=["keys"], responses=ERROR_RESPONSES)

SECRET_PREFIX = "gwk_"  # noqa: S105 - a public prefix, not a secret


@router.post(
    "/v1/orgs/{org_id}/keys",
    operation_id="create_key",
    status_code=201,
    response_model=ApiKeyCreated,
)
def create_key(org_id: str, body: ApiKeyCreate, principal: CurrentUser, db: DB) -> ApiKeyCreated:
    if body.expires_at is not None and body.expires_at <= store.now():
        raise ServiceError(
            422,
            "validation_failed",
            "Invalid request: expires_at: must be in the future.",
            details={"errors": [{"loc": ["body", "expires_at"], "msg": "must be in the future"}]},
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with db.session() as s, s.begin():
        authorize(s, principal=principal, org_id=org_id, permission="keys:create")
        key = store.create_api_key(
            s,
            org_id=org_id,
            name=body.name,
            secret=secret,
            created_by=principal.user_id,
            models=body.models,
            expires_at=body.expires_at,
            rate_limit_rpm=body.rate_limit_rpm,
        )
        events.record(  # never the secret
            s,
            principal,
            "key.create",
            org_id=org_id,
            target_type="api_key",
            target_id=key.id,
            details={"name": key.name, "models": key.models, "rate_limit_rpm": key.rate_limit_rpm},
        )
    log.info("api key created", extra={"org_id": org_id, "key_id": key.id})
    return ApiKeyCreated(**key.model_dump(), secret=secret)


@router.get("/v1/orgs/{org_id}/keys", operation_id="list_keys", response_model=ApiKeyList)
def list_keys(org_id: str, principal: CurrentUser, db: DB) -> ApiKeyList:
    with db.session() as s:
        authorize(s, principal=principal, org_id=org_id, permission="keys:read")
        return ApiKeyList(data=store.list_api_keys(s, org_id=org_id))


@router.delete("/v1/orgs/{org_id}/keys/{key_id}", operation_id="revoke_key", response_model=ApiKey)
def revoke_key(
    org_id: str, key_id: str, principal: CurrentUser, db: DB, request: Request
) -> ApiKey:
    with db.session() as s, s.begin():
        authorize(s, principal=principal, org_id=org_id, permission="keys:revoke")
        before = store.get_api_key(s, org_id=org_id, key_id=key_id)
        key = store.revoke_api_key(s, org_id=org_id, key_id=key_id)
        if key is not None and before is not None and before.revoked_at is None:
            events.record(
                s,
                principal,
                "key.revoke",
                org_id=org_id,
                target_type="api_key",
                target_id=key_id,
                details={"name": key.name},
            )
    if key is None:
        raise ServiceError(
            404,
            "not_found",
            f"No key {key_id} in org {org_id}.",
            details={"org_id": org_id, "key_id": key_id},
        )
    log.info("api key revoked", extra={"org_id": org_id, "key_id": key_id})
    token = request.app.state.settings.service_token.get_secret_value()
    notify_revoked(db, service_token=token, org_id=org_id, key_ids=[key_id])
    return key


@router.post("/v1/keys/verify", operation_id="verify_key", response_model=KeyVerification)
def verify_key(body: KeyVerifyRequest, _: Service, db: DB) -> KeyVerification:
    with db.session() as s:
        record = store.find_api_key(s, secret=body.secret)
    if record is None:
        raise _invalid("unknown", "The API key is unknown.")
    key = record.key
    if record.revoked:
        raise _invalid("revoked", f"The API key {key.id} has been revoked.", key_id=key.id)
    if record.expired(store.now()):
        raise _invalid("expired", f"The API key {key.id} has expired.", key_id=key.id)
    return KeyVerification(
        key_id=key.id,
        org_id=key.org_id,
        models=key.models,
        expires_at=key.expires_at,
        rate_limit_rpm=key.rate_limit_rpm,
    )


@router.post("/v1/keys/revocation-hooks", operation_id="register_revocation_hook", status_code=204)
def register_revocation_hook(body: RevocationHookCreate, _: Service, db: DB) -> Response:
    """Service-only: POST `{"key_ids", "org_id"}` to `url` whenever keys are revoked."""
    with db.session() as s, s.begin():
        store.add_revocation_hook(s, url=body.url)
    log.info("revocation hook registered", extra={"hook": body.url})
    return Response(status_code=204)


def _invalid(reason: str, message: str, **details: str) -> ServiceError:
    return ServiceError(401, "invalid_api_key", message, details={"reason": reason, **details})
