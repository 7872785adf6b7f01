"""`GET /v1/users/me`: the authenticated user."""

from __future__ import annotations

from fastapi import APIRouter

from gatewright.identity.models import User
from gatewright.identity.service import store
from gatewright.identity.service.api.deps import DB, CurrentUser
from gatewright.servicekit import ERROR_RESPONSES, ServiceError

router = APIRouter(prefix="/v1/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("/me", operation_id="get_current_user", response_model=User)
def me(principal: CurrentUser, db: DB) -> User:
    with db.session() as s:
        user = store.get_user(s, user_id=principal.user_id)
    if user is None:
        raise ServiceError(401, "unauthenticated", "The access token names an unknown user.")
    return user
