"""Users: `GET /v1/users/me` (the authenticated user); for services (the service token) the
list of users, by email prefix, and deleting one (decision 16: what a test run or a sweep uses to
leave nothing behind on a shared deployment).

A user is deleted with their memberships; while they own an org the deletion is refused (409
`user_owns_orgs`), so an org never loses its last owner this way. Deleting a user is audited
(`user.delete`) in its transaction.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gatewright.identity.models import User, UserList
from gatewright.identity.service import events, store
from gatewright.identity.service.api.deps import DB, CurrentUser, Service
from gatewright.servicekit import ERROR_RESPONSES, ServiceError
from gatewright.servicekit.access import service_name
from gatewright.servicekit.deps import id_path

log = logging.getLogger("gatewright.identity.users")
router = APIRouter(prefix="/v1/users", tags=["users"], responses=ERROR_RESPONSES)
EmailPrefix = Annotated[
    str | None, Query(min_length=1, max_length=254, pattern=r"^[^\x00-\x1f\x7f\s]+$")
]
UserId = Annotated[str, id_path()]


@router.get("/me", operation_id="get_current_user", response_model=User)
def me(principal: CurrentUser, db: DB) -> User:
    with db.session() as s:
        user = store.get_user(s, user_id=principal.user_id)
    if user is None:
        raise ServiceError(401, "unauthenticated", "The access token names an unknown user.")
    return user


@router.get("", operation_id="list_users", response_model=UserList)
def list_users(_: Service, db: DB, email_prefix: EmailPrefix = None) -> UserList:
    with db.session() as s:
        return UserList(data=store.list_users(s, email_prefix=email_prefix or ""))


@router.delete("/{user_id}", operation_id="delete_user", status_code=204)
def delete_user(user_id: UserId, _: Service, db: DB, request: Request) -> Response:
    with db.session() as s, s.begin():
        user = store.get_user(s, user_id=user_id)
        if user is None:
            raise ServiceError(
                404, "user_not_found", f"No user {user_id}.", details={"user_id": user_id}
            )
        if user.is_platform_admin:
            raise ServiceError(
                409,
                "user_is_platform_admin",
                "The platform admin cannot be deleted through the API.",
                details={"user_id": user_id},
            )
        owned = store.orgs_owned_by(s, user_id=user_id)
        if owned:
            raise ServiceError(
                409,
                "user_owns_orgs",
                f"User {user_id} owns {len(owned)} org(s): delete them or hand them over first.",
                details={"user_id": user_id, "org_ids": owned},
            )
        store.delete_user(s, user_id=user_id)
        events.record_by_service(
            s,
            service_name(request),
            "user.delete",
            org_id=None,
            target_type="user",
            target_id=user_id,
            details={},
        )
    log.info("user deleted", extra={"user_id": user_id})
    return Response(status_code=204)
