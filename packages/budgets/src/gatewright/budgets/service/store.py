"""Budgets' tables (all prefixed `budgets_`) and keyword-only data functions: the spend ledger.

Functions take an open `Session` inside a transaction (`with db.session() as s, s.begin():`) and
never commit themselves; raising (a `ServiceError`) rolls the whole transaction back.

The ledger has one row per scope: the org (`key_id = ''`) and each key that has spent or has a
budget. A row holds the budget (`limit_micro_usd` null = no budget = unlimited), the current
period (`period_start`, `epoch`) and its `spent` and `reserved` figures.

Invariants, and how they hold under concurrent callers on SQLite and PostgreSQL:

- **Never spent + reserved > limit through a reservation.** Reserving is one conditional UPDATE
  per row (`reserved = reserved + :a WHERE ... AND spent + reserved + :a <= limit`), org first,
  then key, in the caller's transaction; a row count of 0 raises and rolls back both. PostgreSQL
  re-evaluates the WHERE clause on the latest row version after waiting for a concurrent writer
  (READ COMMITTED), so the check is never made against stale figures; SQLite transactions are
  `BEGIN IMMEDIATE` (servicekit), so writers are serialized. A commit may push spent past the
  limit when the actual cost exceeds the estimate: the money was spent, so it is charged.
- **No deadlocks.** Every write transaction locks the org's row first (`lock_org`: SELECT ... FOR
  UPDATE on PostgreSQL), then key rows. Writes for one org are serialized; orgs are independent.
- **Period resets never lose or misplace money.** A rollover is a compare-and-set on
  `period_start` that zeroes spent and reserved and bumps `epoch`. A reservation records the epoch
  of each row it reserved on; commit, release and expiry update a row only `WHERE epoch = :e`, so
  a reservation from the previous period is charged to that period (recorded on the reservation)
  and never to the new one, and never un-reserves money the new period did not reserve.
- **Expiry.** A held reservation past `expires_at` is expired (status `expired`, its amount
  released) by the app's periodic sweep, and lazily before a reservation would be refused (the
  only moment a leaked hold could do harm). A late commit of an expired reservation still
  charges its actual cost (the money was spent) to the period it belonged to; it just is no
  longer reserved.

**The hot path.** Every completion reserves and commits once, so both try a short path first:
statements built once at import (`_HOLD`, `_UNHOLD`, `_INSERT_HELD`, `_LOCK_ORG_OF`,
`_MARK_COMMITTED`, `_SETTLE`), one conditional `UPDATE ... RETURNING epoch` per ledger row and
one insert for a reservation; a commit locks the org row, flips the reservation from held to
committed and settles both rows. Anything unusual (a missing row, a period to roll over, a
refusal, an idempotency key seen before, a reservation no longer held) undoes what the short
path did under the same locks and takes the general path below, which handles every case.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from gatewright.budgets.models import (
    Budget,
    KeySpend,
    Period,
    Reservation,
    ReservationCreate,
    ReservationStatus,
    Spend,
)
from gatewright.servicekit import ServiceError
from gatewright.servicekit.audit import AuditOutbox
from gatewright.servicekit.db import UTCDateTime

log = logging.getLogger("gatewright.budgets.ledger")
metadata = MetaData()
# budgets_audit_outbox: audit events, recorded in the transaction of the change they describe.
outbox = AuditOutbox("budgets", metadata)

Clock = Callable[[], datetime]
ORG_SCOPE = ""  # key_id of an org's own row (NULL would defeat the unique constraint)


ledgers = Table(
    "budgets_ledgers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(100), nullable=False),
    Column("key_id", String(100), nullable=False),
    Column("limit_micro_usd", BigInteger),
    Column("period", String(16)),
    Column("period_start", UTCDateTime),
    Column("epoch", Integer, nullable=False, default=0),
    Column("spent_micro_usd", BigInteger, nullable=False, default=0),
    Column("reserved_micro_usd", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "key_id", name="uq_budgets_ledgers_scope"),
)

reservations = Table(
    "budgets_reservations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(100), nullable=False),
    Column("key_id", String(100)),
    Column("amount_micro_usd", BigInteger, nullable=False),
    # The correlation label of the request it pays for; not unique (decision 8).
    Column("request_id", String(200), nullable=False),
    # What makes a create idempotent: one logical reservation per (org, key, idempotency key).
    Column("key_scope", String(100), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actual_micro_usd", BigInteger),
    Column("org_epoch", Integer, nullable=False),
    Column("key_epoch", Integer),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "org_id", "key_scope", "idempotency_key", name="uq_budgets_reservations_idempotency"
    ),
    Index("ix_budgets_reservations_org_status", "org_id", "status"),
    Index("ix_budgets_reservations_status_expiry", "status", "expires_at"),
)


# -- periods ---------------------------------------------------------------------------------
def period_start_for(period: Period, now: datetime, current: datetime | None) -> datetime:
    """The start of the period containing `now` (a `total` budget keeps its first start)."""
    now = now.astimezone(UTC)
    if period == "daily":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "monthly":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return current if current is not None else now


@dataclass(frozen=True)
class Ledger:
    id: str
    org_id: str
    key_id: str
    limit_micro_usd: int | None
    period: Period | None
    period_start: datetime | None
    epoch: int
    spent_micro_usd: int
    reserved_micro_usd: int
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> Ledger:
        return cls(**dict(row._mapping))

    def stale(self, now: datetime) -> bool:
        """True when `now` lies in a later period than the row's figures belong to."""
        if self.period is None or self.period_start is None:
            return False
        return period_start_for(self.period, now, self.period_start) > self.period_start

    def view(self, now: datetime) -> Ledger:
        """The row as of `now` without writing: a stale period reads as a fresh one."""
        if not self.stale(now):
            return self
        assert self.period is not None
        return Ledger(
            **{
                **self.__dict__,
                "period_start": period_start_for(self.period, now, self.period_start),
                "spent_micro_usd": 0,
                "reserved_micro_usd": 0,
            }
        )

    def budget(self) -> Budget:
        assert self.limit_micro_usd is not None
        assert self.period is not None
        assert self.period_start is not None
        return Budget(
            org_id=self.org_id,
            key_id=self.key_id or None,
            limit_micro_usd=self.limit_micro_usd,
            period=self.period,
            period_start=self.period_start,
            spent_micro_usd=self.spent_micro_usd,
            reserved_micro_usd=self.reserved_micro_usd,
            updated_at=self.updated_at,
        )


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _scope_key(key_id: str | None) -> str:
    return ORG_SCOPE if key_id is None else key_id


def _select_ledger(s: Session, org_id: str, key_id: str, *, lock: bool) -> Ledger | None:
    q = select(ledgers).where(ledgers.c.org_id == org_id, ledgers.c.key_id == key_id)
    if lock:
        q = q.with_for_update()
    row = s.execute(q).first()
    return Ledger.of(row) if row is not None else None


def _ensure_ledger(s: Session, org_id: str, key_id: str, now: datetime) -> None:
    values = {
        "id": f"led_{secrets.token_hex(12)}",
        "org_id": org_id,
        "key_id": key_id,
        "epoch": 0,
        "spent_micro_usd": 0,
        "reserved_micro_usd": 0,
        "updated_at": now,
    }
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    s.execute(insert(ledgers).values(**values).on_conflict_do_nothing())


def _lock_ledger(s: Session, org_id: str, key_id: str, now: datetime) -> Ledger:
    """The scope's row, created if missing, locked, and rolled over to the current period."""
    _ensure_ledger(s, org_id, key_id, now)
    row = _select_ledger(s, org_id, key_id, lock=True)
    assert row is not None
    return _rollover(s, row, now)


def lock_org(s: Session, *, org_id: str, now: datetime) -> Ledger:
    """Lock the org's row first in every write transaction (the one lock order: no deadlocks)."""
    return _lock_ledger(s, org_id, ORG_SCOPE, now)


def _rollover(s: Session, row: Ledger, now: datetime) -> Ledger:
    """Start a new period when `now` is past the row's: compare-and-set on `period_start`."""
    if not row.stale(now):
        return row
    fresh = row.view(now)
    result = s.execute(
        update(ledgers)
        .where(ledgers.c.id == row.id, ledgers.c.period_start == row.period_start)
        .values(
            period_start=fresh.period_start,
            spent_micro_usd=0,
            reserved_micro_usd=0,
            epoch=ledgers.c.epoch + 1,
            updated_at=now,
        )
    )
    if _rowcount(result):
        log.info(
            "budget period rolled over",
            extra={
                "org_id": row.org_id,
                "key_id": row.key_id or None,
                "period": row.period,
                "closed_spent_micro_usd": row.spent_micro_usd,
                "period_start": fresh.period_start.isoformat() if fresh.period_start else None,
            },
        )
    again = _select_ledger(s, row.org_id, row.key_id, lock=True)
    assert again is not None
    return again


# -- budgets ---------------------------------------------------------------------------------
def budget_not_found(org_id: str, key_id: str | None) -> ServiceError:
    what = f"key {key_id} of org {org_id}" if key_id else f"org {org_id}"
    return ServiceError(
        404,
        "budget_not_found",
        f"No budget is set for {what}.",
        details={"org_id": org_id, "key_id": key_id},
    )


def set_budget(
    s: Session,
    *,
    org_id: str,
    key_id: str | None,
    limit_micro_usd: int,
    period: Period,
    now: datetime,
) -> Budget:
    """Create or change a budget. The current period's spent and reserved figures are kept."""
    org = lock_org(s, org_id=org_id, now=now)
    row = org if key_id is None else _lock_ledger(s, org_id, key_id, now)
    start = row.period_start if row.period == period else None
    s.execute(
        update(ledgers)
        .where(ledgers.c.id == row.id)
        .values(
            limit_micro_usd=limit_micro_usd,
            period=period,
            period_start=period_start_for(period, now, start),
            updated_at=now,
        )
    )
    saved = _select_ledger(s, org_id, _scope_key(key_id), lock=False)
    assert saved is not None
    return saved.budget()


def get_budget(s: Session, *, org_id: str, key_id: str | None, now: datetime) -> Budget:
    row = _select_ledger(s, org_id, _scope_key(key_id), lock=False)
    if row is None or row.limit_micro_usd is None:
        raise budget_not_found(org_id, key_id)
    return row.view(now).budget()


def delete_budget(s: Session, *, org_id: str, key_id: str | None, now: datetime) -> None:
    """Remove the limit (idempotent); spend keeps being tracked on the row."""
    lock_org(s, org_id=org_id, now=now)
    s.execute(
        update(ledgers)
        .where(ledgers.c.org_id == org_id, ledgers.c.key_id == _scope_key(key_id))
        .values(limit_micro_usd=None, period=None, period_start=None, updated_at=now)
    )


def get_spend(s: Session, *, org_id: str, now: datetime) -> Spend:
    rows = [
        Ledger.of(r).view(now)
        for r in s.execute(
            select(ledgers).where(ledgers.c.org_id == org_id).order_by(ledgers.c.key_id)
        )
    ]
    org = next((r for r in rows if r.key_id == ORG_SCOPE), None)
    keys = [
        KeySpend(
            key_id=r.key_id,
            spent_micro_usd=r.spent_micro_usd,
            reserved_micro_usd=r.reserved_micro_usd,
            limit_micro_usd=r.limit_micro_usd,
            period=r.period,
            period_start=r.period_start,
        )
        for r in rows
        if r.key_id != ORG_SCOPE
    ]
    return Spend(
        org_id=org_id,
        spent_micro_usd=org.spent_micro_usd if org else 0,
        reserved_micro_usd=org.reserved_micro_usd if org else 0,
        limit_micro_usd=org.limit_micro_usd if org else None,
        period=org.period if org else None,
        period_start=org.period_start if org else None,
        keys=keys,
    )


# -- reservations ----------------------------------------------------------------------------
def _reservation(row: Any) -> Reservation:
    return _reservation_of(row._mapping)


def _reservation_of(m: Any) -> Reservation:
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


def reservation_not_found(reservation_id: str) -> ServiceError:
    return ServiceError(
        404,
        "reservation_not_found",
        f"No reservation {reservation_id}.",
        details={"reservation_id": reservation_id},
    )


def conflict(message: str, **details: Any) -> ServiceError:
    return ServiceError(409, "conflict", message, details=details)


def budget_exceeded(row: Ledger, requested: int) -> ServiceError:
    assert row.limit_micro_usd is not None
    who = f"Key {row.key_id} of org {row.org_id}" if row.key_id else f"Org {row.org_id}"
    message = (
        f"{who} would exceed its {row.period} budget: limit {row.limit_micro_usd}, "
        f"spent {row.spent_micro_usd}, reserved {row.reserved_micro_usd}, "
        f"requested {requested} (micro-USD)."
    )
    return ServiceError(
        402,
        "budget_exceeded",
        message,
        details={
            "scope": "key" if row.key_id else "org",
            "org_id": row.org_id,
            "key_id": row.key_id or None,
            "limit_micro_usd": row.limit_micro_usd,
            "spent_micro_usd": row.spent_micro_usd,
            "reserved_micro_usd": row.reserved_micro_usd,
            "requested_micro_usd": requested,
            "period": row.period,
        },
    )


def _reserve_on(s: Session, row: Ledger, amount: int, now: datetime) -> None:
    """The one conditional UPDATE per row; raises 402 (rolling everything back) when it fails."""
    result = s.execute(
        update(ledgers)
        .where(
            ledgers.c.id == row.id,
            ledgers.c.epoch == row.epoch,
            or_(
                ledgers.c.limit_micro_usd.is_(None),
                ledgers.c.spent_micro_usd + ledgers.c.reserved_micro_usd + amount
                <= ledgers.c.limit_micro_usd,
            ),
        )
        .values(reserved_micro_usd=ledgers.c.reserved_micro_usd + amount, updated_at=now)
    )
    if _rowcount(result) != 1:
        current = _select_ledger(s, row.org_id, row.key_id, lock=False)
        raise budget_exceeded(current or row, amount)


def find_replayed(s: Session, body: ReservationCreate) -> Reservation | None:
    """The reservation an earlier create with this body's idempotency key made, if any."""
    row = s.execute(
        select(reservations).where(
            reservations.c.org_id == body.org_id,
            reservations.c.key_scope == _scope_key(body.key_id),
            reservations.c.idempotency_key == body.idempotency_key,
        )
    ).first()
    return _reservation(row) if row is not None else None


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


# -- the hot path (see the module doc) -------------------------------------------------------
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


def _held_row(
    body: ReservationCreate, now: datetime, org_epoch: int, key_epoch: int | None
) -> dict[str, Any]:
    """A new held reservation's row, made in the given epochs of its org's and key's rows."""
    return {
        "id": f"res_{secrets.token_hex(12)}",
        "org_id": body.org_id,
        "key_id": body.key_id,
        "amount_micro_usd": body.amount_micro_usd,
        "request_id": body.request_id,
        "key_scope": _scope_key(body.key_id),
        "idempotency_key": body.idempotency_key,
        "status": "held",
        "actual_micro_usd": None,
        "org_epoch": org_epoch,
        "key_epoch": key_epoch,
        "expires_at": now + timedelta(seconds=body.ttl_seconds),
        "created_at": now,
        "updated_at": now,
    }


class Replayed(Exception):
    """An idempotency key seen before: its reservation. Raised so that the holds the short path made
    roll back with the transaction (a replay changes nothing, not even `updated_at`)."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__(reservation.id)
        self.reservation = reservation


def _reserve_quickly(s: Session, body: ReservationCreate, now: datetime) -> Reservation | None:
    """The usual reservation in three statements, else None with nothing changed."""
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
        values = _held_row(body, now, epochs[0], epochs[1] if len(epochs) > 1 else None)
        if s.execute(_INSERT_HELD[s.get_bind().dialect.name], values).first() is not None:
            return _reservation_of(values)
        existing = find_replayed(s, body)
        if existing is not None:
            raise Replayed(check_replay(existing, body, now))
    for scope in held:
        s.execute(_UNHOLD, {**hold, "p_key": scope})
    return None


def _commit_quickly(
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
        _log_overrun(r, actual_micro_usd)
    return _reservation(r)


def reserve(s: Session, *, body: ReservationCreate, now: datetime) -> tuple[Reservation, bool]:
    """Hold `amount` on the org's row and the key's row, atomically (see the module doc).

    Returns `(reservation, created)`; an idempotency key seen before returns its reservation
    unchanged (`created` False) or raises `Replayed` with it (the caller rolls back), or 409 when
    it is settled or the amount differs (`check_replay`).
    """
    quick = _reserve_quickly(s, body, now)
    if quick is not None:
        return quick, True
    org = lock_org(s, org_id=body.org_id, now=now)
    existing = find_replayed(s, body)
    if existing is not None:
        return check_replay(existing, body, now), False
    if expire_due(s, org_id=body.org_id, now=now, limit=1000):
        org = _lock_ledger(s, body.org_id, ORG_SCOPE, now)
    key = _lock_ledger(s, body.org_id, body.key_id, now) if body.key_id is not None else None
    _reserve_on(s, org, body.amount_micro_usd, now)
    if key is not None:
        _reserve_on(s, key, body.amount_micro_usd, now)
    values = _held_row(body, now, org.epoch, key.epoch if key is not None else None)
    s.execute(reservations.insert().values(**values))
    row = s.execute(select(reservations).where(reservations.c.id == values["id"])).one()
    return _reservation(row), True


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


def _adjust(
    s: Session,
    *,
    org_id: str,
    key_id: str | None,
    epoch: int | None,
    spent: int,
    reserved: int,
    now: datetime,
) -> bool:
    """Add to a row's figures only if it is still in the reservation's period (its epoch)."""
    if epoch is None:
        return False
    result = s.execute(
        update(ledgers)
        .where(
            ledgers.c.org_id == org_id,
            ledgers.c.key_id == _scope_key(key_id),
            ledgers.c.epoch == epoch,
        )
        .values(
            spent_micro_usd=ledgers.c.spent_micro_usd + spent,
            reserved_micro_usd=ledgers.c.reserved_micro_usd + reserved,
            updated_at=now,
        )
    )
    return _rowcount(result) == 1


def _settle(s: Session, r: Any, *, spent: int, reserved: int, now: datetime) -> None:
    _adjust(
        s,
        org_id=r.org_id,
        key_id=None,
        epoch=r.org_epoch,
        spent=spent,
        reserved=reserved,
        now=now,
    )
    if r.key_id is not None:
        _adjust(
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
    return _reservation(
        s.execute(select(reservations).where(reservations.c.id == reservation_id)).one()
    )


def commit(s: Session, *, reservation_id: str, actual_micro_usd: int, now: datetime) -> Reservation:
    """Charge `actual` to spent and release the whole hold (idempotent for the same amount)."""
    quick = _commit_quickly(
        s, reservation_id=reservation_id, actual_micro_usd=actual_micro_usd, now=now
    )
    if quick is not None:
        return quick
    r = _load_locked(s, reservation_id, now)
    if r.status == "committed":
        if r.actual_micro_usd == actual_micro_usd:
            return _reservation(r)
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
        _log_overrun(r, actual_micro_usd)
    return _set_status(s, reservation_id, "committed", now, actual_micro_usd=actual_micro_usd)


def _log_overrun(r: Any, actual_micro_usd: int) -> None:
    log.warning(
        "actual cost %d exceeds the reserved estimate %d micro-USD: charged in full",
        actual_micro_usd,
        r.amount_micro_usd,
        extra={"reservation_id": r.id, "org_id": r.org_id, "key_id": r.key_id},
    )


def release(s: Session, *, reservation_id: str, now: datetime) -> Reservation:
    """Release the hold without charging (idempotent; an expired one is returned as it is)."""
    r = _load_locked(s, reservation_id, now)
    if r.status in ("released", "expired"):
        return _reservation(r)
    if r.status == "committed":
        raise conflict(
            f"Reservation {reservation_id} is already committed; it cannot be released.",
            reservation_id=reservation_id,
            status=r.status,
        )
    _settle(s, r, spent=0, reserved=-r.amount_micro_usd, now=now)
    return _set_status(s, reservation_id, "released", now)


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
        if _rowcount(result) == 1:
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
    return [_reservation(r) for r in rows]


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
    made, _ = reserve(s, body=body, now=now)
    s.execute(update(reservations).where(reservations.c.id == made.id).values(id=reservation_id))
    return made.model_copy(update={"id": reservation_id})


def seed_spent(
    s: Session, *, org_id: str, key_id: str | None, spent_micro_usd: int, now: datetime
) -> None:
    """Set a row's spent figure directly (for provider states and tests)."""
    lock_org(s, org_id=org_id, now=now)
    if key_id is not None:
        _lock_ledger(s, org_id, key_id, now)
    s.execute(
        update(ledgers)
        .where(ledgers.c.org_id == org_id, ledgers.c.key_id == _scope_key(key_id))
        .values(spent_micro_usd=spent_micro_usd, updated_at=now)
    )


def reset(s: Session) -> None:
    """Delete every row (provider states start from nothing)."""
    s.execute(reservations.delete())
    s.execute(ledgers.delete())
    s.execute(outbox.table.delete())
