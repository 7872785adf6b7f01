"""The hot path: reserving and committing in as few statements as possible (decision 6).

Every completion reserves and commits once, so both try this short path first: statements built
once at import (`_HOLD`, `_UNHOLD`, `_INSERT_HELD`, `_LOCK_ORG_OF`, `_MARK_COMMITTED`,
`_SETTLE`), one conditional `UPDATE ... RETURNING epoch` per ledger row and one insert for a
reservation; a commit locks the org row, flips the reservation from held to committed and
settles both rows. Anything unusual (a missing row, a period to roll over, a refusal, an
idempotency key seen before, a reservation no longer held) undoes what the short path did under
the same locks and answers None, and the caller takes the general path (`reservations`), which
handles every case. The lock order of `ledger` (org row first) is kept, so PostgreSQL cannot
deadlock; the conditional UPDATE is the same check as `ledger.reserve_on`, and a stateful
property test (budgets' `tests/unit/test_paths_agree.py`) keeps the two paths' answers, figures
and statuses equal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gatewright.budgets.models import Period, Reservation, ReservationCreate
from gatewright.budgets.service.store.ledger import period_start_for
from gatewright.budgets.service.store.records import (
    Replayed,
    check_replay,
    find_replayed,
    held_row,
    log_overrun,
    reservation_of,
    reservation_of_mapping,
)
from gatewright.budgets.service.store.tables import ORG_SCOPE, ledgers, reservations
from gatewright.servicekit.db import UTCDateTime


def _in_period(period: Period, start: str) -> Any:
    return and_(
        ledgers.c.period == period, ledgers.c.period_start >= bindparam(start, type_=UTCDateTime)
    )


# Hold `amount` on one row when it is in its current period and has room; returns its epoch.
_HOLD = (
    update(ledgers)
    .where(
        ledgers.c.org_id == bindparam("p_org"),
        ledgers.c.key_id == bindparam("p_key"),
        or_(
            ledgers.c.period.is_(None),
            ledgers.c.period_start.is_(None),
            ledgers.c.period == "total",
            _in_period("daily", "p_day"),
            _in_period("monthly", "p_month"),
        ),
        or_(
            ledgers.c.limit_micro_usd.is_(None),
            ledgers.c.spent_micro_usd + ledgers.c.reserved_micro_usd + bindparam("p_amount")
            <= ledgers.c.limit_micro_usd,
        ),
    )
    .values(
        reserved_micro_usd=ledgers.c.reserved_micro_usd + bindparam("p_amount"),
        updated_at=bindparam("p_now", type_=UTCDateTime),
    )
    .returning(ledgers.c.epoch)
)
# Take back a hold `_HOLD` made in the same transaction (the row is still locked by it).
_UNHOLD = (
    update(ledgers)
    .where(ledgers.c.org_id == bindparam("p_org"), ledgers.c.key_id == bindparam("p_key"))
    .values(reserved_micro_usd=ledgers.c.reserved_micro_usd - bindparam("p_amount"))
)
# A new reservation, or nothing when its idempotency key is taken (not an IntegrityError: on
# PostgreSQL that would abort the whole transaction).
_IDEMPOTENCY = ["org_id", "key_scope", "idempotency_key"]
_INSERT_HELD = {
    "sqlite": sqlite.insert(reservations)
    .on_conflict_do_nothing(index_elements=_IDEMPOTENCY)
    .returning(reservations.c.id),
    "postgresql": postgresql.insert(reservations)
    .on_conflict_do_nothing(index_elements=_IDEMPOTENCY)
    .returning(reservations.c.id),
}
# The lock order: the reservation's org row first (FOR UPDATE on PostgreSQL; SQLite's BEGIN
# IMMEDIATE already serializes writers).
_LOCK_ORG_OF = (
    select(ledgers.c.epoch)
    .where(
        ledgers.c.key_id == ORG_SCOPE,
        ledgers.c.org_id
        == select(reservations.c.org_id)
        .where(reservations.c.id == bindparam("p_id"))
        .scalar_subquery(),
    )
    .with_for_update()
)
_MARK_COMMITTED = (
    update(reservations)
    .where(reservations.c.id == bindparam("p_id"), reservations.c.status == "held")
    .values(
        status="committed",
        actual_micro_usd=bindparam("p_actual"),
        updated_at=bindparam("p_now", type_=UTCDateTime),
    )
    .returning(*reservations.c)
)
# Charge and un-reserve a row, only in the reservation's period (its epoch).
_SETTLE = (
    update(ledgers)
    .where(
        ledgers.c.org_id == bindparam("p_org"),
        ledgers.c.key_id == bindparam("p_key"),
        ledgers.c.epoch == bindparam("p_epoch"),
    )
    .values(
        spent_micro_usd=ledgers.c.spent_micro_usd + bindparam("p_spent"),
        reserved_micro_usd=ledgers.c.reserved_micro_usd + bindparam("p_reserved"),
        updated_at=bindparam("p_now", type_=UTCDateTime),
    )
)


def reserve_quickly(s: Session, body: ReservationCreate, now: datetime) -> Reservation | None:
    """The usual reservation in three statements, else None with nothing changed.

    Raises `Replayed` when the key was seen before and may be answered again (the caller rolls
    back the holds made here), or 409 from `check_replay`."""
    hold = {
        "p_org": body.org_id,
        "p_amount": body.amount_micro_usd,
        "p_now": now,
        "p_day": period_start_for("daily", now, None),
        "p_month": period_start_for("monthly", now, None),
    }
    held: list[str] = []
    epochs: list[int] = []
    for scope in (ORG_SCOPE,) if body.key_id is None else (ORG_SCOPE, body.key_id):
        epoch = s.execute(_HOLD, {**hold, "p_key": scope}).scalar()
        if epoch is None:
            break
        held.append(scope)
        epochs.append(epoch)
    else:
        values = held_row(body, now, epochs[0], epochs[1] if len(epochs) > 1 else None)
        if s.execute(_INSERT_HELD[s.get_bind().dialect.name], values).first() is not None:
            return reservation_of_mapping(values)
        existing = find_replayed(s, body)
        if existing is not None:
            raise Replayed(check_replay(existing, body, now))
    for scope in held:
        s.execute(_UNHOLD, {**hold, "p_key": scope})
    return None


def commit_quickly(
    s: Session, *, reservation_id: str, actual_micro_usd: int, now: datetime
) -> Reservation | None:
    """A held reservation committed in at most four statements, else None with nothing changed."""
    if s.execute(_LOCK_ORG_OF, {"p_id": reservation_id}).first() is None:
        return None
    r = s.execute(
        _MARK_COMMITTED, {"p_id": reservation_id, "p_actual": actual_micro_usd, "p_now": now}
    ).first()
    if r is None:
        return None
    settle = {"p_org": r.org_id, "p_spent": actual_micro_usd, "p_reserved": -r.amount_micro_usd}
    s.execute(_SETTLE, {**settle, "p_key": ORG_SCOPE, "p_epoch": r.org_epoch, "p_now": now})
    if r.key_id is not None:
        s.execute(_SETTLE, {**settle, "p_key": r.key_id, "p_epoch": r.key_epoch, "p_now": now})
    if actual_micro_usd > r.amount_micro_usd:
        log_overrun(r, actual_micro_usd)
    return reservation_of(r)
