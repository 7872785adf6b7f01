"""The short path and the general path agree: a stateful property test (decision 6).

`store.reserve` and `store.commit` try the short path (`store.fastpath`) first and fall back to
the general path; the short path restates the general path's rules in prebuilt statements, so
Hypothesis keeps the two equal ("A rule lives once"). One random sequence of operations is fed
to two SQLite databases: `fast` reserves and commits as production does, `general` only through
`store.reserve_general` / `store.commit_general`. The operations: reserve (org or key scope, new
or repeated idempotency keys, same or another amount), commit (actual <= amount, repeated or
not), release, expire (the clock moves past every TTL, then the sweep runs), period rollover
(the clock moves past a daily boundary, then the sweep runs), set and delete a budget.

After every step both sides must have answered alike (created / replayed / the same error status
and code, with the same figures for a 402), show the same spend (org and keys, as read through
`get_spend`) and the same reservations (matched by scope and idempotency key: status, amount,
actual, expiry), and no scope may hold spent + reserved above its limit other than where a
budget was lowered under what was already used or a late commit charged an expired hold (both
allowed by design: the money was already committed or spent).

The clock only moves in the two steps that then sweep, so no hold is ever due and unswept when
a reservation is made: when a due hold is expired lazily differs between the paths by design
(the short path expires only before a refusal), and the service tests cover lazy expiry.
Deterministic (`derandomize`) and bounded, so it runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy.orm import Session

from gatewright.budgets.models import Period, Reservation, ReservationCreate
from gatewright.budgets.service import store, testing
from gatewright.budgets.service.app import sweep_once
from gatewright.servicekit import Database, ServiceError

ORG = "org_paths"
T0 = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
SCOPES: tuple[str | None, ...] = (None, "key_a", "key_b")
MAX_TTL = 300

Reserve = Callable[..., tuple[Reservation, bool]]
Commit = Callable[..., Reservation]
Label = tuple[str | None, str]  # (key_id, idempotency_key): what one reservation is known by


def _error(exc: ServiceError) -> tuple[Any, ...]:
    """An error as both sides must agree on it: reservation IDs differ between databases."""
    details = {k: v for k, v in exc.details.items() if k != "reservation_id"}
    return ("error", exc.status_code, exc.code, sorted(details.items(), key=str))


class Side:
    """One database and the reserve/commit functions it is driven through."""

    def __init__(self, reserve: Reserve, commit: Commit) -> None:
        # In memory (one connection per thread, so one database per side): no disk in the loop.
        self.db = Database("sqlite://")
        self.db.create_all(store.metadata)
        self._reserve = reserve
        self._commit = commit
        self.ids: dict[Label, str] = {}

    def reset(self) -> None:
        """Empty the database for the next example (one engine for all: its statement cache)."""
        with self.db.session() as s, s.begin():
            testing.reset(s)
        self.ids.clear()

    def reserve(self, body: ReservationCreate, now: datetime) -> tuple[Any, ...]:
        # As the create route does: a `Replayed` from the short path rolls its holds back.
        try:
            with self.db.session() as s, s.begin():
                made, created = self._reserve(s, body=body, now=now)
        except store.Replayed as replay:
            made, created = replay.reservation, False
        except ServiceError as exc:
            return _error(exc)
        self.ids.setdefault((body.key_id, body.idempotency_key), made.id)
        return ("created" if created else "replayed", made.status, made.amount_micro_usd)

    def commit(self, label: Label, actual: int, now: datetime) -> tuple[Any, ...]:
        return self._settle(
            label,
            lambda s, rid: self._commit(s, reservation_id=rid, actual_micro_usd=actual, now=now),
        )

    def release(self, label: Label, now: datetime) -> tuple[Any, ...]:
        return self._settle(label, lambda s, rid: store.release(s, reservation_id=rid, now=now))

    def _settle(self, label: Label, op: Callable[[Session, str], Reservation]) -> tuple[Any, ...]:
        try:
            with self.db.session() as s, s.begin():
                done = op(s, self.ids[label])
        except ServiceError as exc:
            return _error(exc)
        return ("ok", done.status, done.actual_micro_usd)

    def set_budget(
        self, key_id: str | None, limit: int, period: Period, now: datetime
    ) -> dict[str, Any]:
        with self.db.session() as s, s.begin():
            budget = store.set_budget(
                s, org_id=ORG, key_id=key_id, limit_micro_usd=limit, period=period, now=now
            )
        return budget.model_dump()

    def delete_budget(self, key_id: str | None, now: datetime) -> None:
        with self.db.session() as s, s.begin():
            store.delete_budget(s, org_id=ORG, key_id=key_id, now=now)

    def sweep(self, now: datetime) -> int:
        return sweep_once(self.db, now=now, batch=1000)

    def spend(self, now: datetime) -> dict[str | None, tuple[Any, ...]]:
        """Every scope's figures as read now: {key_id or None: (spent, reserved, limit, ...)}."""
        with self.db.session() as s:
            spend = store.get_spend(s, org_id=ORG, now=now)
        rows: dict[str | None, tuple[Any, ...]] = {
            None: (
                spend.spent_micro_usd,
                spend.reserved_micro_usd,
                spend.limit_micro_usd,
                spend.period,
                spend.period_start,
            )
        }
        for k in spend.keys:
            rows[k.key_id] = (
                k.spent_micro_usd,
                k.reserved_micro_usd,
                k.limit_micro_usd,
                k.period,
                k.period_start,
            )
        return rows

    def reservations(self) -> dict[Label, tuple[Any, ...]]:
        with self.db.session() as s:
            listed = store.list_reservations(s, org_id=ORG, status=None, limit=10_000)
        return {
            (r.key_id, r.idempotency_key or ""): (
                r.status,
                r.amount_micro_usd,
                r.actual_micro_usd,
                r.expires_at,
            )
            for r in listed
        }


# Built once: a fresh engine per example would compile every statement again.
SIDES: dict[str, Side] = {}


def sides() -> tuple[Side, Side]:
    if not SIDES:
        SIDES["fast"] = Side(store.reserve, store.commit)
        SIDES["general"] = Side(store.reserve_general, store.commit_general)
    for side in SIDES.values():
        side.reset()
    return SIDES["fast"], SIDES["general"]


class PathsAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fast, self.general = sides()
        self.now = T0
        self.made: list[tuple[Label, int]] = []  # every created reservation and its amount
        self.serial = 0
        # Per scope, what spent + reserved may reach: the limit, or more where a lowered budget or
        # a late commit put it there (neither is a reservation; see the module doc).
        self.allowance: dict[str | None, int] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _usage(self) -> dict[str | None, int]:
        return {scope: row[0] + row[1] for scope, row in self.fast.spend(self.now).items()}

    def _pick(self, index: int) -> tuple[Label, int]:
        return self.made[index % len(self.made)]

    def _both(self, op: Callable[[Side], Any]) -> Any:
        fast, general = op(self.fast), op(self.general)
        assert fast == general, f"short path {fast!r} != general path {general!r}"
        return fast

    # -- rules -----------------------------------------------------------------------------
    @initialize(
        limit=st.integers(300, 2000),
        period=st.sampled_from(["daily", "monthly", "total"]),
        key_limit=st.none() | st.integers(200, 1500),
    )
    def budgets(self, limit: int, period: Period, key_limit: int | None) -> None:
        """Start with an org budget (and maybe one key's), so that refusals are common."""
        self.set_budget(None, limit, period)
        if key_limit is not None:
            self.set_budget("key_a", key_limit, "daily")

    @rule(
        key_id=st.sampled_from(SCOPES),
        amount=st.integers(1, 400),
        ttl=st.sampled_from([30, MAX_TTL]),
    )
    def reserve(self, key_id: str | None, amount: int, ttl: int) -> None:
        self.serial += 1
        self._reserve(key_id, f"idk-paths-{self.serial:05d}", amount, ttl)

    @precondition(lambda self: self.made)
    @rule(pick=st.integers(0, 10**6), same_amount=st.booleans(), amount=st.integers(1, 400))
    def reserve_again(self, pick: int, same_amount: bool, amount: int) -> None:
        """A create repeating an earlier idempotency key: replayed, settled or reused."""
        (key_id, idempotency_key), earlier = self._pick(pick)
        self._reserve(key_id, idempotency_key, earlier if same_amount else amount, MAX_TTL)

    def _reserve(self, key_id: str | None, idempotency_key: str, amount: int, ttl: int) -> None:
        body = ReservationCreate(
            org_id=ORG,
            key_id=key_id,
            amount_micro_usd=amount,
            request_id=f"req-{self.serial}",
            idempotency_key=idempotency_key,
            ttl_seconds=ttl,
        )
        outcome = self._both(lambda side: side.reserve(body, self.now))
        if outcome[0] == "created":
            self.made.append(((key_id, idempotency_key), amount))
            figures = self.fast.spend(self.now)
            for scope in {None, key_id}:
                spent, reserved, limit, *_ = figures[scope]
                if limit is not None:
                    assert spent + reserved <= limit, f"{scope}: {spent} + {reserved} > {limit}"
                    self.allowance[scope] = limit

    @precondition(lambda self: self.made)
    @rule(pick=st.integers(0, 10**6), percent=st.integers(0, 100))
    def commit(self, pick: int, percent: int) -> None:
        label, amount = self._pick(pick)
        late = self.fast.reservations()[label][0] == "expired"
        self._both(lambda side: side.commit(label, amount * percent // 100, self.now))
        if late:  # the money was spent: charged even though the hold is gone
            self._allow_what_is_used()

    @precondition(lambda self: self.made)
    @rule(pick=st.integers(0, 10**6))
    def release(self, pick: int) -> None:
        label, _ = self._pick(pick)
        self._both(lambda side: side.release(label, self.now))

    @rule(seconds=st.integers(MAX_TTL + 1, 4 * 3600))
    def expire(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self._both(lambda side: side.sweep(self.now))

    @rule()
    def approach_midnight(self) -> None:
        """A minute before the next daily boundary, so holds made now outlive the rollover."""
        self.now = max(self.now, self._next_midnight() - timedelta(seconds=60))
        self._both(lambda side: side.sweep(self.now))

    @rule(seconds=st.integers(0, 600))
    def roll_over(self, seconds: int) -> None:
        """Past the next daily boundary (a daily budget starts a new period)."""
        self.now = self._next_midnight() + timedelta(seconds=seconds)
        self._both(lambda side: side.sweep(self.now))

    def _next_midnight(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)

    @rule(
        key_id=st.sampled_from(SCOPES),
        limit=st.integers(0, 1500),
        period=st.sampled_from(["daily", "monthly", "total"]),
    )
    def set_budget(self, key_id: str | None, limit: int, period: Period) -> None:
        self._both(lambda side: side.set_budget(key_id, limit, period, self.now))
        self.allowance[key_id] = max(limit, self._usage()[key_id])

    @rule(key_id=st.sampled_from(SCOPES))
    def delete_budget(self, key_id: str | None) -> None:
        self._both(lambda side: side.delete_budget(key_id, self.now))
        self.allowance.pop(key_id, None)

    def _allow_what_is_used(self) -> None:
        for scope, used in self._usage().items():
            if scope in self.allowance:
                self.allowance[scope] = max(self.allowance[scope], used)

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def agree_and_within_limits(self) -> None:
        figures = self._both(lambda side: side.spend(self.now))
        self._both(lambda side: side.reservations())
        for scope, (spent, reserved, limit, *_) in figures.items():
            if limit is not None:
                allowed = self.allowance[scope]
                assert spent + reserved <= allowed, f"{scope}: {spent} + {reserved} > {allowed}"


PathsAgree.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_paths_agree = PathsAgree.TestCase


def test_a_hold_made_before_midnight_settles_alike_after_it() -> None:
    """The sequence random search rarely finds: a hold outliving a rollover, the new period's row
    rolled over by another reservation, then the old hold committed (the epoch guard of both
    paths' settle statements)."""
    machine = PathsAgree()
    steps: list[Callable[[], None]] = [
        lambda: machine.budgets(1000, "daily", 600),
        machine.approach_midnight,
        lambda: machine.reserve("key_a", 400, MAX_TTL),
        lambda: machine.reserve(None, 300, MAX_TTL),
        lambda: machine.roll_over(10),
        lambda: machine.reserve("key_a", 200, MAX_TTL),
        lambda: machine.commit(0, 100),
        lambda: machine.release(1),
        lambda: machine.reserve_again(2, True, 1),
    ]
    for step in steps:
        step()
        machine.agree_and_within_limits()
