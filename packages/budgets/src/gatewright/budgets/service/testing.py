"""Budgets as other tests need it: `FakeBudgets` for budgets' callers, and seeding helpers.

`FakeBudgets` stands in for the budgets `AsyncClient` where a caller (the gateway) passes its
budgets client in: its `reservations` is an in-process double of the client's async
`reservations` resource with the semantics a caller relies on. Each org has a budget
(`limit` for every org, `limits` per org; `spent` per org), a create holds its amount and is
refused with 402 `BudgetExceeded` when spent + held + amount would pass the limit, a commit
charges the actual cost and ends the hold, a release ends it without charging, and an
idempotency key repeated while its reservation is held answers it again with `replayed`
(decision 8). Errors are budgets' own (the 402 figures from `ledger.budget_exceeded`, the
replay rules from `records.check_replay`) in budgets' error envelope, turned into exceptions by
core's real `make_status_error`, so the caller sees what the real client raises. What was
created, committed and released is recorded for assertions. Org budgets only (no key budgets),
and no expiry sweep: a test that needs those runs the real service.

    budgets = FakeBudgets()
    app = create_app(settings, budgets=budgets)
    budgets.reservations.limit = 5          # every org: a budget of 5 micro-USD
    assert budgets.reservations.committed == [("res_1", 12)]

The seeding helpers write figures and IDs directly, which nothing in production may do, so they
live here and not in `store`: `reset` empties every table, `seed_spent` sets a row's spent
figure, and `seed_reservation` reserves like `reserve` and then gives the reservation a fixed ID
(a pact names its reservation).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

import httpx
from sqlalchemy import update
from sqlalchemy.orm import Session

from gatewright.budgets.models import (
    DEFAULT_TTL_SECONDS,
    Reservation,
    ReservationCreate,
    ReservationStatus,
)
from gatewright.budgets.service import store
from gatewright.budgets.service.store.ledger import (
    Ledger,
    budget_exceeded,
    lock_ledger,
    period_start_for,
)
from gatewright.budgets.service.store.records import conflict, reservation_not_found
from gatewright.budgets.service.store.tables import ORG_SCOPE, scope_key
from gatewright.core import make_status_error
from gatewright.servicekit import ServiceError
from gatewright.servicekit.db import utcnow
from gatewright.servicekit.errors import ERROR_TYPES

FAKE_URL = "http://budgets.fake"


# -- FakeBudgets -----------------------------------------------------------------------------
def _raise(exc: ServiceError, *, path: str, request_id: str = "") -> NoReturn:
    """Raise what the budgets client raises for this error: budgets' envelope, read by core."""
    envelope = {
        "error": {
            "type": ERROR_TYPES.get(exc.status_code, "api_error"),
            "code": exc.code,
            "message": exc.message,
            "request_id": request_id,
            "details": exc.details,
        }
    }
    request = httpx.Request("POST", f"{FAKE_URL}{path}")
    raise make_status_error(httpx.Response(exc.status_code, json=envelope, request=request))


@dataclass
class FakeReservations:
    """The budgets client's async `reservations` resource, in-process (see the module doc)."""

    limit: int | None = None  # every org's budget (micro-USD per day) unless `limits` names it
    limits: dict[str, int] = field(default_factory=dict)  # org_id -> its budget
    spent: dict[str, int] = field(default_factory=dict)  # org_id -> spent this period
    clock: Callable[[], datetime] = utcnow
    # What callers did, for assertions: creates that held money (id, org_id, key_id, amount,
    # request_id, idempotency_key, ttl_seconds), commits (id, actual) and releases (id).
    created: list[dict[str, Any]] = field(default_factory=list)
    committed: list[tuple[str, int]] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    by_id: dict[str, Reservation] = field(default_factory=dict)

    def held(self, org_id: str) -> int:
        """What the org's held reservations hold."""
        return sum(
            r.amount_micro_usd
            for r in self.by_id.values()
            if r.org_id == org_id and r.status == "held"
        )

    def _ledger(self, org_id: str, limit: int, now: datetime) -> Ledger:
        return Ledger(
            id="led_fake",
            org_id=org_id,
            key_id=ORG_SCOPE,
            limit_micro_usd=limit,
            period="daily",
            period_start=period_start_for("daily", now, None),
            epoch=0,
            spent_micro_usd=self.spent.get(org_id, 0),
            reserved_micro_usd=self.held(org_id),
            updated_at=now,
        )

    async def create(
        self,
        *,
        org_id: str,
        key_id: str | None,
        amount_micro_usd: int,
        request_id: str,
        idempotency_key: str | None = None,
        ttl_seconds: int | None = None,
    ) -> Reservation:
        now = self.clock()
        body = ReservationCreate(
            org_id=org_id,
            key_id=key_id,
            amount_micro_usd=amount_micro_usd,
            request_id=request_id,
            # As the client does: a fresh key per call unless one is given.
            idempotency_key=idempotency_key or f"idk_{secrets.token_hex(16)}",
            ttl_seconds=ttl_seconds or DEFAULT_TTL_SECONDS,
        )
        path = "/v1/reservations"
        existing = next(
            (
                r
                for r in self.by_id.values()
                if (r.org_id, r.key_id, r.idempotency_key) == (org_id, key_id, body.idempotency_key)
            ),
            None,
        )
        if existing is not None:
            try:
                return store.check_replay(existing, body, now)
            except ServiceError as exc:
                _raise(exc, path=path, request_id=request_id)
        limit = self.limits.get(org_id, self.limit)
        if limit is not None:
            row = self._ledger(org_id, limit, now)
            if row.spent_micro_usd + row.reserved_micro_usd + amount_micro_usd > limit:
                _raise(budget_exceeded(row, amount_micro_usd), path=path, request_id=request_id)
        made = Reservation(
            id=f"res_{len(self.created) + 1}",
            org_id=org_id,
            key_id=key_id,
            amount_micro_usd=amount_micro_usd,
            caller_request_id=request_id,
            idempotency_key=body.idempotency_key,
            status="held",
            expires_at=now + timedelta(seconds=body.ttl_seconds),
            created_at=now,
        )
        self.by_id[made.id] = made
        self.created.append(
            {
                "id": made.id,
                "org_id": org_id,
                "key_id": key_id,
                "amount": amount_micro_usd,
                "request_id": request_id,
                "idempotency_key": body.idempotency_key,
                "ttl_seconds": ttl_seconds,
            }
        )
        return made

    def _get(self, reservation_id: str, path: str) -> Reservation:
        found = self.by_id.get(reservation_id)
        if found is None:
            _raise(reservation_not_found(reservation_id), path=path)
        return found

    def _set(self, r: Reservation, status: ReservationStatus, **extra: Any) -> Reservation:
        changed = r.model_copy(update={"status": status, **extra})
        self.by_id[r.id] = changed
        return changed

    async def commit(self, reservation_id: str, *, actual_micro_usd: int) -> Reservation:
        """Charge `actual` and end the hold; the same commit again changes nothing."""
        path = f"/v1/reservations/{reservation_id}/commit"
        r = self._get(reservation_id, path)
        if r.status == "committed" and r.actual_micro_usd == actual_micro_usd:
            return r
        if r.status in ("committed", "released"):
            _raise(
                conflict(
                    f"Reservation {reservation_id} is {r.status}; it cannot be committed "
                    f"with {actual_micro_usd}.",
                    reservation_id=reservation_id,
                    status=r.status,
                ),
                path=path,
            )
        self.spent[r.org_id] = self.spent.get(r.org_id, 0) + actual_micro_usd
        self.committed.append((reservation_id, actual_micro_usd))
        return self._set(r, "committed", actual_micro_usd=actual_micro_usd)

    async def release(self, reservation_id: str) -> Reservation:
        """End the hold without charging; releasing again changes nothing."""
        path = f"/v1/reservations/{reservation_id}/release"
        r = self._get(reservation_id, path)
        if r.status in ("released", "expired"):
            return r
        if r.status == "committed":
            _raise(
                conflict(
                    f"Reservation {reservation_id} is already committed; it cannot be released.",
                    reservation_id=reservation_id,
                    status=r.status,
                ),
                path=path,
            )
        self.released.append(reservation_id)
        return self._set(r, "released")


@dataclass
class FakeBudgets:
    """What a caller's `budgets` client is to it: `reservations` (a `FakeReservations`)."""

    reservations: FakeReservations = field(default_factory=FakeReservations)

    def reset(self) -> None:
        """Start over: no budgets, no spend, nothing recorded."""
        self.reservations = FakeReservations(clock=self.reservations.clock)


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
