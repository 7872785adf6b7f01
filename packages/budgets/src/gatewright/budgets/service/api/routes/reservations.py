"""Reservations: hold (service-only, atomic, idempotent on the idempotency key), commit,
release, list.

A denial is always 402 `budget_exceeded` with the scope and the figures, and is audited as
`reservation.denied` (see `events`). Repeating a create with the same `idempotency_key` (per org
and key) answers 200 with the existing reservation marked `replayed` and changes nothing while
it is held, and 409 `reservation_settled` once it is committed, released or expired; a different
amount is 409 `idempotency_key_reused` (decision 8). `request_id` is only a label.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from gatewright.budgets.models import (
    Reservation,
    ReservationCommit,
    ReservationCreate,
    ReservationList,
    ReservationStatus,
)
from gatewright.budgets.service import store
from gatewright.budgets.service.api.deps import (
    DB,
    AuthorizerDep,
    CallerDep,
    Now,
    OrgId,
    ReservationId,
    Service,
    SettingsDep,
)
from gatewright.budgets.service.api.deps import authorize as check
from gatewright.core import ErrorEnvelope
from gatewright.servicekit import DEPENDENCY_RESPONSES, ERROR_RESPONSES, Database, ServiceError

log = logging.getLogger("gatewright.budgets.reservations")

RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    402: {"model": ErrorEnvelope, "description": "The budget would be exceeded (never retry)."},
}
router = APIRouter(tags=["reservations"], responses=RESPONSES)


@router.post(
    "/v1/reservations",
    operation_id="create_reservation",
    status_code=201,
    response_model=Reservation,
    responses={
        200: {"model": Reservation, "description": "A repeated idempotency key (replayed)."}
    },
)
async def create_reservation(
    body: ReservationCreate, who: Service, db: DB, now: Now, response: Response, request: Request
) -> Reservation:
    # For the `reservation.denied` audit event a 402 becomes (the app's error handler).
    request.state.caller = who
    request.state.reservation_request_id = body.request_id
    reservation, created = await db.call(_reserve, db, body, now)
    if created:
        # debug: the access log already says it, and this is on every completion's path.
        log.debug(
            "reserved %d micro-USD",
            reservation.amount_micro_usd,
            extra={"reservation_id": reservation.id, "org_id": reservation.org_id},
        )
    else:
        response.status_code = 200
    return reservation


def _reserve(db: Database, body: ReservationCreate, now: datetime) -> tuple[Reservation, bool]:
    try:
        with db.session() as s, s.begin():
            return store.reserve(s, body=body, now=now)
    except store.Replayed as replay:
        return replay.reservation, False
    except IntegrityError:
        # A concurrent create with the same idempotency key inserted first (the general path's
        # plain insert; the short path's insert does nothing instead).
        with db.session() as s:
            existing = store.find_replayed(s, body)
        if existing is None:
            raise
        return store.check_replay(existing, body, now), False


def _commit(db: Database, reservation_id: str, actual_micro_usd: int, now: datetime) -> Reservation:
    with db.session() as s, s.begin():
        return store.commit(
            s, reservation_id=reservation_id, actual_micro_usd=actual_micro_usd, now=now
        )


@router.post(
    "/v1/reservations/{reservation_id}/commit",
    operation_id="commit_reservation",
    response_model=Reservation,
)
async def commit_reservation(
    reservation_id: ReservationId, body: ReservationCommit, _: Service, db: DB, now: Now
) -> Reservation:
    return await db.call(_commit, db, reservation_id, body.actual_micro_usd, now)


@router.post(
    "/v1/reservations/{reservation_id}/release",
    operation_id="release_reservation",
    response_model=Reservation,
)
def release_reservation(reservation_id: ReservationId, _: Service, db: DB, now: Now) -> Reservation:
    with db.session() as s, s.begin():
        return store.release(s, reservation_id=reservation_id, now=now)


@router.get(
    "/v1/orgs/{org_id}/reservations",
    operation_id="list_reservations",
    response_model=ReservationList,
    responses=DEPENDENCY_RESPONSES,
)
def list_reservations(
    org_id: OrgId,
    who: CallerDep,
    authz: AuthorizerDep,
    db: DB,
    settings: SettingsDep,
    status: ReservationStatus | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> ReservationList:
    if limit > settings.reservation_list_max:
        raise ServiceError(
            422,
            "validation_failed",
            f"Invalid request: limit: must be at most {settings.reservation_list_max}.",
            details={"errors": [{"loc": ["query", "limit"], "msg": "too large"}]},
        )
    check(who, authz, org_id=org_id, permission="budgets:read")
    with db.session() as s:
        return ReservationList(
            data=store.list_reservations(s, org_id=org_id, status=status, limit=limit)
        )
