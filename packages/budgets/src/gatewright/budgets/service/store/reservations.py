"""Reservations: reserve and commit (the short path first, then the general path), release,
expiry, and listing.

`reserve` and `commit` try `fastpath` first and fall back to `reserve_general` /
`commit_general`, which handle every case (a missing ledger row, a period to roll over, a
refusal, a replayed idempotency key, a reservation no longer held) and are complete on their
own: the property test drives them alone and behind the short path, and compares.

**Expiry.** A held reservation past `expires_at` is expired (status `expired`, its amount
released) by the app's periodic sweep, and lazily before a reservation would be refused (the only
moment a leaked hold could do harm: the short path never expires, the general path does before
reserving). A late commit of an expired reservation still charges its actual cost (the money was
spent) to the period it belonged to; it just is no longer reserved.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from gatewright.budgets.models import Reservation, ReservationCreate, ReservationStatus
from gatewright.budgets.service.store.fastpath import commit_quickly, reserve_quickly
from gatewright.budgets.service.store.ledger import (
    adjust,
    lock_ledger,
    lock_org,
    reserve_on,
)
from gatewright.budgets.service.store.records import (
    check_replay,
    conflict,
    find_replayed,
    held_row,
    log_overrun,
    reservation_not_found,
    reservation_of,
)
from gatewright.budgets.service.store.tables import ORG_SCOPE, reservations
from gatewright.servicekit.db import rowcount

log = logging.getLogger("gatewright.budgets.ledger")


# -- reserve ---------------------------------------------------------------------------------
def reserve(s: Session, *, body: ReservationCreate, now: datetime) -> tuple[Reservation, bool]:
    """Hold `amount` on the org's row and the key's row, atomically (see `ledger`).

    Returns `(reservation, created)`; an idempotency key seen before returns its reservation
    unchanged (`created` False) or raises `Replayed` with it (the caller rolls back), or 409 when
    it is settled or the amount differs (`check_replay`).
    """
    quick = reserve_quickly(s, body, now)
    if quick is not None:
        return quick, True
    return reserve_general(s, body=body, now=now)


def reserve_general(
    s: Session, *, body: ReservationCreate, now: datetime
) -> tuple[Reservation, bool]:
    """`reserve` without the short path: locks, replay check, lazy expiry, rollover, holds."""
    org = lock_org(s, org_id=body.org_id, now=now)
    existing = find_replayed(s, body)
    if existing is not None:
        return check_replay(existing, body, now), False
    if expire_due(s, org_id=body.org_id, now=now, limit=1000):
        org = lock_ledger(s, body.org_id, ORG_SCOPE, now)
    key = lock_ledger(s, body.org_id, body.key_id, now) if body.key_id is not None else None
    reserve_on(s, org, body.amount_micro_usd, now)
    if key is not None:
        reserve_on(s, key, body.amount_micro_usd, now)
    values = held_row(body, now, org.epoch, key.epoch if key is not None else None)
    s.execute(reservations.insert().values(**values))
    row = s.execute(select(reservations).where(reservations.c.id == values["id"])).one()
    return reservation_of(row), True


# -- settling --------------------------------------------------------------------------------
def _load_locked(s: Session, reservation_id: str, now: datetime) -> Any:
    """The reservation's row after taking its org's lock (the lock order), or 404."""
    first = s.execute(
        select(reservations.c.org_id).where(reservations.c.id == reservation_id)
    ).first()
    if first is None:
        raise reservation_not_found(reservation_id)
    lock_org(s, org_id=first.org_id, now=now)
    return s.execute(
        select(reservations).where(reservations.c.id == reservation_id).with_for_update()
    ).one()


def _settle(s: Session, r: Any, *, spent: int, reserved: int, now: datetime) -> None:
    adjust(
        s,
        org_id=r.org_id,
        key_id=None,
        epoch=r.org_epoch,
        spent=spent,
        reserved=reserved,
        now=now,
    )
    if r.key_id is not None:
        adjust(
            s,
            org_id=r.org_id,
            key_id=r.key_id,
            epoch=r.key_epoch,
            spent=spent,
            reserved=reserved,
            now=now,
        )


def _set_status(
    s: Session, reservation_id: str, status: ReservationStatus, now: datetime, **extra: Any
) -> Reservation:
    s.execute(
        update(reservations)
        .where(reservations.c.id == reservation_id)
        .values(status=status, updated_at=now, **extra)
    )
    return reservation_of(
        s.execute(select(reservations).where(reservations.c.id == reservation_id)).one()
    )


def commit(s: Session, *, reservation_id: str, actual_micro_usd: int, now: datetime) -> Reservation:
    """Charge `actual` to spent and release the whole hold (idempotent for the same amount)."""
    quick = commit_quickly(
        s, reservation_id=reservation_id, actual_micro_usd=actual_micro_usd, now=now
    )
    if quick is not None:
        return quick
    return commit_general(
        s, reservation_id=reservation_id, actual_micro_usd=actual_micro_usd, now=now
    )


def commit_general(
    s: Session, *, reservation_id: str, actual_micro_usd: int, now: datetime
) -> Reservation:
    """`commit` without the short path: every status (held, expired, committed, released)."""
    r = _load_locked(s, reservation_id, now)
    if r.status == "committed":
        if r.actual_micro_usd == actual_micro_usd:
            return reservation_of(r)
        raise conflict(
            f"Reservation {reservation_id} is already committed with {r.actual_micro_usd} "
            f"micro-USD; it cannot be committed again with {actual_micro_usd}.",
            reservation_id=reservation_id,
            status=r.status,
            actual_micro_usd=r.actual_micro_usd,
        )
    if r.status == "released":
        raise conflict(
            f"Reservation {reservation_id} was released; a released reservation cannot be "
            "committed.",
            reservation_id=reservation_id,
            status=r.status,
        )
    # held: charge and un-reserve; expired: the hold is gone already, but the money was spent.
    unreserve = -r.amount_micro_usd if r.status == "held" else 0
    _settle(s, r, spent=actual_micro_usd, reserved=unreserve, now=now)
    extra = {"reservation_id": reservation_id, "org_id": r.org_id, "key_id": r.key_id}
    if r.status == "expired":
        log.warning(
            "late commit of an expired reservation: charged %d micro-USD, no longer reserved",
            actual_micro_usd,
            extra=extra,
        )
    if actual_micro_usd > r.amount_micro_usd:
        log_overrun(r, actual_micro_usd)
    return _set_status(s, reservation_id, "committed", now, actual_micro_usd=actual_micro_usd)


def release(s: Session, *, reservation_id: str, now: datetime) -> Reservation:
    """Release the hold without charging (idempotent; an expired one is returned as it is)."""
    r = _load_locked(s, reservation_id, now)
    if r.status in ("released", "expired"):
        return reservation_of(r)
    if r.status == "committed":
        raise conflict(
            f"Reservation {reservation_id} is already committed; it cannot be released.",
            reservation_id=reservation_id,
            status=r.status,
        )
    _settle(s, r, spent=0, reserved=-r.amount_micro_usd, now=now)
    return _set_status(s, reservation_id, "released", now)


# -- expiry ----------------------------------------------------------------------------------
def expire_due(s: Session, *, org_id: str, now: datetime, limit: int) -> int:
    """Expire the org's held reservations past `expires_at` (caller holds the org lock)."""
    due = s.execute(
        select(reservations)
        .where(
            reservations.c.org_id == org_id,
            reservations.c.status == "held",
            reservations.c.expires_at <= now,
        )
        .order_by(reservations.c.expires_at)
        .limit(limit)
    ).all()
    expired = 0
    for r in due:
        result = s.execute(
            update(reservations)
            .where(reservations.c.id == r.id, reservations.c.status == "held")
            .values(status="expired", updated_at=now)
        )
        if rowcount(result) == 1:
            _settle(s, r, spent=0, reserved=-r.amount_micro_usd, now=now)
            expired += 1
    if expired:
        log.info("expired %d reservations", expired, extra={"org_id": org_id})
    return expired


def orgs_with_due_reservations(s: Session, *, now: datetime, limit: int) -> list[str]:
    rows = s.execute(
        select(reservations.c.org_id)
        .where(reservations.c.status == "held", reservations.c.expires_at <= now)
        .group_by(reservations.c.org_id)
        .limit(limit)
    ).all()
    return [r.org_id for r in rows]


# -- listing ---------------------------------------------------------------------------------
def list_reservations(
    s: Session, *, org_id: str, status: ReservationStatus | None, limit: int
) -> list[Reservation]:
    conditions = [reservations.c.org_id == org_id]
    if status is not None:
        conditions.append(reservations.c.status == status)
    rows = s.execute(
        select(reservations)
        .where(and_(*conditions))
        .order_by(reservations.c.created_at.desc(), reservations.c.id)
        .limit(limit)
    ).all()
    return [reservation_of(r) for r in rows]
