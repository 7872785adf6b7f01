"""The org-scoped permission check every org route runs, over `permissions.MATRIX`.

Non-members (and callers naming an org that does not exist) get 403 `permission_denied` with
role 'none', so the answer never reveals whether an org exists. A platform admin passes every
check; for a platform admin an unknown org is a 404.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gatewright.identity.models import Permission, Role
from gatewright.identity.service import permissions, store
from gatewright.identity.service.api.deps import Principal, ServiceCaller
from gatewright.servicekit import ServiceError


def org_not_found(org_id: str) -> ServiceError:
    return ServiceError(404, "org_not_found", f"No org {org_id}.", details={"org_id": org_id})


def denied(role: str, org_id: str, permission: str) -> ServiceError:
    return ServiceError(
        403,
        "permission_denied",
        permissions.denial_message(role, org_id, permission),
        details={"role": role, "permission": permission, "org_id": org_id},
    )


def authorize(
    s: Session, *, principal: Principal, org_id: str, permission: Permission
) -> Role | None:
    """The caller's role in the org, after checking `permission`; raises 403/404 otherwise."""
    role = store.get_role(s, org_id=org_id, user_id=principal.user_id)
    if principal.is_platform_admin:
        if role is None and store.get_org(s, org_id=org_id) is None:
            raise org_not_found(org_id)
        return role
    if not permissions.role_has(role, permission):
        raise denied(role or permissions.NO_ROLE, org_id, permission)
    return role


def authorize_caller(
    s: Session, *, caller: Principal | ServiceCaller, org_id: str, permission: Permission
) -> Role | None:
    """`authorize` for routes a service may call too: the service token passes every permission
    (decisions 11, 13), so for it only the org must exist (404 otherwise); its role is None."""
    if isinstance(caller, Principal):
        return authorize(s, principal=caller, org_id=org_id, permission=permission)
    if store.get_org(s, org_id=org_id) is None:
        raise org_not_found(org_id)
    return None


def check_grant(
    principal: Principal | ServiceCaller, granter: Role | None, org_id: str, role: Role
) -> None:
    """Admins may not grant or invite `owner`; a service (the service token) may."""
    if isinstance(principal, ServiceCaller):
        return
    if not permissions.can_grant(granter, role, is_platform_admin=principal.is_platform_admin):
        shown = granter or permissions.NO_ROLE
        raise ServiceError(
            403,
            "permission_denied",
            f"Role '{shown}' in org {org_id} cannot grant role '{role}'; only owners can.",
            details={"role": shown, "permission": "members:grant_owner", "org_id": org_id},
        )


def conflict(code: str, message: str, **details: str) -> ServiceError:
    return ServiceError(409, code, message, details=dict(details))
