"""Decisions over THE permission matrix (`gatewright.identity.models.PERMISSION_MATRIX`, written
once, in the client package, so callers read the same table).

A platform admin passes every check. A caller who is not a member of the org has role `none`
and holds no permission: identity answers 403 `permission_denied` naming role 'none' (rather than
404) for org routes, and does so whether or not the org exists, so existence is not leaked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, get_args

from gatewright.identity.models import PERMISSION_MATRIX, Permission, Role

MATRIX: Final[Mapping[Permission, frozenset[Role]]] = PERMISSION_MATRIX

PERMISSIONS: Final[tuple[Permission, ...]] = get_args(Permission)
assert set(MATRIX) == set(PERMISSIONS), "every permission needs a row in the matrix"

NO_ROLE: Final = "none"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    role: str
    permission: Permission
    org_id: str
    reason: str


def role_has(role: Role | None, permission: Permission) -> bool:
    return role is not None and role in MATRIX[permission]


def can_grant(granter: Role | None, role: Role, *, is_platform_admin: bool) -> bool:
    """Only owners (and platform admins) may grant or invite `owner`."""
    return is_platform_admin or role != "owner" or granter == "owner"


def denial_message(role: str, org_id: str, permission: str) -> str:
    message = f"Role '{role}' in org {org_id} lacks permission '{permission}'."
    if role == NO_ROLE:
        message += " The caller is not a member of this org."
    return message


def decide(
    *, role: Role | None, is_platform_admin: bool, permission: Permission, org_id: str
) -> Decision:
    shown = role or NO_ROLE
    if is_platform_admin:
        return Decision(True, shown, permission, org_id, "Platform admins hold every permission.")
    if role_has(role, permission):
        reason = f"Role '{shown}' in org {org_id} grants '{permission}'."
        return Decision(True, shown, permission, org_id, reason)
    return Decision(False, shown, permission, org_id, denial_message(shown, org_id, permission))
