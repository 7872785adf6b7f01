"""The spend ledger: periods, the `Ledger` row, the lock order, rollover, budgets and spend.

Invariants, and how they hold under concurrent callers on SQLite and PostgreSQL:

- **Never spent + reserved > limit through a reservation.** Reserving is one conditional UPDATE
  per row (`reserve_on`: `reserved = reserved + :a WHERE ... AND spent + reserved + :a <=
  limit`), org first, then key, in the caller's transaction; a row count of 0 raises and rolls
  back both. PostgreSQL re-evaluates the WHERE clause on the latest row version after waiting for
  a concurrent writer (READ COMMITTED), so the check is never made against stale figures; SQLite
  transactions are `BEGIN IMMEDIATE` (servicekit), so writers are serialized. A commit may push
  spent past the limit when the actual cost exceeds the estimate: the money was spent, so it is
  charged.
- **No deadlocks.** Every write transaction locks the org's row first (`lock_org`: SELECT ... FOR
  UPDATE on PostgreSQL), then key rows. Writes for one org are serialized; orgs are independent.
- **Period resets never lose or misplace money.** A rollover is a compare-and-set on
  `period_start` that zeroes spent and reserved and bumps `epoch`. A reservation records the epoch
  of each row it reserved on; commit, release and expiry update a row only `WHERE epoch = :e`
  (`adjust`), so a reservation from the previous period is charged to that period (recorded on
  the reservation) and never to the new one, and never un-reserves money the new period did not
  reserve.

Functions take an open `Session` inside a transaction and never commit themselves.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gatewright.budgets.models import Budget, KeySpend, Period, Spend
from gatewright.budgets.service.store.tables import ORG_SCOPE, ledgers, reservations, scope_key
from gatewright.servicekit import ServiceError
from gatewright.servicekit.db import rowcount

log = logging.getLogger("gatewright.budgets.ledger")


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


# -- rows, locks, rollover -------------------------------------------------------------------
def select_ledger(s: Session, org_id: str, key_id: str, *, lock: bool) -> Ledger | None:
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


def lock_ledger(s: Session, org_id: str, key_id: str, now: datetime) -> Ledger:
    """The scope's row, created if missing, locked, and rolled over to the current period."""
    _ensure_ledger(s, org_id, key_id, now)
    row = select_ledger(s, org_id, key_id, lock=True)
    assert row is not None
    return _rollover(s, row, now)


def lock_org(s: Session, *, org_id: str, now: datetime) -> Ledger:
    """Lock the org's row first in every write transaction (the one lock order: no deadlocks)."""
    return lock_ledger(s, org_id, ORG_SCOPE, now)


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
    if rowcount(result):
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
    again = select_ledger(s, row.org_id, row.key_id, lock=True)
    assert again is not None
    return again


# -- holding and settling on a row -----------------------------------------------------------
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


def reserve_on(s: Session, row: Ledger, amount: int, now: datetime) -> None:
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
    if rowcount(result) != 1:
        current = select_ledger(s, row.org_id, row.key_id, lock=False)
        raise budget_exceeded(current or row, amount)


def adjust(
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
            ledgers.c.key_id == scope_key(key_id),
            ledgers.c.epoch == epoch,
        )
        .values(
            spent_micro_usd=ledgers.c.spent_micro_usd + spent,
            reserved_micro_usd=ledgers.c.reserved_micro_usd + reserved,
            updated_at=now,
        )
    )
    return rowcount(result) == 1


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
    row = org if key_id is None else lock_ledger(s, org_id, key_id, now)
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
    saved = select_ledger(s, org_id, scope_key(key_id), lock=False)
    assert saved is not None
    return saved.budget()


def get_budget(s: Session, *, org_id: str, key_id: str | None, now: datetime) -> Budget:
    row = select_ledger(s, org_id, scope_key(key_id), lock=False)
    if row is None or row.limit_micro_usd is None:
        raise budget_not_found(org_id, key_id)
    return row.view(now).budget()


def delete_budget(s: Session, *, org_id: str, key_id: str | None, now: datetime) -> None:
    """Remove the limit (idempotent); spend keeps being tracked on the row."""
    lock_org(s, org_id=org_id, now=now)
    s.execute(
        update(ledgers)
        .where(ledgers.c.org_id == org_id, ledgers.c.key_id == scope_key(key_id))
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


def orgs_with_data(s: Session) -> dict[str, int]:
    """org id -> how many ledger and reservation rows budgets keeps for it."""
    counts: dict[str, int] = {}
    for table in (ledgers, reservations):
        rows = s.execute(select(table.c.org_id, func.count()).group_by(table.c.org_id)).all()
        for org_id, n in rows:
            counts[org_id] = counts.get(org_id, 0) + int(n)
    return counts


def purge_org(s: Session, *, org_id: str) -> int:
    """Delete every ledger and reservation of the org and its keys; how many rows went."""
    removed = 0
    for table in (reservations, ledgers):
        removed += rowcount(s.execute(delete(table).where(table.c.org_id == org_id)))
    return removed
