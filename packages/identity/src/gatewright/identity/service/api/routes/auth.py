"""`POST /v1/auth/login`: email + password -> short-lived EdDSA access token.

A wrong password and an unknown email give the same 401 body (code `invalid_credentials`), and
an unknown email still costs one argon2 verification, so neither the answer nor its timing tells
whether an account exists. Both outcomes are audited (`auth.login`): a success with the user as
actor, a failure as `denied` with an anonymous actor and no org (the email in details, never the
password).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from gatewright.identity.models import AccessToken, LoginRequest
from gatewright.identity.service import store
from gatewright.identity.service.api.deps import DB, PasswordsDep, Tokens
from gatewright.identity.service.events import outbox
from gatewright.servicekit import ERROR_RESPONSES, Database, ServiceError

log = logging.getLogger("gatewright.identity.auth")
router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)


def invalid_credentials(db: Database, email: str) -> ServiceError:
    outbox.record_now(
        db,
        org_id=None,
        actor_type="anonymous",
        actor_id=None,
        action="auth.login",
        outcome="denied",
        reason="wrong email or password",
        details={"email": email},
    )
    return ServiceError(401, "invalid_credentials", "The email or password is incorrect.")


@router.post("/login", operation_id="login", response_model=AccessToken)
def login(body: LoginRequest, db: DB, tokens: Tokens, passwords: PasswordsDep) -> AccessToken:
    with db.session() as s:
        creds = store.get_credentials(s, email=body.email)
    if creds is None:
        passwords.dummy_verify(body.password)
        log.info("login failed")
        raise invalid_credentials(db, body.email)
    if not passwords.verify(creds.password_hash, body.password):
        log.info("login failed", extra={"user_id": creds.user_id})
        raise invalid_credentials(db, body.email)
    with db.session() as s, s.begin():
        if passwords.needs_rehash(creds.password_hash):
            store.set_password_hash(
                s, user_id=creds.user_id, password_hash=passwords.hash(body.password)
            )
        outbox.record(
            s,
            org_id=None,
            actor_type="user",
            actor_id=creds.user_id,
            action="auth.login",
            outcome="success",
            reason="",
            target_type="user",
            target_id=creds.user_id,
            details={"email": creds.email},
        )
    log.info("login succeeded", extra={"user_id": creds.user_id})
    return AccessToken(
        access_token=tokens.issue(user_id=creds.user_id, email=creds.email),
        token_type="bearer",  # noqa: S106 - the scheme, not a secret
        expires_in=tokens.ttl_seconds,
        user_id=creds.user_id,
    )
