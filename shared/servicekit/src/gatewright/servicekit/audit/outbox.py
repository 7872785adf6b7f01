"""The audit outbox: how a service RECORDS its audit events, in its own database.

Every state change and every denial is an audit event (PLATFORM.md §6), and an emitter must never
lose one when the audit service is briefly down. So a service never calls audit on its request
path; it writes the event into its own database (this module), and a background thread ships it
(`gatewright.servicekit.audit.delivery`).

`AuditOutbox(service, metadata)` defines the table `<service>_audit_outbox` in the service's own
`MetaData` (created by the service's `create_all`):

    seq (autoincrement PK) · event_id (unique, "evt_…") · payload (the `EventIn` as JSON)
    · created_at · delivered_at (null until audit took it) · attempts · last_error
    · parked_at (set when the event can never be delivered as it is; see below)

- `outbox.record(session, *, org_id, actor_type, actor_id, action, outcome, reason,
  target_type=None, target_id=None, details=None) -> event_id` inserts the event in the CALLER'S
  transaction: the state change and its event commit or roll back together. The event gets a
  fresh id, `time` = now (UTC), the service name and `request_id` =
  `servicekit.correlation.current_request_id()` (the request that caused it). The payload is
  validated as an `EventIn` right away, so a malformed event fails in the code that built it.
- `outbox.record_now(db, ...)` does the same in its own short transaction: for denials and
  failures, whose request transaction is rolled back (a denial is still audited). Call it after
  the request's transaction has ended (catch the denial outside the `with ... s.begin()` block):
  on SQLite a second writer waits for the first, so calling it inside would wait on itself.
- Never put secrets in `details` or `reason` (passwords, access tokens, invitation tokens, API-key
  secrets): the audit log is readable by org admins and kept forever.

Order. The deliverer ships pending rows in `seq` order, so what is promised is what `seq`
promises: an event committed before another one is recorded is always delivered first (the
events of a caller's successive requests keep their order, on every database), and the events
of one transaction keep theirs. Events of transactions that overlap may be shipped in either
order: `seq` is the commit order on SQLite (writers are serialized), but on PostgreSQL it is
taken at insert time, and the later insert may commit first. An event's `time` is stamped when
it is built and promises no order at all. A parked row (below) is the one exception: if it is
ever delivered, it is after the events behind it.

A row is in one of three states: pending (neither delivered nor parked: the deliverer sends it,
in `seq` order), delivered, or parked. The deliverer parks a row that audit refused for what it
holds, or whose stored payload no longer validates as an `EventIn` (an older build recorded it),
so that one bad event never blocks the events recorded after it. A parked row keeps its payload
and the reason in `last_error`; it is never retried automatically and never pruned. Operators see
them with `count_parked` / `parked`, and once the cause is fixed `unpark` makes them pending
again (they are then delivered after the events that went ahead of them).

The reading side (`pending`, `prune`, `events`, `count_pending`, `count_parked`, `parked`) is
what the deliverer, tests and operators use; the outbox owns its table, so every query on it
lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from gatewright.audit import MAX_BATCH, ActorType, EventIn, Outcome, new_event_id
from gatewright.servicekit.correlation import current_request_id
from gatewright.servicekit.db import Database

log = logging.getLogger("gatewright.servicekit.audit.outbox")

PRUNE_BATCH = 1000
LAST_ERROR_MAX = 1000  # characters of `last_error` kept
_PENDING_KEY = "gatewright.audit.pending"


def _now() -> datetime:
    return datetime.now(UTC)


class EventFields(TypedDict):
    """What a service says about an event (`AuditOutbox.build` adds id, time, service, request
    ID); the keyword arguments of `record` and `record_now`."""

    org_id: str | None
    actor_type: ActorType
    actor_id: str | None
    action: str
    outcome: Outcome
    reason: str
    target_type: NotRequired[str | None]
    target_id: NotRequired[str | None]
    details: NotRequired[dict[str, Any] | None]


def build_event(service: str, fields: EventFields, *, time: datetime | None = None) -> EventIn:
    """The `EventIn` a service says (validated), stamped with a new id, `time` (default now),
    `service` and the current request ID: what `record` stores, and what the audit service's own
    events are made of (it has no outbox)."""
    target_type = fields.get("target_type")
    target = None if target_type is None else {"type": target_type, "id": fields.get("target_id")}
    return EventIn.model_validate(
        {
            "id": new_event_id(),
            "time": time or _now(),
            "service": service,
            "org_id": fields["org_id"],
            "actor": {"type": fields["actor_type"], "id": fields["actor_id"]},
            "action": fields["action"],
            "target": target,
            "outcome": fields["outcome"],
            "reason": fields["reason"][:1000],
            "request_id": current_request_id(),
            "details": fields.get("details") or {},
        }
    )


class EventRecorder(Protocol):
    """Where `record_now` writes: an `AuditOutbox`, or the audit service's own log."""

    def record_now(self, db: Database, **fields: Unpack[EventFields]) -> str: ...


class AuditOutbox:
    """The `<service>_audit_outbox` table in the service's metadata, and how to write to it."""

    def __init__(self, service: str, metadata: MetaData) -> None:
        self.service = service
        name = f"{service}_audit_outbox"
        self.table = Table(
            name,
            metadata,
            Column(
                "seq",
                BigInteger().with_variant(Integer, "sqlite"),
                primary_key=True,
                autoincrement=True,
            ),
            Column("event_id", String(80), nullable=False, unique=True),
            Column("payload", JSON, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("delivered_at", DateTime(timezone=True)),
            Column("attempts", Integer, nullable=False, default=0),
            Column("last_error", Text),
            Column("parked_at", DateTime(timezone=True)),
            Index(f"ix_{name}_pending", "delivered_at", "parked_at", "seq"),
        )
        self._insert = self.table.insert()  # built once: recording is on request paths
        self._listeners: list[Callable[[], None]] = []

    # -- recording ---------------------------------------------------------------------------
    def build(self, **fields: Unpack[EventFields]) -> EventIn:
        """The event (validated), stamped with a new id, now, this service and the request ID."""
        return build_event(self.service, fields)

    def record(self, session: Session, **fields: Unpack[EventFields]) -> str:
        """Insert the event in the caller's transaction; returns its id."""
        evt = self.build(**fields)
        self._store(session, evt)
        if not session.info.get(_PENDING_KEY):
            session.info[_PENDING_KEY] = True
            event.listen(session, "after_commit", self._committed)
        return evt.id

    def _store(self, session: Session, evt: EventIn) -> None:
        row = {
            "event_id": evt.id,
            "payload": evt.model_dump(mode="json"),
            "created_at": evt.time,
            "attempts": 0,
        }
        session.execute(self._insert, row)

    def record_now(self, db: Database, **fields: Unpack[EventFields]) -> str:
        """Insert the event in a short transaction of its own (denials, completions)."""
        evt = self.build(**fields)
        with db.session() as s, s.begin():
            self._store(s, evt)
        # Told directly: a per-session commit listener costs more than the insert itself.
        self._committed(s)
        return evt.id

    # -- commit notification -----------------------------------------------------------------
    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every commit that recorded at least one event."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _committed(self, _session: Session) -> None:
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("audit commit listener failed")

    # -- reading (deliverer, tests) ----------------------------------------------------------
    def _is_pending(self) -> Any:
        t = self.table
        return and_(t.c.delivered_at.is_(None), t.c.parked_at.is_(None))

    def pending(self, s: Session, *, limit: int = MAX_BATCH) -> list[Any]:
        """Rows still to deliver (neither delivered nor parked), oldest first."""
        t = self.table
        return list(
            s.execute(
                select(t.c.seq, t.c.event_id, t.c.payload)
                .where(self._is_pending())
                .order_by(t.c.seq)
                .limit(limit)
            ).all()
        )

    def prune(self, s: Session, *, delivered_before: datetime, limit: int = PRUNE_BATCH) -> int:
        """Delete up to `limit` rows delivered before `delivered_before`; returns the count."""
        t = self.table
        oldest = (
            select(t.c.seq)
            .where(t.c.delivered_at.is_not(None), t.c.delivered_at < delivered_before)
            .order_by(t.c.seq)
            .limit(limit)
        )
        result = s.execute(delete(t).where(t.c.seq.in_(oldest.scalar_subquery())))
        return int(getattr(result, "rowcount", 0) or 0)

    def events(self, s: Session) -> list[dict[str, Any]]:
        """Every recorded payload in seq order (for tests and operators)."""
        rows = s.execute(select(self.table.c.payload).order_by(self.table.c.seq)).scalars()
        return [dict(p) for p in rows]

    def count_pending(self, s: Session) -> int:
        """How many rows are still to deliver (parked rows are not: nothing will send them)."""
        count = s.execute(select(func.count()).select_from(self.table).where(self._is_pending()))
        return int(count.scalar_one())

    def count_parked(self, s: Session) -> int:
        """How many rows are parked: events that need an operator (a metric worth alerting on)."""
        t = self.table
        count = s.execute(select(func.count()).select_from(t).where(t.c.parked_at.is_not(None)))
        return int(count.scalar_one())

    def parked(self, s: Session, *, limit: int = MAX_BATCH) -> list[Any]:
        """Parked rows, oldest first: `seq, event_id, parked_at, attempts, last_error` (why)."""
        t = self.table
        return list(
            s.execute(
                select(t.c.seq, t.c.event_id, t.c.parked_at, t.c.attempts, t.c.last_error)
                .where(t.c.parked_at.is_not(None))
                .order_by(t.c.seq)
                .limit(limit)
            ).all()
        )

    def park(self, s: Session, *, seq: int, reason: str, now: datetime) -> None:
        """Park one row with the reason (the deliverer's call; see the module doc)."""
        t = self.table
        s.execute(
            update(t)
            .where(t.c.seq == seq)
            .values(parked_at=now, attempts=t.c.attempts + 1, last_error=reason[:LAST_ERROR_MAX])
        )

    def unpark(self, s: Session, *, event_ids: Sequence[str]) -> int:
        """Make parked rows pending again (once their cause is fixed); returns how many."""
        t = self.table
        result = s.execute(
            update(t)
            .where(t.c.event_id.in_(list(event_ids)), t.c.parked_at.is_not(None))
            .values(parked_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)
