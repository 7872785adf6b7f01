"""Invitations: create (token shown once, stored as SHA-256), list, accept (single use).

A service (the service token) may create invitations too (gitops inviting the newcomers a
`Membership` manifest names, decision 13); `created_by` is then `service:<name>`.

Accepting runs in two short transactions around the argon2 work (so the write lock is never
held while hashing); the second one claims the invitation with a conditional UPDATE
(`WHERE accepted_at IS NULL`) and checks the row count, so two concurrent accepts of one token
cannot both succeed.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from gatewright.identity.models import (
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationList,
)
from gatewright.identity.service import events, store
from gatewright.identity.service.api.access import (
    authorize,
    authorize_caller,
    check_grant,
    conflict,
)
from gatewright.identity.service.api.deps import (
    DB,
    CurrentUser,
    PasswordsDep,
    Principal,
    ServiceOrUser,
    SettingsDep,
)
from gatewright.servicekit import ERROR_RESPONSES, ServiceError
from gatewright.servicekit.access import service_name

log = logging.getLogger("gatewright.identity.invitations")
router = APIRouter(tags=["invitations"], responses=ERROR_RESPONSES)


@router.post(
    "/v1/orgs/{org_id}/invitations",
    operation_id="create_invitation",
    status_code=201,
    response_model=InvitationCreated,
)
def create_invitation(
    org_id: str,
    body: InvitationCreate,
    principal: ServiceOrUser,
    db: DB,
    settings: SettingsDep,
    request: Request,
) -> InvitationCreated:
    token = f"gwi_{secrets.token_urlsafe(32)}"
    ttl = body.ttl_seconds or settings.invitation_ttl_seconds
    if isinstance(principal, Principal):
        created_by = principal.user_id
    else:
        created_by = f"service:{service_name(request)}"[:40]
    with db.session() as s, s.begin():
        granter = authorize_caller(s, caller=principal, org_id=org_id, permission="members:invite")
        check_grant(principal, granter, org_id, body.role)
        existing = store.get_credentials(s, email=body.email)
        if existing and store.get_role(s, org_id=org_id, user_id=existing.user_id):
            raise conflict("already_member", f"That email is already a member of org {org_id}.")
        invitation = store.create_invitation(
            s,
            org_id=org_id,
            email=body.email,
            role=body.role,
            token_hash=store.sha256_hex(token),
            created_by=created_by,
            expires_at=store.now() + timedelta(seconds=ttl),
        )
        events.record_by(  # never the token
            s,
            principal,
            request,
            "invitation.create",
            org_id=org_id,
            target_type="invitation",
            target_id=invitation.id,
            details={"email": invitation.email, "role": invitation.role},
        )
    log.info("invitation created", extra={"org_id": org_id, "invitation_id": invitation.id})
    return InvitationCreated(**invitation.model_dump(), token=token)


@router.get(
    "/v1/orgs/{org_id}/invitations", operation_id="list_invitations", response_model=InvitationList
)
def list_invitations(org_id: str, principal: CurrentUser, db: DB) -> InvitationList:
    with db.session() as s:
        authorize(s, principal=principal, org_id=org_id, permission="members:invite")
        return InvitationList(data=store.list_invitations(s, org_id=org_id))


@router.post(
    "/v1/invitations/accept", operation_id="accept_invitation", response_model=InvitationAccepted
)
def accept_invitation(
    body: InvitationAccept, db: DB, passwords: PasswordsDep
) -> InvitationAccepted:
    token_hash = store.sha256_hex(body.token)
    with db.session() as s:
        invitation = store.find_invitation(s, token_hash=token_hash)
        creds = store.get_credentials(s, email=invitation.email) if invitation else None
    if invitation is None:
        raise ServiceError(404, "not_found", "No invitation matches that token.")
    if invitation.status == "accepted":
        raise _used(invitation.id)
    if invitation.status == "expired":
        raise conflict(
            "invitation_expired",
            f"Invitation {invitation.id} expired at {invitation.expires_at.isoformat()}.",
            invitation_id=invitation.id,
        )
    if creds is not None:
        if not passwords.verify(creds.password_hash, body.password):
            raise ServiceError(
                401,
                "invalid_credentials",
                "An account with the invited email exists; give its password to accept.",
            )
        new_hash = None
    else:
        new_hash = passwords.hash(body.password)
    try:
        with db.session() as s, s.begin():
            if creds is not None:
                user_id = creds.user_id
            else:
                assert new_hash is not None
                user_id = store.create_user(
                    s, email=invitation.email, password_hash=new_hash, name=body.name
                ).id
            if not store.mark_invitation_accepted(s, invitation_id=invitation.id, user_id=user_id):
                raise _used(invitation.id)
            if store.get_role(s, org_id=invitation.org_id, user_id=user_id) is not None:
                raise conflict(
                    "already_member", f"The user is already a member of org {invitation.org_id}."
                )
            store.add_member(s, org_id=invitation.org_id, user_id=user_id, role=invitation.role)
            events.outbox.record(
                s,
                org_id=invitation.org_id,
                actor_type="user",
                actor_id=user_id,
                action="invitation.accept",
                outcome="success",
                reason="",
                target_type="invitation",
                target_id=invitation.id,
                details={"role": invitation.role, "new_account": creds is None},
            )
    except IntegrityError as exc:
        # A concurrent accept created the same account (or membership) first.
        raise _used(invitation.id) from exc
    log.info(
        "invitation accepted",
        extra={"invitation_id": invitation.id, "org_id": invitation.org_id, "user_id": user_id},
    )
    return InvitationAccepted(user_id=user_id, org_id=invitation.org_id, role=invitation.role)


def _used(invitation_id: str) -> ServiceError:
    return conflict(
        "invitation_used",
        f"Invitation {invitation_id} has already been used.",
        invitation_id=invitation_id,
    )
