"""Budgets: set, read and remove the limit of an org or of one of its API keys."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gatewright.budgets.models import Budget, BudgetSet
from gatewright.budgets.service import store
from gatewright.budgets.service.api.deps import DB, AuthorizerDep, CallerDep, KeyId, Now, OrgId
from gatewright.budgets.service.api.deps import authorize as check
from gatewright.servicekit import ERROR_RESPONSES

router = APIRouter(prefix="/v1/orgs/{org_id}", tags=["budgets"], responses=ERROR_RESPONSES)


@router.put("/budget", operation_id="set_org_budget", response_model=Budget)
def set_org_budget(
    org_id: OrgId, body: BudgetSet, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:set")
    with db.session() as s, s.begin():
        return store.set_budget(
            s,
            org_id=org_id,
            key_id=None,
            limit_micro_usd=body.limit_micro_usd,
            period=body.period,
            now=now,
        )


@router.get("/budget", operation_id="get_org_budget", response_model=Budget)
def get_org_budget(org_id: OrgId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return store.get_budget(s, org_id=org_id, key_id=None, now=now)


@router.delete("/budget", operation_id="delete_org_budget", status_code=204)
def delete_org_budget(
    org_id: OrgId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now
) -> Response:
    check(who, authz, org_id=org_id, permission="budgets:set")
    with db.session() as s, s.begin():
        store.delete_budget(s, org_id=org_id, key_id=None, now=now)
    return Response(status_code=204)


@router.put("/keys/{key_id}/budget", operation_id="set_key_budget", response_model=Budget)
def set_key_budget(
    org_id: OrgId,
    key_id: KeyId,
    body: BudgetSet,
    who: CallerDep,
    authz: AuthorizerDep,
    db: DB,
    now: Now,
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:set")
    with db.session() as s, s.begin():
        return store.set_budget(
            s,
            org_id=org_id,
            key_id=key_id,
            limit_micro_usd=body.limit_micro_usd,
            period=body.period,
            now=now,
        )


@router.get("/keys/{key_id}/budget", operation_id="get_key_budget", response_model=Budget)
def get_key_budget(
    org_id: OrgId, key_id: KeyId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now
) -> Budget:
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return store.get_budget(s, org_id=org_id, key_id=key_id, now=now)


@router.delete("/keys/{key_id}/budget", operation_id="delete_key_budget", status_code=204)
def delete_key_budget(
    org_id: OrgId, key_id: KeyId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now
) -> Response:
    check(who, authz, org_id=org_id, permission="budgets:set")
    with db.session() as s, s.begin():
        store.delete_budget(s, org_id=org_id, key_id=key_id, now=now)
    return Response(status_code=204)
