"""Invitations: create (token shown once, stored as SHA-256), list, accept (single use).

An invitee accepts in one of two ways, both through `_accept`: with the token (the only way for
a person without an account, who sets a password), or logged in as the invited email through
"my invitations" (`/v1/users/me/invitations`), which needs no token: the way an existing account
accepts an invitation whose token it never saw (gitops drops the tokens it is given).

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
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError

from gatewright.identity.models import (
    Invitation,
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
from gatewright.servicekit import ERROR_RESPONSES, Database, ServiceError
from gatewright.servicekit.access import service_name
from gatewright.servicekit.deps import id_path

log = logging.getLogger("gatewright.identity.invitations")
router = APIRouter(tags=["invitations"], responses=ERROR_RESPONSES)
# An id is printable and short: a NUL or a megabyte id is a 422, never a database error.
InvitationIdPath = id_path()


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
    _check_open(invitation)
    if creds is not None:
        if not passwords.verify(creds.password_hash, body.password):
            raise ServiceError(
                401,
                "invalid_credentials",
                "An account with the invited email exists; give its password to accept.",
            )
        return _accept(db, invitation, user_id=creds.user_id, via="token")
    new_account = _NewAccount(password_hash=passwords.hash(body.password), name=body.name)
    return _accept(db, invitation, new_account=new_account, via="token")


@router.get(
    "/v1/users/me/invitations",
    operation_id="list_my_invitations",
    response_model=InvitationList,
)
def list_my_invitations(principal: CurrentUser, db: DB) -> InvitationList:
    """The pending, unexpired invitations addressed to the caller's own email (no tokens)."""
    with db.session() as s:
        return InvitationList(data=store.list_pending_invitations(s, email=principal.email))


@router.post(
    "/v1/users/me/invitations/{invitation_id}/accept",
    operation_id="accept_my_invitation",
    response_model=InvitationAccepted,
)
def accept_my_invitation(
    invitation_id: Annotated[str, InvitationIdPath], principal: CurrentUser, db: DB
) -> InvitationAccepted:
    """Accept an invitation addressed to the caller's email: being logged in as that email
    stands in for the token (and the password the token flow asks of an existing account)."""
    with db.session() as s:
        invitation = store.get_invitation(s, invitation_id=invitation_id)
    # Someone else's invitation is indistinguishable from none: ids are not secrets, but who
    # was invited where is.
    if invitation is None or invitation.email != principal.email.lower():
        raise ServiceError(404, "not_found", f"You have no invitation {invitation_id}.")
    _check_open(invitation)
    return _accept(db, invitation, user_id=principal.user_id, via="account")


@dataclass(frozen=True)
class _NewAccount:
    password_hash: str = field(repr=False)
    name: str | None


def _check_open(invitation: Invitation) -> None:
    """Refuse a used or expired invitation before any work (the claim re-checks "used")."""
    if invitation.status == "accepted":
        raise _used(invitation.id)
    if invitation.status == "expired":
        raise conflict(
            "invitation_expired",
            f"Invitation {invitation.id} expired at {invitation.expires_at.isoformat()}.",
            invitation_id=invitation.id,
        )


def _accept(
    db: Database,
    invitation: Invitation,
    *,
    via: Literal["token", "account"],
    user_id: str | None = None,
    new_account: _NewAccount | None = None,
) -> InvitationAccepted:
    """THE acceptance, whichever way the invitee proved who they are: one transaction that
    creates the account (`new_account`) or takes an existing one (`user_id`), claims the
    invitation with a conditional UPDATE, adds the membership and records `invitation.accept`."""
    try:
        with db.session() as s, s.begin():
            if new_account is not None:
                user_id = store.create_user(
                    s,
                    email=invitation.email,
                    password_hash=new_account.password_hash,
                    name=new_account.name,
                ).id
            assert user_id is not None
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
                details={
                    "role": invitation.role,
                    "new_account": new_account is not None,
                    "via": via,
                },
            )
            accepted = InvitationAccepted(
                user_id=user_id, org_id=invitation.org_id, role=invitation.role
            )
    except IntegrityError as exc:
        # A concurrent accept created the same account (or membership) first.
        raise _used(invitation.id) from exc
    log.info(
        "invitation accepted",
        extra={
            "invitation_id": invitation.id,
            "org_id": invitation.org_id,
            "user_id": accepted.user_id,
            "via": via,
        },
    )
    return accepted


def _used(invitation_id: str) -> ServiceError:
    return conflict(
        "invitation_used",
        f"Invitation {invitation_id} has already been used.",
        invitation_id=invitation_id,
    )
