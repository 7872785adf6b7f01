"""Orgs: create (creator becomes owner), list the caller's orgs, read with members, delete.

A service (the service token) may also create an org, naming its owner, an existing user, by
`owner_email` (gitops applying an `Org` manifest; decision 11): the org then has an owner like
any other, and the event's actor is the service. A service may delete an org too (gitops pruning
an `Org` manifest that left Git, decision 13).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gatewright.identity.models import Org, OrgCreate, OrgDetail, OrgList
from gatewright.identity.service import events, store
from gatewright.identity.service.api.access import authorize, authorize_caller, org_not_found
from gatewright.identity.service.api.deps import (
    DB,
    Principal,
    ServiceCaller,
    ServiceOrUser,
)
from gatewright.identity.service.revocations import notify_revoked
from gatewright.servicekit import ERROR_RESPONSES, Database, ServiceError
from gatewright.servicekit.access import service_name

log = logging.getLogger("gatewright.identity.orgs")
router = APIRouter(prefix="/v1/orgs", tags=["orgs"], responses=ERROR_RESPONSES)
# A prefix is matched literally; bounded like a name, printable.
NamePrefix = Annotated[
    str | None, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]


@router.post("", operation_id="create_org", status_code=201, response_model=Org)
def create_org(body: OrgCreate, caller: ServiceOrUser, db: DB, request: Request) -> Org:
    if isinstance(caller, ServiceCaller):
        return _create_org_for_owner(body, db, request)
    principal = caller
    if body.owner_email is not None:
        raise ServiceError(
            400,
            "invalid_request",
            "owner_email is for services only: a user creates an org they own.",
            details={"field": "owner_email"},
        )
    with db.session() as s, s.begin():
        org = store.create_org(s, name=body.name, owner_id=principal.user_id)
        events.record(
            s,
            principal,
            "org.create",
            org_id=org.id,
            target_type="org",
            target_id=org.id,
            details={"name": org.name},
        )
    log.info("org created", extra={"org_id": org.id, "user_id": principal.user_id})
    return org


def _create_org_for_owner(body: OrgCreate, db: Database, request: Request) -> Org:
    if body.owner_email is None:
        raise ServiceError(
            422,
            "validation_failed",
            "A service creating an org must name its owner (owner_email): an org always has one.",
            details={"field": "owner_email"},
        )
    with db.session() as s, s.begin():
        owner = store.get_credentials(s, email=body.owner_email)
        if owner is None:
            raise ServiceError(
                422,
                "owner_not_found",
                f"No user with email {body.owner_email}: an org's owner must have an account.",
                details={"field": "owner_email", "owner_email": body.owner_email},
            )
        org = store.create_org(s, name=body.name, owner_id=owner.user_id)
        events.record_by_service(
            s,
            service_name(request),
            "org.create",
            org_id=org.id,
            target_type="org",
            target_id=org.id,
            details={"name": org.name, "owner_id": owner.user_id},
        )
    log.info("org created by a service", extra={"org_id": org.id, "user_id": owner.user_id})
    return org


@router.get("", operation_id="list_orgs", response_model=OrgList)
def list_orgs(caller: ServiceOrUser, db: DB, name_prefix: NamePrefix = None) -> OrgList:
    """A user's orgs; for a service (the service token) every org, or those whose name starts
    with `name_prefix`: how a sweep finds what a test run left (decision 16)."""
    with db.session() as s:
        if isinstance(caller, ServiceCaller):
            return OrgList(data=store.list_orgs(s, name_prefix=name_prefix or ""))
        if name_prefix is not None:
            raise ServiceError(
                400,
                "invalid_request",
                "name_prefix is for services only: a user lists the orgs they belong to.",
                details={"field": "name_prefix"},
            )
        return OrgList(data=store.list_orgs_for_user(s, user_id=caller.user_id))


@router.get("/{org_id}", operation_id="get_org", response_model=OrgDetail)
def get_org(org_id: str, caller: ServiceOrUser, db: DB) -> OrgDetail:
    """The org and its members: a member with org:read, or a service (the service token), e.g.
    budgets making sure an org exists before it takes a budget for it."""
    with db.session() as s:
        if isinstance(caller, Principal):
            authorize(s, principal=caller, org_id=org_id, permission="org:read")
        org = store.get_org(s, org_id=org_id)
        if org is None:
            raise org_not_found(org_id)
        members = store.list_members(s, org_id=org_id)
    return OrgDetail(**org.model_dump(), members=members)


@router.delete("/{org_id}", operation_id="delete_org", status_code=204)
def delete_org(org_id: str, principal: ServiceOrUser, db: DB, request: Request) -> Response:
    with db.session() as s, s.begin():
        authorize_caller(s, caller=principal, org_id=org_id, permission="org:delete")
        key_ids = store.list_api_key_ids(s, org_id=org_id)
        if not store.delete_org(s, org_id=org_id):
            raise org_not_found(org_id)
        events.record_by(
            s,
            principal,
            request,
            "org.delete",
            org_id=org_id,
            target_type="org",
            target_id=org_id,
            details={"keys_revoked": len(key_ids)},
        )
    log.info("org deleted", extra={"org_id": org_id})
    token = request.app.state.settings.service_token.get_secret_value()
    notify_revoked(db, service_token=token, org_id=org_id, key_ids=key_ids)
    return Response(status_code=204)
