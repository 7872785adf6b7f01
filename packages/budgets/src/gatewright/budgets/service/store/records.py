"""Reservation rows: building a held one, reading rows as `Reservation`s, their errors, and the
replay rules of an idempotency key (decision 8).

A create that repeats an idempotency key (per org and key) finds the reservation it made
(`find_replayed`) and `check_replay` decides: while that reservation is **held**, with the same
amount, it is answered again, marked `replayed`, and nothing changes; once it is **settled**
(committed, released, or past its expiry, swept or not) it is 409 `reservation_settled`; with a
**different amount** it is 409 `idempotency_key_reused`. A settled reservation can never authorize
anything again. `Replayed` carries the answer out of a transaction that must roll back (the short
path found the key only after holding money).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gatewright.budgets.models import Reservation, ReservationCreate
from gatewright.budgets.service.store.tables import reservations, scope_key
from gatewright.servicekit import ServiceError

log = logging.getLogger("gatewright.budgets.ledger")


# -- building and reading --------------------------------------------------------------------
def held_row(
    body: ReservationCreate, now: datetime, org_epoch: int, key_epoch: int | None
) -> dict[str, Any]:
    """A new held reservation's row, made in the given epochs of its org's and key's rows."""
    return {
        "id": f"res_{secrets.token_hex(12)}",
        "org_id": body.org_id,
        "key_id": body.key_id,
        "amount_micro_usd": body.amount_micro_usd,
        "request_id": body.request_id,
        "key_scope": scope_key(body.key_id),
        "idempotency_key": body.idempotency_key,
        "status": "held",
        "actual_micro_usd": None,
        "org_epoch": org_epoch,
        "key_epoch": key_epoch,
        "expires_at": now + timedelta(seconds=body.ttl_seconds),
        "created_at": now,
        "updated_at": now,
    }


def reservation_of(row: Any) -> Reservation:
    """A reservations row (a SQLAlchemy `Row`) as the API model."""
    return reservation_of_mapping(row._mapping)


def reservation_of_mapping(m: Any) -> Reservation:
    """A reservation's columns (a row's mapping, or the values it was inserted with)."""
    return Reservation(
        id=m["id"],
        org_id=m["org_id"],
        key_id=m["key_id"],
        amount_micro_usd=m["amount_micro_usd"],
        caller_request_id=m["request_id"],
        idempotency_key=m["idempotency_key"],
        status=m["status"],
        actual_micro_usd=m["actual_micro_usd"],
        expires_at=m["expires_at"],
        created_at=m["created_at"],
    )


def log_overrun(r: Any, actual_micro_usd: int) -> None:
    log.warning(
        "actual cost %d exceeds the reserved estimate %d micro-USD: charged in full",
        actual_micro_usd,
        r.amount_micro_usd,
        extra={"reservation_id": r.id, "org_id": r.org_id, "key_id": r.key_id},
    )


# -- errors ----------------------------------------------------------------------------------
def reservation_not_found(reservation_id: str) -> ServiceError:
    return ServiceError(
        404,
        "reservation_not_found",
        f"No reservation {reservation_id}.",
        details={"reservation_id": reservation_id},
    )


def conflict(message: str, **details: Any) -> ServiceError:
    return ServiceError(409, "conflict", message, details=details)


# -- replays ---------------------------------------------------------------------------------
class Replayed(Exception):
    """An idempotency key seen before: its reservation. Raised so that the holds the short path made
    roll back with the transaction (a replay changes nothing, not even `updated_at`)."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__(reservation.id)
        self.reservation = reservation


def find_replayed(s: Session, body: ReservationCreate) -> Reservation | None:
    """The reservation an earlier create with this body's idempotency key made, if any."""
    row = s.execute(
        select(reservations).where(
            reservations.c.org_id == body.org_id,
            reservations.c.key_scope == scope_key(body.key_id),
            reservations.c.idempotency_key == body.idempotency_key,
        )
    ).first()
    return reservation_of(row) if row is not None else None


def check_replay(existing: Reservation, body: ReservationCreate, now: datetime) -> Reservation:
    """A create repeating an idempotency key (decision 8): the same reservation, marked
    `replayed`, while it is held and the amount is the same; 409 otherwise, since a settled
    reservation (one past its expiry too, swept or not) can never authorize anything again."""
    if existing.amount_micro_usd != body.amount_micro_usd:
        raise ServiceError(
            409,
            "idempotency_key_reused",
            f"Idempotency key {body.idempotency_key} already made reservation {existing.id} for "
            f"{existing.amount_micro_usd} micro-USD, not {body.amount_micro_usd}; use a new key "
            "for a new reservation.",
            details={"reservation_id": existing.id, "idempotency_key": body.idempotency_key},
        )
    status = existing.status
    if status == "held" and existing.expires_at <= now:
        status = "expired"  # not swept yet, but its hold is over
    if status != "held":
        raise ServiceError(
            409,
            "reservation_settled",
            f"Idempotency key {body.idempotency_key} belongs to reservation {existing.id}, which "
            f"is {status}; a settled reservation cannot be held again. Use a new key for a new "
            "reservation.",
            details={
                "reservation_id": existing.id,
                "idempotency_key": body.idempotency_key,
                "status": status,
            },
        )
    return existing.model_copy(update={"replayed": True})
