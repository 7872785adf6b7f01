"""Budgets as other tests need it: seeding for provider states and unit tests.

These write figures and IDs directly, which nothing in production may do, so they live here and
not in `store`: `reset` empties every table, `seed_spent` sets a row's spent figure, and
`seed_reservation` reserves like `reserve` and then gives the reservation a fixed ID (a pact
names its reservation).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from gatewright.budgets.models import Reservation, ReservationCreate
from gatewright.budgets.service import store
from gatewright.budgets.service.store.ledger import lock_ledger
from gatewright.budgets.service.store.tables import scope_key


# -- seeding (provider states, tests) --------------------------------------------------------
def seed_reservation(
    s: Session,
    *,
    reservation_id: str,
    org_id: str,
    key_id: str | None,
    amount_micro_usd: int,
    request_id: str,
    ttl_seconds: int,
    now: datetime,
) -> Reservation:
    """Reserve like `reserve`, then give the reservation a fixed ID (for pact provider states)."""
    body = ReservationCreate(
        org_id=org_id,
        key_id=key_id,
        amount_micro_usd=amount_micro_usd,
        request_id=request_id,
        idempotency_key=f"seed-{reservation_id}",
        ttl_seconds=ttl_seconds,
    )
    made, _ = store.reserve(s, body=body, now=now)
    s.execute(
        update(store.reservations)
        .where(store.reservations.c.id == made.id)
        .values(id=reservation_id)
    )
    return made.model_copy(update={"id": reservation_id})


def seed_spent(
    s: Session, *, org_id: str, key_id: str | None, spent_micro_usd: int, now: datetime
) -> None:
    """Set a row's spent figure directly (for provider states and tests)."""
    store.lock_org(s, org_id=org_id, now=now)
    if key_id is not None:
        lock_ledger(s, org_id, key_id, now)
    s.execute(
        update(store.ledgers)
        .where(store.ledgers.c.org_id == org_id, store.ledgers.c.key_id == scope_key(key_id))
        .values(spent_micro_usd=spent_micro_usd, updated_at=now)
    )


def reset(s: Session) -> None:
    """Delete every row (provider states start from nothing)."""
    s.execute(store.reservations.delete())
    s.execute(store.ledgers.delete())
    s.execute(store.outbox.table.delete())
