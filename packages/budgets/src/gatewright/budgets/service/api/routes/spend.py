"""Spend: an org's current-period spend, reserved amount and limit, and the same per key."""

from __future__ import annotations

from fastapi import APIRouter

from gatewright.budgets.models import Spend
from gatewright.budgets.service import store
from gatewright.budgets.service.api.deps import DB, AuthorizerDep, CallerDep, Now, OrgId
from gatewright.budgets.service.api.deps import authorize as check
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES

router = APIRouter(
    prefix="/v1/orgs/{org_id}",
    tags=["spend"],
    responses={**ERROR_RESPONSES, **DEPENDENCY_RESPONSES},
)


@router.get("/spend", operation_id="get_spend", response_model=Spend)
def get_spend(org_id: OrgId, who: CallerDep, authz: AuthorizerDep, db: DB, now: Now) -> Spend:
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return store.get_spend(s, org_id=org_id, now=now)
