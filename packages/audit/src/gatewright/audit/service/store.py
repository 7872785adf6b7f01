"""Audit's tables (all prefixed `audit_`) and keyword-only data functions: the hash chains.

Functions take an open `Session`; writers run inside a transaction
(`with db.session() as s, s.begin():`) and never commit themselves, so raising (a
`ServiceError`) rolls the whole transaction back and stores nothing.

A chain is keyed by its org ID (`PLATFORM_CHAIN` for events with `org_id = None`) and has one
head row in `audit_chains` (`head_seq`, `head_hash`). Events are rows of `audit_events`, never
updated or deleted by the service.

Appending under concurrent ingest, on SQLite and PostgreSQL:

- **One writer per chain at a time.** An append locks its chain's head row first
  (`INSERT ... ON CONFLICT DO NOTHING`, then `SELECT ... FOR UPDATE` on PostgreSQL; SQLite
  transactions are `BEGIN IMMEDIATE` (servicekit), so all writers are serialized). The new event
  takes `seq = head_seq + 1` and `prev_hash = head_hash`, and the head moves in the same
  transaction, so seq is gap-free and unique. `UNIQUE (chain, seq)` is the backstop.
- **No deadlocks.** A batch locks all of its chains up front, in sorted order.
- **Idempotent on the event id.** After the lock (so a concurrent twin in the same chain has
  committed and is visible) the event id is looked up: identical content (the same hash at the
  stored seq and prev_hash) returns the stored event, unchanged; anything else is 409. The id is
  the primary key, so a twin racing into another chain fails the insert; the route re-reads and
  answers the same way.
- `details` is stored as its canonical JSON text (not JSONB, which would rewrite numbers and key
  order), so what is read back hashes exactly as what was stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gatewright.audit.models import (
    GENESIS_HASH,
    PLATFORM_CHAIN,
    ActorOut,
    ChainVerification,
    Event,
    EventIn,
    TargetOut,
    event_hash,
)
from gatewright.servicekit import ServiceError
from gatewright.servicekit.db import UTCDateTime

metadata = MetaData()


chains = Table(
    "audit_chains",
    metadata,
    Column("chain", String(100), primary_key=True),
    Column("head_seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
)

events = Table(
    "audit_events",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("chain", String(100), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("org_id", String(100)),
    Column("time", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("service", String(40), nullable=False),
    Column("actor_type", String(20), nullable=False),
    Column("actor_id", String(200)),
    Column("action", String(100), nullable=False),
    Column("target_type", String(100)),
    Column("target_id", String(200)),
    Column("outcome", String(10), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(200), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
    Index("ix_audit_events_request_id", "request_id"),
    Index("ix_audit_events_chain_action", "chain", "action"),
)


def chain_of(org_id: str | None) -> str:
    return PLATFORM_CHAIN if org_id is None else org_id


def _details_text(details: dict[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_event(row: Any) -> Event:
    m = row._mapping
    return Event(
        id=m["id"],
        seq=m["seq"],
        time=m["time"],
        received_at=m["received_at"],
        service=m["service"],
        org_id=m["org_id"],
        actor=ActorOut(type=m["actor_type"], id=m["actor_id"]),
        action=m["action"],
        target=None
        if m["target_type"] is None
        else TargetOut(type=m["target_type"], id=m["target_id"]),
        outcome=m["outcome"],
        reason=m["reason"],
        request_id=m["request_id"],
        details=json.loads(m["details"]),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
    )


def chained(body: EventIn, *, seq: int, prev_hash: str, received_at: datetime) -> Event:
    """`body` placed at `seq` after `prev_hash`, with its hash computed."""
    event = Event(
        **body.model_dump(exclude={"actor", "target"}),
        actor=ActorOut(**body.actor.model_dump()),
        target=None if body.target is None else TargetOut(**body.target.model_dump()),
        seq=seq,
        received_at=received_at,
        prev_hash=prev_hash,
        hash="",
    )
    event.hash = event_hash(event)
    return event


def _row(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "chain": chain_of(event.org_id),
        "seq": event.seq,
        "org_id": event.org_id,
        "time": event.time,
        "received_at": event.received_at,
        "service": event.service,
        "actor_type": event.actor.type,
        "actor_id": event.actor.id,
        "action": event.action,
        "target_type": None if event.target is None else event.target.type,
        "target_id": None if event.target is None else event.target.id,
        "outcome": event.outcome,
        "reason": event.reason,
        "request_id": event.request_id,
        "details": _details_text(event.details),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


# -- ingest ----------------------------------------------------------------------------------
def find(s: Session, *, event_id: str) -> Event | None:
    row = s.execute(select(events).where(events.c.id == event_id)).first()
    return None if row is None else to_event(row)


def check_replay(stored: Event, body: EventIn) -> Event:
    """The stored event if `body` is the same event again; 409 `conflict` otherwise."""
    again = chained(
        body, seq=stored.seq, prev_hash=stored.prev_hash, received_at=stored.received_at
    )
    if again.hash != stored.hash:
        raise ServiceError(
            409,
            "conflict",
            f"Event {body.id} was already recorded with different content; an event id can "
            "be used for one event only (send a new id for a new event).",
            details={"id": body.id, "stored_seq": stored.seq, "chain": chain_of(stored.org_id)},
        )
    return stored


@dataclass
class Head:
    seq: int
    hash: str


def lock_chains(s: Session, *, chain_keys: Sequence[str]) -> dict[str, Head]:
    """Create (if missing) and lock the chains' head rows, in sorted order."""
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    heads = {}
    for key in sorted(set(chain_keys)):
        s.execute(
            insert(chains)
            .values(chain=key, head_seq=0, head_hash=GENESIS_HASH)
            .on_conflict_do_nothing()
        )
        row = s.execute(select(chains).where(chains.c.chain == key).with_for_update()).one()
        heads[key] = Head(seq=row.head_seq, hash=row.head_hash)
    return heads


def append(s: Session, *, bodies: Sequence[EventIn], now: datetime) -> list[tuple[Event, bool]]:
    """Append the events in order (one transaction); returns (event, created) per body."""
    heads = lock_chains(s, chain_keys=[chain_of(b.org_id) for b in bodies])
    out: list[tuple[Event, bool]] = []
    new: dict[str, Event] = {}
    for body in bodies:
        stored = new.get(body.id) or find(s, event_id=body.id)
        if stored is not None:
            out.append((check_replay(stored, body), False))
            continue
        head = heads[chain_of(body.org_id)]
        event = chained(body, seq=head.seq + 1, prev_hash=head.hash, received_at=now)
        s.execute(events.insert().values(**_row(event)))
        head.seq, head.hash = event.seq, event.hash
        new[event.id] = event
        out.append((event, True))
    for key, head in heads.items():
        s.execute(
            update(chains)
            .where(chains.c.chain == key)
            .values(head_seq=head.seq, head_hash=head.hash)
        )
    return out


# -- queries ---------------------------------------------------------------------------------
def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The seq a cursor points after; 400 `invalid_cursor` for anything this service never made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not raw.isdigit() or len(raw) > 18 or encode_cursor(int(raw)) != cursor:
            raise ValueError(raw)
        return int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceError(
            400,
            "invalid_cursor",
            "The cursor is not one this service issued; pass next_cursor from a previous page "
            "unchanged, or omit it to start from the beginning.",
        ) from None


@dataclass(frozen=True)
class Filters:
    request_id: str | None = None
    action: str | None = None
    actor: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_events(
    s: Session, *, chain: str, filters: Filters, after_seq: int, limit: int
) -> tuple[list[Event], str | None]:
    """Up to `limit` events of the chain with seq > `after_seq`, and the next cursor."""
    conds = [events.c.chain == chain, events.c.seq > after_seq]
    if filters.request_id is not None:
        conds.append(events.c.request_id == filters.request_id)
    if filters.action is not None:
        conds.append(events.c.action == filters.action)
    if filters.actor is not None:
        conds.append(events.c.actor_id == filters.actor)
    if filters.outcome is not None:
        conds.append(events.c.outcome == filters.outcome)
    if filters.since is not None:
        conds.append(events.c.time >= filters.since)
    if filters.until is not None:
        conds.append(events.c.time <= filters.until)
    rows = s.execute(select(events).where(and_(*conds)).order_by(events.c.seq).limit(limit + 1))
    found = [to_event(r) for r in rows]
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].seq) if len(found) > limit else None
    return page, next_cursor


def by_request_ids(s: Session, *, request_ids: list[str], limit: int) -> list[Event]:
    q = (
        select(events)
        .where(events.c.request_id.in_(request_ids))
        .order_by(events.c.received_at, events.c.seq, events.c.chain)
        .limit(limit)
    )
    return [to_event(r) for r in s.execute(q)]


# -- verification ----------------------------------------------------------------------------
def _scan(s: Session, chain: str, batch: int) -> Iterator[Any]:
    after = 0
    while True:
        rows = s.execute(
            select(events)
            .where(events.c.chain == chain, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].seq


def verify(s: Session, *, chain: str, batch: int = 1000) -> ChainVerification:
    """Recompute every hash in seq order, checking prev_hash links, seq continuity and the head."""
    org_id = None if chain == PLATFORM_CHAIN else chain
    count = 0
    prev = GENESIS_HASH
    expected = 1

    def broken(seq: int, reason: str) -> ChainVerification:
        return ChainVerification(
            org_id=org_id, ok=False, count=count, first_broken_seq=seq, reason=reason
        )

    for row in _scan(s, chain, batch):
        count += 1
        where = f"event seq {row.seq} ({row.id})"
        if row.seq != expected:
            return broken(
                expected,
                f"event seq {expected} is missing: the next stored event is {where}",
            )
        try:
            event = to_event(row)
            actual = event_hash(event)
        except Exception as exc:  # a tampered row may not even parse
            return broken(row.seq, f"{where}: stored content cannot be read ({exc})")
        if actual != row.hash:
            return broken(row.seq, f"{where}: stored hash does not match its content")
        if row.prev_hash != prev:
            previous = "the genesis hash" if expected == 1 else f"event seq {expected - 1}"
            return broken(row.seq, f"{where}: prev_hash does not match the hash of {previous}")
        prev = row.hash
        expected += 1
    head = s.execute(select(chains).where(chains.c.chain == chain)).first()
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (head.head_seq, head.head_hash)
    if head_seq != count or head_hash != prev:
        return broken(
            count + 1 if head_seq > count else max(count, 1),
            f"the chain head records seq {head_seq}, but the stored events end at seq {count}"
            if head_seq != count
            else f"the chain head's hash does not match event seq {count}",
        )
    return ChainVerification(org_id=org_id, ok=True, count=count)


def reset(s: Session) -> None:
    """Delete every chain and event (test and contract setup only; the service never calls it)."""
    s.execute(events.delete())
    s.execute(chains.delete())
