"""Memberships: list, change a role, remove. An org always keeps at least one owner (409).

A role change and a removal are also open to the service token (gitops applying `Membership`
manifests, decision 13): it passes the permission checks, never the last-owner rule.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from gatewright.identity.models import Member, MemberList, MemberUpdate, Role
from gatewright.identity.service import events, store
from gatewright.identity.service.api.access import authorize, authorize_caller, check_grant
from gatewright.identity.service.api.deps import (
    DB,
    CurrentUser,
    Principal,
    ServiceCaller,
    ServiceOrUser,
)
from gatewright.servicekit import ERROR_RESPONSES, ServiceError

log = logging.getLogger("gatewright.identity.members")
router = APIRouter(prefix="/v1/orgs/{org_id}/members", tags=["members"], responses=ERROR_RESPONSES)


def _target(
    s: Session,
    *,
    principal: Principal | ServiceCaller,
    granter: Role | None,
    org_id: str,
    user_id: str,
) -> Member:
    member = store.get_member(s, org_id=org_id, user_id=user_id)
    if member is None:
        raise ServiceError(
            404,
            "not_found",
            f"User {user_id} is not a member of org {org_id}.",
            details={"org_id": org_id, "user_id": user_id},
        )
    # Changing or removing an owner is an owner's decision, like granting owner.
    if member.role == "owner":
        check_grant(principal, granter, org_id, "owner")
    return member


def _keep_an_owner(s: Session, *, org_id: str, member: Member, new_role: Role | None) -> None:
    if member.role == "owner" and new_role != "owner" and store.count_owners(s, org_id=org_id) <= 1:
        raise ServiceError(
            409,
            "last_owner",
            f"User {member.user_id} is the last owner of org {org_id}; "
            "make another member owner first.",
            details={"org_id": org_id, "user_id": member.user_id},
        )


@router.get("", operation_id="list_members", response_model=MemberList)
def list_members(org_id: str, principal: CurrentUser, db: DB) -> MemberList:
    with db.session() as s:
        authorize(s, principal=principal, org_id=org_id, permission="members:read")
        return MemberList(data=store.list_members(s, org_id=org_id))


@router.patch("/{user_id}", operation_id="update_member", response_model=Member)
def update_member(
    org_id: str,
    user_id: str,
    body: MemberUpdate,
    principal: ServiceOrUser,
    db: DB,
    request: Request,
) -> Member:
    with db.session() as s, s.begin():
        granter = authorize_caller(s, caller=principal, org_id=org_id, permission="members:manage")
        member = _target(s, principal=principal, granter=granter, org_id=org_id, user_id=user_id)
        check_grant(principal, granter, org_id, body.role)
        _keep_an_owner(s, org_id=org_id, member=member, new_role=body.role)
        store.set_role(s, org_id=org_id, user_id=user_id, role=body.role)
        events.record_by(
            s,
            principal,
            request,
            "member.role_change",
            org_id=org_id,
            target_type="user",
            target_id=user_id,
            details={"from": member.role, "to": body.role},
        )
    log.info("member role changed", extra={"org_id": org_id, "user_id": user_id})
    return member.model_copy(update={"role": body.role})


@router.delete("/{user_id}", operation_id="remove_member", status_code=204)
def remove_member(
    org_id: str, user_id: str, principal: ServiceOrUser, db: DB, request: Request
) -> Response:
    with db.session() as s, s.begin():
        granter = authorize_caller(s, caller=principal, org_id=org_id, permission="members:manage")
        member = _target(s, principal=principal, granter=granter, org_id=org_id, user_id=user_id)
        _keep_an_owner(s, org_id=org_id, member=member, new_role=None)
        store.remove_member(s, org_id=org_id, user_id=user_id)
        events.record_by(
            s,
            principal,
            request,
            "member.remove",
            org_id=org_id,
            target_type="user",
            target_id=user_id,
            details={"role": member.role},
        )
    log.info("member removed", extra={"org_id": org_id, "user_id": user_id})
    return Response(status_code=204)
