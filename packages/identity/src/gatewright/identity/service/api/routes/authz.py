"""`POST /v1/authz/check`: the decision point other services call (or a user, about themself)."""

from __future__ import annotations

from fastapi import APIRouter

from gatewright.identity.models import AuthzCheckRequest, AuthzDecision
from gatewright.identity.service import permissions, store
from gatewright.identity.service.api.deps import DB, Principal, ServiceOrUser
from gatewright.servicekit import ERROR_RESPONSES, ServiceError

router = APIRouter(prefix="/v1/authz", tags=["authz"], responses=ERROR_RESPONSES)


@router.post("/check", operation_id="check_permission", response_model=AuthzDecision)
def check(body: AuthzCheckRequest, caller: ServiceOrUser, db: DB) -> AuthzDecision:
    if isinstance(caller, Principal) and caller.user_id != body.subject:
        raise ServiceError(
            403,
            "permission_denied",
            "A user may only check their own permissions; services may check anyone's.",
            details={"subject": body.subject},
        )
    with db.session() as s:
        user = store.get_user(s, user_id=body.subject)
        role = store.get_role(s, org_id=body.org_id, user_id=body.subject) if user else None
    decision = permissions.decide(
        role=role,
        is_platform_admin=bool(user and user.is_platform_admin),
        permission=body.permission,
        org_id=body.org_id,
    )
    if user is None:
        reason = f"No user {body.subject}; unknown subjects hold no permission."
        return AuthzDecision(
            allowed=False,
            role=permissions.NO_ROLE,
            permission=body.permission,
            org_id=body.org_id,
            reason=reason,
        )
    return AuthzDecision(
        allowed=decision.allowed,
        role=decision.role,
        permission=decision.permission,
        org_id=decision.org_id,
        reason=decision.reason,
    )
