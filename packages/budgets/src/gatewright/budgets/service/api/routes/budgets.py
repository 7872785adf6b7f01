"""Budgets: set, read and remove the limit of an org or of one of its API keys.

Setting and removing are audited (`budget.set`, `budget.delete`) in the same transaction. A budget
is only set for an org identity knows (404 `org_not_found` otherwise): nothing is kept for an org
that does not exist, whoever asks (a platform admin or the service token pass every permission).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from gatewright.budgets.models import Budget, BudgetSet
from gatewright.budgets.service import events, store
from gatewright.budgets.service.api.deps import (
    DB,
    AuthorizerDep,
    Caller,
    CallerDep,
    KeyId,
    Now,
    OrgDirectoryDep,
    OrgId,
    require_org,
)
from gatewright.budgets.service.api.deps import authorize as check
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES, Database, ServiceError

router = APIRouter(
    prefix="/v1/orgs/{org_id}",
    tags=["budgets"],
    responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES},
)


@router.put("/budget", operation_id="set_org_budget", response_model=Budget)
def set_org_budget(
    org_id: OrgId,
    body: BudgetSet,
    who: CallerDep,
    authz: AuthorizerDep,
    orgs: OrgDirectoryDep,
    db: DB,
    now: Now,
    request: Request,
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:set")
    require_org(orgs, org_id)
    return _set(db, request, who, org_id=org_id, key_id=None, body=body, now=now)


@router.get("/budget", operation_id="get_org_budget", response_model=Budget)
def get_org_budget(org_id: OrgId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return store.get_budget(s, org_id=org_id, key_id=None, now=now)


@router.delete("/budget", operation_id="delete_org_budget", status_code=204)
def delete_org_budget(
    org_id: OrgId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now, request: Request
) -> Response:
    check(who, authz, org_id=org_id, permission="budgets:set")
    _delete(db, request, who, org_id=org_id, key_id=None, now=now)
    return Response(status_code=204)


@router.put("/keys/{key_id}/budget", operation_id="set_key_budget", response_model=Budget)
def set_key_budget(
    org_id: OrgId,
    key_id: KeyId,
    body: BudgetSet,
    who: CallerDep,
    authz: AuthorizerDep,
    orgs: OrgDirectoryDep,
    db: DB,
    now: Now,
    request: Request,
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:set")
    require_org(orgs, org_id)
    return _set(db, request, who, org_id=org_id, key_id=key_id, body=body, now=now)


@router.get("/keys/{key_id}/budget", operation_id="get_key_budget", response_model=Budget)
def get_key_budget(
    org_id: OrgId, key_id: KeyId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return store.get_budget(s, org_id=org_id, key_id=key_id, now=now)


@router.delete("/keys/{key_id}/budget", operation_id="delete_key_budget", status_code=204)
def delete_key_budget(
    org_id: OrgId,
    key_id: KeyId,
    who: CallerDep,
    authz: AuthorizerDep,
    db: DB,
    now: Now,
    request: Request,
) -> Response:
    check(who, authz, org_id=org_id, permission="budgets:set")
    _delete(db, request, who, org_id=org_id, key_id=key_id, now=now)
    return Response(status_code=204)


def _set(
    db: Database,
    request: Request,
    who: Caller,
    *,
    org_id: str,
    key_id: str | None,
    body: BudgetSet,
    now: datetime,
) -> Budget:
    with db.session() as s, s.begin():
        budget = store.set_budget(
            s,
            org_id=org_id,
            key_id=key_id,
            limit_micro_usd=body.limit_micro_usd,
            period=body.period,
            now=now,
        )
        events.record_budget_change(
            s,
            request,
            who,
            "budget.set",
            org_id=org_id,
            key_id=key_id,
            limit_micro_usd=body.limit_micro_usd,
            period=body.period,
        )
        return budget


def _delete(
    db: Database, request: Request, who: Caller, *, org_id: str, key_id: str | None, now: datetime
) -> None:
    """Remove the limit; audited only when there was one (a repeat changes nothing)."""
    with db.session() as s, s.begin():
        try:
            removed: Budget | None = store.get_budget(s, org_id=org_id, key_id=key_id, now=now)
        except ServiceError:
            removed = None
        store.delete_budget(s, org_id=org_id, key_id=key_id, now=now)
        if removed is not None:
            events.record_budget_change(
                s,
                request,
                who,
                "budget.delete",
                org_id=org_id,
                key_id=key_id,
                limit_micro_usd=removed.limit_micro_usd,
                period=removed.period,
            )
